// Kubernetes schemas as JSON Schema for ajv, with the API server's rules:
//
// - Unknown fields are errors. Driftless applies with server-side apply,
//   which refuses a field the schema does not declare ("field not declared
//   in schema") whatever fieldValidation says; only subtrees marked
//   x-kubernetes-preserve-unknown-fields (and untyped ones: RawExtension, an
//   object without properties) take anything.
// - null is no value: server-side apply treats `field: null` as unset, so
//   validation sees objects with their null mapping values removed.
// - int-or-string is a string or an int32; a Quantity is a number or a
//   string ParseQuantity accepts; byte is base64; date-time is RFC 3339
//   (MicroTime with exactly six fractional digits). These are decoding
//   errors on the server. An int32 field out of range is not: the server's
//   conversion wraps it, and only its own checks of the value may object.
// - `map` and `set` lists refuse duplicate keys (server-side apply does).
// - CRD schemas add what the apiextensions server validates: enum, pattern,
//   bounds, lengths, the formats it knows, embedded resources; a field with
//   a default is not missing (defaulting runs before validation).
//   x-kubernetes-validations (CEL) are not evaluated.
// - Where the server checks less than the schema says, quirks.ts has it.
//
// Driftless's own keywords: k8sIntOrString, k8sQuantity, k8sFormat, k8sList
// (duplicate keys) and k8sObjectMeta (embedded metadata, as ObjectMeta).

import { Ajv, type AnySchemaObject, type ErrorObject } from 'ajv';
import { isQuantity } from '../model/quantity.js';
import type { KubeSchema } from './openapi.js';
import {
  ENUM_EMPTY_IS_UNSET,
  ENUM_EMPTY_REJECTED,
  ENUM_NOT_ENFORCED,
  REQUIRED_NOT_ENFORCED,
} from './quirks.js';

/** Where in the data a keyword runs (ajv passes it; its type is not exported). */
interface DataValidationCxt {
  instancePath: string;
}

/** The id of the built-in definitions in an Ajv instance: `k8s#/definitions/<name>`. */
export const BUILTIN_ROOT = 'k8s';
export const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const TIME_DEFINITION = 'io.k8s.apimachinery.pkg.apis.meta.v1.Time';
const MICRO_TIME = 'io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime';
const RAW_EXTENSION = 'io.k8s.apimachinery.pkg.runtime.RawExtension';

export function builtinRef(definition: string): AnySchemaObject {
  return { $ref: `${BUILTIN_ROOT}#/definitions/${definition}` };
}

export interface ListRule {
  type: 'set' | 'map';
  keys?: string[];
  /** Defaults of key fields, used when an item omits one. */
  defaults?: Record<string, unknown>;
}

/** An Ajv with Driftless's keywords; `objectMeta` validates embedded metadata. */
export function newAjv(objectMeta?: (data: unknown, instancePath: string) => ErrorObject[]): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: false,
    validateSchema: false,
    verbose: true,
    addUsedSchema: false,
    unicodeRegExp: true,
  });
  ajv.addKeyword({
    keyword: 'k8sIntOrString',
    schemaType: 'string',
    validate: (mode: 'int32' | 'any', data: unknown) =>
      typeof data === 'string' ||
      (Number.isInteger(data) && (mode === 'any' || inRange(data as number, INT32))),
  });
  ajv.addKeyword({
    keyword: 'k8sQuantity',
    validate: (_: unknown, data: unknown) =>
      typeof data === 'number' || (typeof data === 'string' && isQuantity(data)),
  });
  ajv.addKeyword({
    keyword: 'k8sFormat',
    schemaType: 'string',
    validate: (format: string, data: unknown) => checkFormat(format, data),
  });
  const list = (rule: ListRule, data: unknown, _parent?: unknown, cxt?: DataValidationCxt) => {
    if (!Array.isArray(data)) return true;
    const errors = duplicates(rule, data).map(([index, first, key]) => ({
      keyword: 'k8sList',
      instancePath: `${cxt?.instancePath ?? ''}/${index}`,
      params: { first, key },
    }));
    list.errors = errors;
    return errors.length === 0;
  };
  list.errors = [] as Partial<ErrorObject>[];
  ajv.addKeyword({ keyword: 'k8sList', schemaType: 'object', errors: true, validate: list });
  const meta = (_: unknown, data: unknown, _parent?: unknown, cxt?: DataValidationCxt) => {
    meta.errors = objectMeta ? objectMeta(data, cxt?.instancePath ?? '') : [];
    return meta.errors.length === 0;
  };
  meta.errors = [] as Partial<ErrorObject>[];
  ajv.addKeyword({ keyword: 'k8sObjectMeta', errors: true, validate: meta });
  return ajv;
}

