// Schema validation of rendered objects, offline or against a cluster's own
// schemas: each object is checked against its kind's OpenAPI schema (a
// built-in kind's from a SchemaSet, a custom resource's from its CRD, found
// in the same render, in files given, or in the cluster), and every problem
// becomes a finding naming the file, the line of the field, the object and
// the field (`spec.ports[0].port`), as a sync's errors do.
//
// What counts as a problem is what the API server rejects when Driftless
// applies (server-side apply), no more: see ajv.ts for the rules, quirks.ts
// for where a schema says more than the server enforces, and
// test/integration/validate-server.test.ts for the proof against a real
// server. One rule needs the object's kind: where status is a subresource,
// the main resource drops what a manifest sets under `status` after decoding
// it, so types and unknown fields there still fail, required fields and
// allowed values do not.

import type { ErrorObject, ValidateFunction } from 'ajv';
import { DriftlessError } from '../errors.js';
import { isCustomResourceDefinition } from '../model/kinds.js';
import { describeObject, groupOf, type KubeObject, versionOf } from '../model/object.js';
import { formatField } from '../source/manifests.js';
import { translateCrd } from './ajv.js';
import { CrdIndex, type CustomResourceVersion } from './crds.js';
import type { SchemaSet } from './schemas.js';

/** What validation needs of a manifest (lib/source's Manifest is one). */
export interface ValidatedManifest {
  object: KubeObject;
  file: string;
  /** 1-based line where the object starts. */
  line: number;
  /** 1-based line of a field; the object's line when absent. */
  lineOf?: (fieldPath: readonly (string | number)[]) => number;
}

export type FindingRule =
  /** A field the schema does not declare. */
  | 'unknown-field'
  /** A required field is missing. */
  | 'required'
  /** A value of the wrong type. */
  | 'type'
  /** A value outside the allowed ones. */
  | 'enum'
  /** A value of the right type in the wrong form (base64, date-time, quantity, int-or-string range). */
  | 'format'
  /** Two items of a map or set list with the same key. */
  | 'duplicate'
  /** Any other constraint of a CRD schema (pattern, bounds, lengths). */
  | 'value'
  /** No schema for the object's apiVersion and kind. */
  | 'unknown-kind'
  /** An alpha or beta API, which clusters serve only when enabled (a warning, shipped schemas only). */
  | 'prerelease-api';

export interface SchemaFinding {
  severity: 'error' | 'warning';
  rule: FindingRule;
  file: string;
  line: number;
  /** `Kind/namespace/name`, as errors name objects. */
  object: string;
  apiVersion: string;
  kind: string;
  /** `spec.ports[0].port`; undefined for the object as a whole. */
  field?: string;
  message: string;
}

export interface ValidateOptions {
  /**
   * More CRDs (e.g. from `--crds` files), after those of the manifests
   * themselves; only CustomResourceDefinitions are used.
   */
  crds?: readonly (KubeObject | ValidatedManifest)[];
  /**
   * What an object of a kind with no schema (neither built in nor defined by
   * a CRD) is. Default: a warning with shipped schemas (its CRD may be
   * installed separately), an error with a cluster's (the cluster would
   * refuse it). A kind missing from a built-in group is always an error.
   */
  unknownKinds?: 'warning' | 'error';
}

/**
 * Alpha and beta group-versions: the shipped bundle has them (the spec in the
 * Go module is generated with all of them on), a cluster serves them only if
 * enabled; in v1.34 none is on by default (the integration test checks it).
 */
const PRERELEASE = /^v\d+(alpha|beta)\d+$/;

/** Validates manifests against one SchemaSet and the CRDs it is given. */
export class SchemaValidator {
  /** By the CRD version's schema object: a later render's CRDs are other objects. */
  private readonly customResourceCache = new WeakMap<object, ValidateFunction>();
  private customResourceAjv: ReturnType<SchemaSet['newCustomResourceAjv']> | undefined;

  constructor(
    readonly schemas: SchemaSet,
    private readonly opts: ValidateOptions = {},
  ) {}

