// Reading one Argo CD or Flux object for `driftless import`: typed getters
// that name the file, line and field of a value of the wrong type, and a
// record of every field the converter looked at. What the converter never
// read is reported as not mapped, so a field nobody anticipated (a newer CRD
// version) is listed rather than silently lost.

import { DriftlessError } from '../../errors.js';
import { fieldPath } from '../application.js';
import type { YamlDocument } from '../yaml.js';

export type Path = readonly (string | number)[];

/** A field the import could not carry over, and why. */
export interface DroppedField {
  field: string;
  line: number;
  reason: string;
}

/** A field carried over with a difference in meaning worth knowing. */
export interface ImportNote {
  field: string;
  line: number;
  message: string;
}

/** What the report says about one input object. */
export interface ImportedObject {
  file: string;
  line: number;
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  /** `Kind/namespace/name`, as errors name objects. */
  object: string;
  /** The Driftless Application made from it, if any. */
  application?: string;
  /** Read by another object's conversion (a GitRepository by its Kustomization). */
  usedBy: string[];
  dropped: DroppedField[];
  notes: ImportNote[];
}

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function valueAt(root: unknown, path: Path): unknown {
  let node = root;
  for (const key of path) {
    if (typeof key === 'number') node = Array.isArray(node) ? node[key] : undefined;
    else node = isRecord(node) ? node[key] : undefined;
    if (node === undefined) return undefined;
  }
  return node;
}

function key(path: Path): string {
  return JSON.stringify(path);
}

/** One input object, its location and what has been read or reported of it. */
export class ObjectFields {
  readonly report: ImportedObject;
  private readonly visited = new Set<string>();

  constructor(
    readonly value: Json,
    private readonly doc: YamlDocument,
  ) {
    const meta = isRecord(value.metadata) ? value.metadata : {};
    const name = typeof meta.name === 'string' ? meta.name : '';
    const namespace = typeof meta.namespace === 'string' ? meta.namespace : undefined;
    const kind = typeof value.kind === 'string' ? value.kind : '';
    this.report = {
      file: doc.file,
      line: doc.line,
      apiVersion: typeof value.apiVersion === 'string' ? value.apiVersion : '',
      kind,
      name,
      ...(namespace ? { namespace } : {}),
      object: [kind || '?', namespace, name || '?'].filter(Boolean).join('/'),
      usedBy: [],
      dropped: [],
      notes: [],
    };
  }

  get name(): string {
    return this.report.name;
  }

  get namespace(): string | undefined {
    return this.report.namespace;
  }

  lineOf(path: Path): number {
    return this.doc.lineOf(path);
  }

  /** An error naming this object and the field: the input cannot be read. */
  invalid(path: Path, message: string): DriftlessError {
    return new DriftlessError('InvalidSpec', message, {
      file: this.doc.file,
      line: this.doc.lineOf(path),
      object: this.report.object,
      field: fieldPath(path),
    });
  }

  has(path: Path): boolean {
    return valueAt(this.value, path) !== undefined && valueAt(this.value, path) !== null;
  }

  /** The value at `path`, marking it (and all below it) as read. */
  get(path: Path): unknown {
    this.visited.add(key(path));
    const v = valueAt(this.value, path);
    return v === null ? undefined : v;
  }

  string(path: Path): string | undefined {
    const v = this.get(path);
    if (v === undefined) return undefined;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    if (typeof v !== 'string') throw this.invalid(path, `must be a string, got ${typeOf(v)}`);
    return v;
  }

  requiredString(path: Path): string {
    const v = this.string(path);
    if (v === undefined || v === '') throw this.invalid(path, 'is required');
    return v;
  }

  bool(path: Path): boolean | undefined {
    const v = this.get(path);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw this.invalid(path, `must be true or false, got ${typeOf(v)}`);
    return v;
  }

  number(path: Path): number | undefined {
    const v = this.get(path);
    if (v === undefined) return undefined;
    if (typeof v !== 'number') throw this.invalid(path, `must be a number, got ${typeOf(v)}`);
    return v;
  }