const INT32: [number, number] = [-(2 ** 31), 2 ** 31 - 1];

function inRange(n: number, [min, max]: [number, number]): boolean {
  return n >= min && n <= max;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// RFC 3339 with seconds and a zone: as Go's time.Parse(time.RFC3339) reads it
// for metav1.Time (T and Z upper case), and as the date-time format of CRDs
// reads it (either case).
const TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;
// metav1.MicroTime: Go's layout 2006-01-02T15:04:05.000000Z07:00, exactly six digits.
const MICRO_TIME_FORMAT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{6})(Z|[+-](\d{2}):(\d{2}))$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/**
 * Formats checked for built-in schemas (decoding) and for CRDs (the
 * apiextensions server's checkers; the others it knows, such as email or
 * hostname, are left to it: test/integration/validate-server.test.ts).
 */
export const BUILTIN_FORMATS = new Set(['byte']);
export const CRD_FORMATS = new Set(['byte', 'date', 'date-time', 'datetime', 'uuid']);

function checkFormat(format: string, data: unknown): boolean {
  if (typeof data !== 'string') return true;
  switch (format) {
    case 'byte':
      // Go's base64 decoder (built-in []byte fields) skips line breaks.
      return BASE64.test(data.replace(/[\r\n]/g, ''));
    case 'crd-byte':
      // The apiextensions server's byte format does not.
      return BASE64.test(data);
    case 'date-time':
    case 'datetime':
    case 'time':
    case 'micro-time': {
      const pattern =
        format === 'time' ? TIME : format === 'micro-time' ? MICRO_TIME_FORMAT : DATE_TIME;
      const m = pattern.exec(data);
      return (
        !!m &&
        isDate(m[1], m[2], m[3]) &&
        Number(m[4]) < 24 &&
        Number(m[5]) < 60 &&
        Number(m[6]) < 60 &&
        (m[9] === undefined || (Number(m[9]) < 24 && Number(m[10]) < 60))
      );
    }
    case 'date': {
      const m = DATE.exec(data);
      return !!m && isDate(m[1], m[2], m[3]);
    }
    case 'uuid':
      return UUID.test(data);
    default:
      return true;
  }
}