  /** Findings of all manifests, in their order; an empty list when all are valid. */
  validate(manifests: readonly ValidatedManifest[]): SchemaFinding[] {
    const index = new CrdIndex()
      .addAll(manifests.map((m) => m.object).filter(isCustomResourceDefinition))
      .addAll((this.opts.crds ?? []).map((c) => ('object' in c ? (c.object as KubeObject) : c)))
      .addAll(this.schemas.crds);
    return manifests.flatMap((m) => this.validateOne(m, index).sort((a, b) => a.line - b.line));
  }

  private validateOne(m: ValidatedManifest, index: CrdIndex): SchemaFinding[] {
    const { apiVersion, kind } = m.object;
    const base = {
      file: m.file,
      object: describeObject(m.object),
      apiVersion,
      kind,
    };
    const lineOf = (path: readonly (string | number)[]) => m.lineOf?.(path) ?? m.line;
    const data = withoutNulls(m.object) as KubeObject;

    const builtin = this.schemas.kind(apiVersion, kind);
    if (builtin) {
      const validate = this.schemas.validatorFor(apiVersion, kind) as ValidateFunction;
      validate(data);
      const findings: SchemaFinding[] = toFindings(validate.errors ?? [], data, {
        statusSubresource: builtin.statusSubresource,
      }).map(({ path, ...f }) => ({ ...base, ...f, line: lineOf(path), field: fieldOf(path) }));
      if (this.schemas.origin === 'shipped' && PRERELEASE.test(versionOf(apiVersion))) {
        findings.push({
          ...base,
          severity: 'warning',
          rule: 'prerelease-api',
          line: lineOf(['apiVersion']),
          field: 'apiVersion',
          message: `${apiVersion} is not served by default: Kubernetes ${this.schemas.kubernetesVersion} serves alpha and beta APIs only when the cluster enables them (--runtime-config)`,
        });
      }
      return findings;
    }

    const group = groupOf(apiVersion);
    const versions = index.versionsOf(group, kind);
    if (!versions) {
      const finding = this.unknownKind(apiVersion, kind);
      return [{ ...base, ...finding, line: lineOf([finding.field]) }];
    }
    const version = versions.find((v) => v.version === versionOf(apiVersion));
    if (!version?.served) {
      const served = versions.filter((v) => v.served).map((v) => `${group}/${v.version}`);
      return [
        {
          ...base,
          severity: 'error',
          rule: 'unknown-kind',
          line: lineOf(['apiVersion']),
          field: 'apiVersion',
          message:
            `CRD ${versions[0]?.crd} does not serve ${kind} in ${apiVersion}` +
            (served.length ? ` (served: ${served.join(', ')})` : ''),
        },
      ];
    }
    if (version.schema === undefined) return [];
    let validate: ValidateFunction;
    try {
      validate = this.customResourceValidator(version);
    } catch (e) {
      // A schema the API server would have refused in the CRD; the CRD's own finding says why.
      return [
        {
          ...base,
          severity: 'warning',
          rule: 'unknown-kind',
          line: m.line,
          message: `the schema of CRD ${version.crd} cannot be used (${(e as Error).message}); not validated`,
        },
      ];
    }
    validate(data);
    const errors = [
      ...(validate.errors ?? []),
      ...this.schemas.objectMetaErrors(data.metadata, '/metadata'),
    ];
    return toFindings(errors, data, {
      statusSubresource: version.statusSubresource,
    }).map(({ path, ...f }) => ({ ...base, ...f, line: lineOf(path), field: fieldOf(path) }));
  }