  /** The mapping at `path`, for reading its fields (it is not marked read itself). */
  record(path: Path): Json | undefined {
    const v = valueAt(this.value, path);
    if (v === undefined || v === null) return undefined;
    if (!isRecord(v)) throw this.invalid(path, `must be a mapping, got ${typeOf(v)}`);
    if (Object.keys(v).length === 0) this.visited.add(key(path));
    return v;
  }

  /** The length of the list at `path` (0 when absent); its items are read one by one. */
  length(path: Path): number {
    const v = valueAt(this.value, path);
    if (v === undefined || v === null) {
      this.visited.add(key(path));
      return 0;
    }
    if (!Array.isArray(v)) throw this.invalid(path, `must be a list, got ${typeOf(v)}`);
    if (v.length === 0) this.visited.add(key(path));
    return v.length;
  }

  /** The keys of the mapping at `path`, each read one by one. */
  keys(path: Path): string[] {
    const v = valueAt(this.value, path);
    if (v === undefined || v === null) return [];
    if (!isRecord(v)) throw this.invalid(path, `must be a mapping, got ${typeOf(v)}`);
    if (Object.keys(v).length === 0) this.visited.add(key(path));
    return Object.keys(v);
  }

  /** Marks a field as read without using it: runtime state, or meaningless here. */
  ignore(path: Path): void {
    this.visited.add(key(path));
  }

  /** Reports the field as not mapped when it is set to something other than `unless`. */
  drop(path: Path, reason: string, unless?: (v: unknown) => boolean): boolean {
    const v = this.get(path);
    if (isUnset(v) || unless?.(v)) return false;
    this.dropped(path, reason);
    return true;
  }

  /** Reports the field as not mapped, whatever it holds. */
  dropped(path: Path, reason: string): void {
    this.visited.add(key(path));
    this.report.dropped.push({
      field: fieldPath(path) ?? '',
      line: this.doc.lineOf(path),
      reason,
    });
  }

  note(path: Path, message: string): void {
    this.report.notes.push({ field: fieldPath(path) ?? '', line: this.doc.lineOf(path), message });
  }

  /**
   * Reports every field under `roots` that nothing read: the converter does
   * not know it, so it is not mapped.
   */
  reportUnread(roots: Path[], reason: string): void {
    const walk = (path: Path) => {
      if (this.visited.has(key(path))) return;
      const v = valueAt(this.value, path);
      if (v === undefined || v === null) return;
      const prefix = key(path).slice(0, -1);
      const below = [...this.visited].some((k) => k.startsWith(`${prefix},`));
      if (!below) {
        this.dropped(path, reason);
        return;
      }
      if (Array.isArray(v)) for (let i = 0; i < v.length; i++) walk([...path, i]);
      else if (isRecord(v)) for (const k of Object.keys(v)) walk([...path, k]);
    };
    for (const root of roots) walk(root);
  }
}

/** Absent, false, empty, or a mapping or list of nothing else: says nothing. */
function isUnset(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === '') return true;
  if (Array.isArray(v)) return v.every(isUnset);
  if (isRecord(v)) return Object.values(v).every(isUnset);
  return false;
}

function typeOf(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

const GO_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * A Go duration (`1m30s`, `300ms`, `1.5h`, what metav1.Duration and Argo CD
 * write) in milliseconds; undefined when it is not one. Argo CD's retry
 * backoff also takes a bare number of seconds: `bareSeconds`.
 */
export function parseGoDuration(text: string, bareSeconds = false): number | undefined {
  const t = text.trim();
  if (bareSeconds && /^\d+$/.test(t)) return Number(t) * 1_000;
  if (t === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total += Number(m[1]) * (GO_UNITS[m[2] as string] as number);
    consumed = re.lastIndex;
  }
  if (consumed !== t.length || t.length === 0) return undefined;
  return total;
}

/** Milliseconds as Driftless writes a duration: `1h30m`, `45s`, `250ms`. */
export function formatDuration(ms: number): string {
  const whole = Math.ceil(ms);
  if (whole === 0) return '0s';
  const parts: string[] = [];
  let rest = whole;
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  if (rest) parts.push(`${rest}ms`);
  return parts.join('');
}