/** A calendar date: month 1-12, the day within the month (leap years included). */
function isDate(year?: string, month?: string, day?: string): boolean {
  const y = Number(year);
  const m = Number(month);
  const d = Number(day);
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** `[index, index of the first equal item, key text]` for each repeated item. */
function duplicates(rule: ListRule, items: unknown[]): [number, number, string][] {
  const seen = new Map<string, number>();
  const out: [number, number, string][] = [];
  items.forEach((item, i) => {
    let key: string;
    if (rule.type === 'map') {
      if (typeof item !== 'object' || item === null) return;
      const record = item as Record<string, unknown>;
      const parts = (rule.keys ?? []).map((k) => {
        const v = record[k] ?? rule.defaults?.[k];
        return `${k}=${JSON.stringify(v ?? null)}`;
      });
      key = parts.join(', ');
    } else {
      if (typeof item === 'object' && item !== null) return;
      key = JSON.stringify(item);
    }
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else out.push([i, first, key]);
  });
  return out;
}

/** The built-in definitions as one JSON Schema document, for `ajv.addSchema`. */
export function builtinRoot(definitions: Readonly<Record<string, KubeSchema>>): AnySchemaObject {
  const out: Record<string, AnySchemaObject> = {};
  for (const [name, schema] of Object.entries(definitions)) {
    if (name === QUANTITY) out[name] = { k8sQuantity: true };
    else if (name === TIME_DEFINITION) out[name] = { type: 'string', k8sFormat: 'time' };
    else if (name === MICRO_TIME) out[name] = { type: 'string', k8sFormat: 'micro-time' };
    else if (name === RAW_EXTENSION) out[name] = {};
    else out[name] = translateBuiltin(schema, definitions, name);
  }
  return { $id: BUILTIN_ROOT, definitions: out };
}

/** `definition` is set for a definition's root: its quirks apply to its own properties. */
function translateBuiltin(
  s: KubeSchema,
  definitions: Readonly<Record<string, KubeSchema>>,
  definition?: string,
): AnySchemaObject {
  if (s.$ref) return builtinRef(s.$ref);
  if (s['x-kubernetes-int-or-string'] || s.format === 'int-or-string') {
    return { k8sIntOrString: 'int32' };
  }
  const out: AnySchemaObject = {};
  if (s.type) out.type = s.type;
  if (s.format && BUILTIN_FORMATS.has(s.format)) out.k8sFormat = s.format;
  if (s.enum) out.enum = s.enum;
  const notEnforced = definition ? REQUIRED_NOT_ENFORCED[definition] : undefined;
  const required = s.required?.filter((r) => !notEnforced?.includes(r));
  if (required?.length) out.required = required;
  if (s.properties) {
    const emptyIsUnset = definition ? ENUM_EMPTY_IS_UNSET[definition] : undefined;
    const emptyRejected = definition ? ENUM_EMPTY_REJECTED[definition] : undefined;
    const enumNotEnforced = definition ? ENUM_NOT_ENFORCED[definition] : undefined;
    out.properties = Object.fromEntries(
      Object.entries(s.properties).map(([k, v]) => {
        const p = translateBuiltin(v, definitions);
        if (emptyIsUnset?.includes(k) && Array.isArray(p.enum)) p.enum = [...p.enum, ''];
        if (emptyRejected?.includes(k)) withoutEmptyEnum(p);
        if (enumNotEnforced?.includes(k)) delete p.enum;
        return [k, p];
      }),
    );
    if (!s['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  } else if (typeof s.additionalProperties === 'object') {
    out.additionalProperties = translateBuiltin(s.additionalProperties, definitions);
  }
  if (s.items) out.items = translateBuiltin(s.items, definitions);
  if (s.oneOf) out.oneOf = s.oneOf.map((o) => translateBuiltin(o, definitions));
  const listRule = listRuleOf(s, (ref) => definitions[ref]);
  if (listRule) out.k8sList = listRule;
  return out;
}

function withoutEmptyEnum(s: AnySchemaObject): void {
  const target = Array.isArray(s.enum) ? s : (s.items as AnySchemaObject | undefined);
  if (Array.isArray(target?.enum)) target.enum = target.enum.filter((v: unknown) => v !== '');
}

function listRuleOf(
  s: {
    'x-kubernetes-list-type'?: unknown;
    'x-kubernetes-list-map-keys'?: unknown;
    items?: unknown;
  },
  resolve: (ref: string) => KubeSchema | undefined,
): ListRule | undefined {
  const type = s['x-kubernetes-list-type'];
  if (type === 'set') return { type };
  if (type !== 'map' || !Array.isArray(s['x-kubernetes-list-map-keys'])) return undefined;
  const keys = s['x-kubernetes-list-map-keys'] as string[];
  const items = s.items as KubeSchema | undefined;
  const item = items?.$ref ? resolve(items.$ref) : items;
  const defaults: Record<string, unknown> = {};
  for (const key of keys) {
    const d = item?.properties?.[key]?.default;
    if (d !== undefined) defaults[key] = d;
  }
  return Object.keys(defaults).length ? { type, keys, defaults } : { type, keys };
}

/** Keywords of a CRD's structural schema that the apiextensions server validates. */
const CRD_VALUE_KEYWORDS = [
  'enum',
  'minimum',
  'maximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minProperties',
  'maxProperties',
] as const;

/**
 * A CRD version's openAPIV3Schema (structural, OpenAPI 3.0) as JSON Schema.
 * `junctor` is set under allOf/anyOf/oneOf/not, where a structural schema
 * only restricts values, so nothing is added there.
 */
export function translateCrd(value: unknown, junctor = false): AnySchemaObject {
  const s = isRecord(value) ? value : {};
  const out: AnySchemaObject = {};
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  if (s['x-kubernetes-int-or-string'] === true) {
    out.k8sIntOrString = 'any';
  } else if (typeof s.type === 'string') {
    out.type = s.nullable === true ? [s.type, 'null'] : s.type;
  }
  if (typeof s.format === 'string' && CRD_FORMATS.has(s.format) && s.type === 'string') {
    out.k8sFormat = s.format === 'byte' ? 'crd-byte' : s.format;
  }
  for (const k of CRD_VALUE_KEYWORDS) if (s[k] !== undefined) out[k] = s[k];
  // OpenAPI 3.0's boolean exclusive bounds are JSON Schema's numeric ones.
  if (s.exclusiveMinimum === true && typeof s.minimum === 'number') {
    delete out.minimum;
    out.exclusiveMinimum = s.minimum;
  }
  if (s.exclusiveMaximum === true && typeof s.maximum === 'number') {
    delete out.maximum;
    out.exclusiveMaximum = s.maximum;
  }
  if (typeof s.pattern === 'string' && compiles(s.pattern)) out.pattern = s.pattern;

  const properties = isRecord(s.properties) ? s.properties : undefined;
  if (properties) {
    out.properties = Object.fromEntries(
      Object.entries(properties).map(([k, v]) => [k, translateCrd(v, junctor)]),
    );
  }
  if (Array.isArray(s.required)) {
    // A field with a default is filled in before validation.
    const required = (s.required as unknown[]).filter(
      (r): r is string =>
        typeof r === 'string' &&
        !(isRecord(properties?.[r]) && properties[r].default !== undefined),
    );
    if (required.length) out.required = required;
  }
  if (!junctor) {
    if (isRecord(s.additionalProperties)) {
      out.additionalProperties = translateCrd(s.additionalProperties);
    } else if (s.additionalProperties === false || (properties && !preserve)) {
      out.additionalProperties = false;
    }
  }
  if (s.items !== undefined) out.items = translateCrd(s.items, junctor);
  for (const j of ['allOf', 'anyOf', 'oneOf'] as const) {
    const branches = s[j];
    if (!Array.isArray(branches)) continue;
    // int-or-string's `anyOf: [{type: integer}, {type: string}]` is k8sIntOrString already.
    const onlyTypes = branches.every(
      (b) => isRecord(b) && Object.keys(b).every((k) => k === 'type'),
    );
    if (out.k8sIntOrString && onlyTypes) continue;
    out[j] = branches.map((x) => translateCrd(x, true));
  }
  if (s.not !== undefined) out.not = translateCrd(s.not, true);
  if (s['x-kubernetes-embedded-resource'] === true) {
    out.required = [...new Set([...((out.required as string[]) ?? []), 'apiVersion', 'kind'])];
    const props = (out.properties ?? {}) as Record<string, AnySchemaObject>;
    props.apiVersion = { type: 'string', minLength: 1 };
    props.kind = { type: 'string', minLength: 1 };
    props.metadata = { k8sObjectMeta: true };
    out.properties = props;
  }
  const listRule = listRuleOf(s, () => undefined);
  if (listRule && !junctor) out.k8sList = listRule;
  return out;
}

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, 'u');
    return true;
  } catch {
    return false; // an RE2-only construct: left to the server
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