  private unknownKind(
    apiVersion: string,
    kind: string,
  ): Pick<SchemaFinding, 'severity' | 'rule' | 'message'> & { field: 'apiVersion' | 'kind' } {
    const group = groupOf(apiVersion);
    const where =
      this.schemas.origin === 'cluster'
        ? 'the cluster'
        : `Kubernetes ${this.schemas.kubernetesVersion}`;
    const servedBy = this.schemas.apiVersionsOf(kind);
    if (this.schemas.isBuiltinGroup(group) || servedBy.length) {
      const hint = servedBy.length
        ? ` (${kind} is served by ${servedBy.join(', ')})`
        : suggestion(kind, this.schemas.kindsOf(apiVersion));
      return {
        severity: 'error',
        rule: 'unknown-kind',
        field: servedBy.length ? 'apiVersion' : 'kind',
        message: `${where} does not serve kind ${kind} in ${apiVersion}${hint}`,
      };
    }
    const severity =
      this.opts.unknownKinds ?? (this.schemas.origin === 'cluster' ? 'error' : 'warning');
    return {
      severity,
      rule: 'unknown-kind',
      field: 'kind',
      message:
        this.schemas.origin === 'cluster'
          ? `the cluster does not serve kind ${kind} in ${apiVersion}, and no CRD in the render defines it`
          : `no schema for ${kind} in ${apiVersion}: not a kind of ${where}, and no CRD in the render or given (--crds) defines it; not validated`,
    };
  }

  private customResourceValidator(v: CustomResourceVersion): ValidateFunction {
    const key = typeof v.schema === 'object' && v.schema !== null ? v.schema : undefined;
    let validate = key && this.customResourceCache.get(key);
    if (!validate) {
      const schema = translateCrd(v.schema);
      // metadata is ObjectMeta (checked separately); apiVersion and kind are always declared.
      schema.properties = {
        ...((schema.properties as object | undefined) ?? {}),
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: {},
      };
      this.customResourceAjv ??= this.schemas.newCustomResourceAjv();
      validate = this.customResourceAjv.compile(schema);
      if (key) this.customResourceCache.set(key, validate);
    }
    return validate;
  }
}

/**
 * The error a sync reports for a revision with schema errors: the first one,
 * naming file, line, object and field, and how many more there are; undefined
 * when there are only warnings.
 */
export function schemaErrorOf(findings: readonly SchemaFinding[]): DriftlessError | undefined {
  const errors = findings.filter((f) => f.severity === 'error');
  const first = errors[0];
  if (!first) return undefined;
  const more = errors.length - 1;
  const error = findingError(first);
  return more
    ? new DriftlessError(
        error.reason,
        `${error.message} (and ${more} more schema error${more === 1 ? '' : 's'})`,
        error.location,
      )
    : error;
}

/** A finding as a DriftlessError (InvalidManifest), for `describe()` and JSON. */
export function findingError(f: SchemaFinding): DriftlessError {
  return new DriftlessError('InvalidManifest', f.message, {
    file: f.file,
    line: f.line,
    object: f.object,
    ...(f.field ? { field: f.field } : {}),
  });
}

/** `file:line: Kind/ns/name: field: message`, the form every Driftless error has. */
export function describeFinding(f: SchemaFinding): string {
  return findingError(f).describe();
}

interface RawFinding {
  severity: 'error';
  rule: FindingRule;
  path: (string | number)[];
  message: string;
}

/** Keywords checked when the server decodes (and server-side apply types) an object. */
const DECODING_KEYWORDS = new Set([
  'type',
  'additionalProperties',
  'k8sIntOrString',
  'k8sQuantity',
  'k8sFormat',
  'k8sList',
]);

