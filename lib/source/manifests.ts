// Turns an app's path in a checkout into Kubernetes objects: every .yaml,
// .yml and .json file under it (recursively, hidden files and directories
// skipped, in byte order of their path), multi-document, `kind: List`
// expanded. Everything is read, parsed and validated before anything is
// returned: one bad file fails the whole load, so a half-read app can never
// be applied (or, worse, have its missing half pruned).
//
// Paths are confined to the checkout: appPath may not be absolute or contain
// `..`, and symlinks (of files or directories) are followed only while their
// real path stays inside the checkout. Each real directory is read once, so a
// link to an ancestor cannot loop.

import type { Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { DriftlessError, type ErrorLocation } from '../errors.js';
import { DNS_LABEL } from '../model/common.js';
import type { Manifest } from '../model/manifest.js';
import { describeObject, type KubeObject, objectKey } from '../model/object.js';
import { DEFAULT_MAX_ALIAS_COUNT, parseYamlDocuments, type YamlDocument } from '../model/yaml.js';
import { checkoutRoot, confinedSegments, realPathInside } from './paths.js';

export type { Manifest };

export interface LoadManifestsOptions {
  /** Namespace for namespaced objects that set none (the app's destination namespace). */
  defaultNamespace?: string;
  /**
   * The scope of a kind (from API discovery): true for namespaced, false for
   * cluster-scoped, undefined when unknown. Namespaced objects without a
   * namespace get defaultNamespace; cluster-scoped objects lose a namespace
   * they set (the API server ignores it, and keeping it would give one object
   * two identities). Unknown ones are left as they are.
   */
  isNamespaced?: (apiVersion: string, kind: string) => boolean | undefined;
  /** Default 5 MiB. */
  maxFileBytes?: number;
  /** All files together. Default 50 MiB. */
  maxTotalBytes?: number;
  /** Manifest files. Default 10,000. */
  maxFiles?: number;
  /** Objects, after List expansion. Default 10,000. */
  maxObjects?: number;
  /** YAML alias expansions per document. Default DEFAULT_MAX_ALIAS_COUNT (100). */
  maxAliasCount?: number;
}

const MiB = 1024 * 1024;

/** What loadManifests accepts unless told otherwise. */
export const DEFAULT_MANIFEST_LIMITS = {
  maxFileBytes: 5 * MiB,
  maxTotalBytes: 50 * MiB,
  maxFiles: 10_000,
  maxObjects: 10_000,
  maxAliasCount: DEFAULT_MAX_ALIAS_COUNT,
} as const;
const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
const DNS_LABEL_PART = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const API_VERSION = new RegExp(`^(${DNS_LABEL_PART}(\\.${DNS_LABEL_PART})*/)?${DNS_LABEL_PART}$`);
const KIND = /^[A-Za-z][A-Za-z0-9]*$/;

function limitsOf(opts: LoadManifestsOptions) {
  return {
    maxFileBytes: opts.maxFileBytes ?? DEFAULT_MANIFEST_LIMITS.maxFileBytes,
    maxTotalBytes: opts.maxTotalBytes ?? DEFAULT_MANIFEST_LIMITS.maxTotalBytes,
    maxFiles: opts.maxFiles ?? DEFAULT_MANIFEST_LIMITS.maxFiles,
    maxObjects: opts.maxObjects ?? DEFAULT_MANIFEST_LIMITS.maxObjects,
    maxAliasCount: opts.maxAliasCount ?? DEFAULT_MANIFEST_LIMITS.maxAliasCount,
  };
}

export async function loadManifests(
  checkoutDir: string,
  appPath: string,
  opts: LoadManifestsOptions = {},
): Promise<Manifest[]> {
  const limits = limitsOf(opts);
  const files = await discoverFiles(checkoutDir, appPath, limits.maxFiles);

  const collector = new ManifestCollector(opts, limits.maxObjects, appPath);
  let totalBytes = 0;
  for (const { rel, real, stats } of files) {
    if (stats.size > limits.maxFileBytes) {
      throw new DriftlessError(
        'InvalidManifest',
        `file is ${formatBytes(stats.size)}, more than the limit of ${formatBytes(limits.maxFileBytes)}`,
        { file: rel },
      );
    }
    totalBytes += stats.size;
    if (totalBytes > limits.maxTotalBytes) {
      throw new DriftlessError(
        'InvalidManifest',
        `manifests under "${appPath}" exceed the limit of ${formatBytes(limits.maxTotalBytes)} in total`,
        { file: rel },
      );
    }
    const text = decodeUtf8(await readFile(real), rel);
    const docs =
      path.extname(rel).toLowerCase() === '.json'
        ? parseJsonDocument(text, rel, limits.maxAliasCount)
        : parseYamlDocuments(text, rel, { maxAliasCount: limits.maxAliasCount });
    collector.add(docs);
  }
  return collector.manifests;
}

/** Multi-document YAML produced by a tool (kustomize, helm), and the file it is reported as. */
export interface RenderedText {
  /** Checkout-relative path errors name: the kustomization, or the Helm template. */
  file: string;
  text: string;
}

/**
 * Rendered output turned into manifests exactly as files are: the same
 * parser, alias bound, validation, List expansion, scope defaulting,
 * duplicate check and object limit. Lines count in the rendered text.
 * `where` names the source in limit errors (the app path).
 */
export function manifestsFromRendered(
  texts: readonly RenderedText[],
  where: string,
  opts: LoadManifestsOptions = {},
): Manifest[] {
  const limits = limitsOf(opts);
  const collector = new ManifestCollector(opts, limits.maxObjects, where);
  for (const { file, text } of texts) {
    collector.add(parseYamlDocuments(text, file, { maxAliasCount: limits.maxAliasCount }));
  }
  return collector.manifests;
}

/** Validated objects of parsed documents, in order, refusing duplicates and too many. */
class ManifestCollector {
  readonly manifests: Manifest[] = [];
  private readonly byKey = new Map<string, Manifest>();

  constructor(
    private readonly opts: LoadManifestsOptions,
    private readonly maxObjects: number,
    private readonly where: string,
  ) {}

  add(docs: readonly YamlDocument[]): void {
    for (const doc of docs) {
      const file = doc.file;
      for (const { object, line, at } of objectsOf(doc)) {
        applyScope(object, this.opts);
        const manifest: Manifest = {
          object,
          file,
          line,
          documentIndex: doc.index,
          lineOf: (fieldPath) => doc.lineOf([...at, ...fieldPath]),
        };
        const key = objectKey(object);
        const previous = this.byKey.get(key);
        if (previous) {
          const what = describeObject(object);
          throw new DriftlessError(
            'DuplicateObject',
            `${what} is declared twice: at ${previous.file}:${previous.line} and at ${file}:${line}`,
            { file, line, object: what },
          );
        }
        this.byKey.set(key, manifest);
        this.manifests.push(manifest);
        if (this.manifests.length > this.maxObjects) {
          throw new DriftlessError(
            'InvalidManifest',
            `more than ${this.maxObjects} objects under "${this.where}"`,
            { file, line },
          );
        }
      }
    }
  }
}

interface ManifestFile {
  /** Relative to the checkout, through any symlinks, `/`-separated. */
  rel: string;
  /** Real path (symlinks resolved), inside the checkout. */
  real: string;
  stats: Stats;
}

async function discoverFiles(
  checkoutDir: string,
  appPath: string,
  maxFiles: number,
): Promise<ManifestFile[]> {
  const segments = confinedSegments(appPath);
  const root = await checkoutRoot(checkoutDir);
  const shownAppPath = segments.join('/') || '.';

  /** Real path of a checkout-relative path, refusing escapes; undefined if it does not exist. */
  const resolveInside = (rel: string): Promise<string | undefined> =>
    realPathInside(root, path.join(root, ...rel.split('/')), rel);

  const start = await resolveInside(segments.join('/'));
  if (start === undefined) {
    throw new DriftlessError(
      'InvalidSpec',
      `path "${shownAppPath}" does not exist in the revision`,
      {
        file: shownAppPath,
        field: 'source.path',
      },
    );
  }
  const startStats = await stat(start);
  const found: ManifestFile[] = [];
  if (startStats.isFile()) {
    if (!MANIFEST_EXTENSIONS.has(path.extname(start).toLowerCase())) {
      throw new DriftlessError('InvalidManifest', 'not a .yaml, .yml or .json file', {
        file: shownAppPath,
      });
    }
    return [{ rel: shownAppPath, real: start, stats: startStats }];
  }
  if (!startStats.isDirectory()) {
    throw new DriftlessError('InvalidSpec', `path "${shownAppPath}" is not a file or directory`, {
      file: shownAppPath,
      field: 'source.path',
    });
  }

  const visited = new Set<string>();
  const walk = async (realDir: string, relDir: string): Promise<void> => {
    if (visited.has(realDir)) return;
    visited.add(realDir);
    const entries = (await readdir(realDir, { withFileTypes: true }))
      .filter((entry) => !entry.name.startsWith('.'))
      .sort((a, b) => compareBytes(a.name, b.name));
    for (const entry of entries) {
      const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
      const isManifestName = MANIFEST_EXTENSIONS.has(path.extname(entry.name).toLowerCase());
      let real = path.join(realDir, entry.name);
      let stats: Stats;
      if (entry.isSymbolicLink()) {
        const target = await resolveInside(rel);
        if (target === undefined) {
          // A dangling link is nothing to load, unless it names a manifest:
          // skipping that would silently drop (and prune) its objects.
          if (!isManifestName) continue;
          throw new DriftlessError('InvalidManifest', 'symlink target does not exist', {
            file: rel,
          });
        }
        real = target;
        stats = await stat(real);
      } else if (entry.isDirectory() || entry.isFile()) {
        stats = await stat(real);
      } else {
        continue; // sockets, fifos, devices
      }
      if (stats.isDirectory()) {
        await walk(real, rel);
      } else if (stats.isFile() && isManifestName) {
        found.push({ rel, real, stats });
        if (found.length > maxFiles) {
          throw new DriftlessError(
            'InvalidManifest',
            `more than ${maxFiles} manifest files under "${shownAppPath}"`,
            { file: rel },
          );
        }
      }
    }
  };
  await walk(start, segments.join('/'));
  return found.sort((a, b) => compareBytes(a.rel, b.rel));
}

function parseJsonDocument(text: string, file: string, maxAliasCount: number): YamlDocument[] {
  if (text.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    const position = /position (\d+)/.exec(message);
    const line = position ? lineAtOffset(text, Number(position[1])) : 1;
    throw new DriftlessError(
      'InvalidManifest',
      `invalid JSON: ${message.replace(/ in JSON at position \d+.*$/, '').replace(/^JSON\.parse: /, '')}`,
      { file, line },
    );
  }
  // JSON is YAML: parsed again for the line of every field. Duplicate keys,
  // which JSON.parse silently resolves, fail here as they do in YAML files.
  try {
    const docs = parseYamlDocuments(text, file, { maxAliasCount });
    if (docs.length === 1 && docs[0]) return [{ ...docs[0], value }];
  } catch (e) {
    if (e instanceof DriftlessError && /duplicate key/i.test(e.message)) throw e;
  }
  return [{ value, file, line: 1, index: 1, lineOf: () => 1, sourceOf: () => undefined }];
}

/** The objects of one document: itself, or the items of a v1 List. */
function objectsOf(
  doc: YamlDocument,
): { object: KubeObject; line: number; at: (string | number)[] }[] {
  const value = doc.value;
  if (value === null) return []; // an empty document
  if (!isMapping(value)) {
    throw new DriftlessError(
      'InvalidManifest',
      `document ${doc.index} is not a Kubernetes object (a mapping with apiVersion, kind and metadata)`,
      { file: doc.file, line: doc.line },
    );
  }
  if (value.kind === 'List' && value.apiVersion === 'v1') {
    const items = value.items;
    if (items === undefined || items === null) return [];
    if (!Array.isArray(items)) {
      throw new DriftlessError('InvalidManifest', 'items must be a list', {
        file: doc.file,
        line: doc.lineOf(['items']),
        field: 'items',
      });
    }
    return items.map((item, i) => {
      const at = ['items', i];
      if (isMapping(item) && item.kind === 'List') {
        throw new DriftlessError('InvalidManifest', 'a List inside a List is not supported', {
          file: doc.file,
          line: doc.lineOf(at),
          field: `items[${i}]`,
        });
      }
      return { object: validateObject(item, doc, at), line: doc.lineOf(at), at };
    });
  }
  return [{ object: validateObject(value, doc, []), line: doc.line, at: [] }];
}

/** Checks the fields Driftless relies on; the API server validates the rest. */
function validateObject(value: unknown, doc: YamlDocument, at: (string | number)[]): KubeObject {
  const prefix = at.length ? `items[${at[1]}].` : '';
  let object: string | undefined;
  const invalid = (message: string, fieldPath: (string | number)[]) => {
    const location: ErrorLocation = {
      file: doc.file,
      line: doc.lineOf([...at, ...fieldPath]),
    };
    if (object) location.object = object;
    if (fieldPath.length) location.field = prefix + formatField(fieldPath);
    return new DriftlessError('InvalidManifest', `${prefix}${message}`, location);
  };
  if (!isMapping(value)) {
    throw invalid('is not a Kubernetes object (a mapping with apiVersion, kind and metadata)', []);
  }

  const { apiVersion, kind, metadata } = value;
  if (apiVersion === undefined || apiVersion === null) {
    throw invalid('apiVersion is required', ['apiVersion']);
  }
  if (typeof apiVersion !== 'string') throw invalid('apiVersion must be a string', ['apiVersion']);
  if (!API_VERSION.test(apiVersion)) {
    throw invalid(
      `apiVersion "${apiVersion}" is not valid (expected <group>/<version> or <version>)`,
      ['apiVersion'],
    );
  }
  if (kind === undefined || kind === null) throw invalid('kind is required', ['kind']);
  if (typeof kind !== 'string') throw invalid('kind must be a string', ['kind']);
  if (!KIND.test(kind)) throw invalid(`kind "${kind}" is not valid`, ['kind']);
  if (metadata === undefined || metadata === null) {
    throw invalid('metadata is required', ['metadata']);
  }
  if (!isMapping(metadata)) throw invalid('metadata must be a mapping', ['metadata']);

  const { namespace, generateName } = metadata;
  let { name } = metadata;
  // A hook may have only generateName: it is named per operation when it runs
  // (lib/apply/hooks.ts); the plan refuses generateName on anything else.
  const generated = (name === undefined || name === null || name === '') && !!generateName;
  if (generated) {
    if (typeof generateName !== 'string')
      throw invalid('metadata.generateName must be a string', ['metadata', 'generateName']);
    name = generateName;
  }
  if (name === undefined || name === null || name === '') {
    throw invalid('metadata.name is required', ['metadata', 'name']);
  }
  if (typeof name !== 'string')
    throw invalid('metadata.name must be a string', ['metadata', 'name']);
  object = `${kind}/${name}`;
  if (name.length > 253 || name === '.' || name === '..' || /[/%]/.test(name)) {
    const field = generated ? 'generateName' : 'name';
    throw invalid(
      `metadata.${field} "${name}" is not valid (at most 253 characters, no "/" or "%")`,
      ['metadata', field],
    );
  }
  if (namespace === '') {
    delete metadata.namespace; // "" means unset to the API server too
  } else if (namespace !== undefined) {
    if (typeof namespace !== 'string') {
      throw invalid('metadata.namespace must be a string', ['metadata', 'namespace']);
    }
    object = `${kind}/${namespace}/${name}`;
    if (namespace.length > 63 || !DNS_LABEL.test(namespace)) {
      throw invalid(
        `metadata.namespace "${namespace}" is not a valid DNS label (lowercase letters, digits and -, at most 63)`,
        ['metadata', 'namespace'],
      );
    }
  }
  for (const field of ['labels', 'annotations'] as const) {
    const map = metadata[field];
    if (map === undefined) continue;
    if (map === null) {
      delete metadata[field]; // `labels:` with nothing under it
      continue;
    }
    if (!isMapping(map)) {
      throw invalid(`metadata.${field} must be a mapping of strings`, ['metadata', field]);
    }
    for (const [key, v] of Object.entries(map)) {
      if (typeof v !== 'string') {
        const written = doc.sourceOf([...at, 'metadata', field, key]) ?? String(v);
        const hint = v === null || typeof v === 'object' ? '' : ` (quote it: "${written}")`;
        throw invalid(`metadata.${field}${formatKey(key)} must be a string${hint}`, [
          'metadata',
          field,
          key,
        ]);
      }
    }
  }
  return value as KubeObject;
}

function applyScope(object: KubeObject, opts: LoadManifestsOptions): void {
  const namespaced = opts.isNamespaced?.(object.apiVersion, object.kind);
  if (namespaced === true && !object.metadata.namespace && opts.defaultNamespace) {
    object.metadata.namespace = opts.defaultNamespace;
  } else if (namespaced === false && object.metadata.namespace !== undefined) {
    delete object.metadata.namespace;
  }
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `metadata.labels["app.kubernetes.io/name"]`: keys with dots or slashes quoted. */
export function formatField(fieldPath: (string | number)[]): string {
  return fieldPath
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : formatKey(p)))
    .join('');
}

function formatKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new DriftlessError('InvalidManifest', 'file is not valid UTF-8', { file });
  }
}

function lineAtOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function formatBytes(n: number): string {
  if (n >= MiB) return `${(n / MiB).toFixed(n % MiB ? 1 : 0)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(n % 1024 ? 1 : 0)} KiB`;
  return `${n} bytes`;
}