function toFindings(
  errors: readonly ErrorObject[],
  data: unknown,
  kind: { statusSubresource: boolean },
): RawFinding[] {
  // anyOf/oneOf: one finding for the junctor, none for each failed branch.
  const junctors = errors
    .filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf')
    .map((e) => e.schemaPath);
  const out: RawFinding[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (junctors.some((j) => e.schemaPath.startsWith(`${j}/`))) continue;
    const { path, value } = locate(e.instancePath, data);
    if (kind.statusSubresource && path[0] === 'status' && !DECODING_KEYWORDS.has(e.keyword))
      continue;
    const finding = describeError(e, path, value);
    const key = `${finding.path.join('\0')}\0${finding.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(finding);
  }
  return out;
}

/** A finding of an ajv error at `path`, where the data has `value`. */
function describeError(e: ErrorObject, path: (string | number)[], value: unknown): RawFinding {
  const p = e.params as Record<string, unknown>;
  // Errors that came through a keyword (k8sObjectMeta) carry their own schema in params.
  const keywordSchema = 'keywordSchema' in p ? p.keywordSchema : e.schema;
  const at = (rule: FindingRule, message: string, fieldPath = path): RawFinding => ({
    severity: 'error',
    rule,
    path: fieldPath,
    message,
  });
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = String(p.additionalProperty);
      const known = Object.keys((e.parentSchema?.properties as object | undefined) ?? {});
      return at('unknown-field', `unknown field "${name}"${suggestion(name, known)}`, [
        ...path,
        name,
      ]);
    }
    case 'required':
      return at('required', 'required field is missing', [...path, String(p.missingProperty)]);
    case 'type':
      return at('type', `must be ${article(String(p.type))}, not ${describeValue(value)}`);
    case 'enum':
      return at(
        'enum',
        `${JSON.stringify(value)} is not one of ${(p.allowedValues as unknown[])
          .filter((v) => v !== '') // where "" is allowed, it means unset
          .map((v) => JSON.stringify(v))
          .join(', ')}`,
      );
    case 'k8sIntOrString':
      return at(
        'type',
        keywordSchema === 'int32' && Number.isInteger(value)
          ? `${value} is out of range for an int32`
          : `must be an integer or a string, not ${describeValue(value)}`,
      );
    case 'k8sQuantity':
      return typeof value === 'string'
        ? at('format', `${describeValue(value)} is not a quantity (e.g. 500m, 1.5, 2Gi, 1e3)`)
        : at('type', `must be a quantity (a string or a number), not ${describeValue(value)}`);
    case 'k8sFormat':
      return at('format', formatMessage(String(keywordSchema), value));
    case 'k8sList':
      return at(
        'duplicate',
        `duplicate entry (${p.key}): the same as item ${p.first}; server-side apply refuses duplicate keys`,
      );
    default:
      return at('value', `${describeValue(value)}: ${e.message ?? `fails ${e.keyword}`}`);
  }
}

function formatMessage(format: string, data: unknown): string {
  switch (format) {
    case 'byte':
    case 'crd-byte':
      return 'is not valid base64';
    case 'date-time':
    case 'datetime':
    case 'time':
      return `${describeValue(data)} is not an RFC 3339 date-time (e.g. 2024-01-02T15:04:05Z)`;
    case 'micro-time':
      return `${describeValue(data)} is not a date-time with microseconds (e.g. 2024-01-02T15:04:05.000000Z)`;
    default:
      return `${describeValue(data)} is not a valid ${format}`;
  }
}

/** `/spec/ports/0/port` → ['spec', 'ports', 0, 'port'] (indexes where the data is a list), and the value there. */
function locate(
  instancePath: string,
  data: unknown,
): { path: (string | number)[]; value: unknown } {
  const path: (string | number)[] = [];
  let node = data;
  if (!instancePath) return { path, value: node };
  for (const raw of instancePath.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      const i = Number(segment);
      path.push(i);
      node = node[i];
    } else {
      path.push(segment);
      node =
        typeof node === 'object' && node !== null
          ? (node as Record<string, unknown>)[segment]
          : undefined;
    }
  }
  return { path, value: node };
}

function fieldOf(path: (string | number)[]): string | undefined {
  return path.length ? formatField(path) : undefined;
}

function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = withoutNulls(v);
  return out;
}

function article(type: string): string {
  const name = type.replace(/,/g, ' or ');
  return /^[aeiou]/.test(name) ? `an ${name}` : `a ${name}`;
}

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object' && v !== null) return 'a mapping';
  const text = JSON.stringify(v) ?? String(v);
  const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return typeof v === 'string' ? `the string ${shown}` : `${typeof v} ${shown}`;
}

/** ` (did you mean "x"?)` for the closest known name within a few edits, else ''. */
function suggestion(name: string, known: readonly string[]): string {
  let best: string | undefined;
  // Short names are near everything: only a case difference counts for them.
  let bestDistance = name.length <= 3 ? 1 : name.length <= 6 ? 2 : 3;
  for (const k of known) {
    const d = k.toLowerCase() === name.toLowerCase() ? 0.5 : editDistance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best ? ` (did you mean "${best}"?)` : '';
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] as number) + 1,
        (cur[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] as number;
}
