// Single-change mutations of a valid object, guided by its schema, for
// checking the validator against a real API server: for every field the
// object has, remove it where the schema requires it, give it a value of
// another type, a value outside its enum, a duplicate list key, or an
// unknown sibling. Mutations of the same schema location (a definition's
// property, wherever it occurs) are made once.

import type { KubeObject } from '../../lib/model/object.js';
import type { KubeSchema } from '../../lib/validate/openapi.js';

export type MutationKind =
  | 'unknown-field'
  | 'remove-required'
  | 'enum'
  | 'empty-enum'
  | 'type'
  | 'fraction'
  | 'int32-range'
  | 'duplicate';

export interface Mutation {
  kind: MutationKind;
  /** Where in the schema: `io.k8s.api.core.v1.ServicePort.port`, or a CRD's path. */
  location: string;
  /** Where in the object, e.g. `spec.ports[0].port`. */
  field: string;
  object: KubeObject;
}

/** A schema as both built-in definitions and CRD schemas have it (CRDs use no $ref). */
type AnySchema = KubeSchema & { anyOf?: unknown; 'x-kubernetes-int-or-string'?: boolean };

const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
const IDENTITY = new Set(['apiVersion', 'kind', 'metadata.name', 'metadata.namespace']);

/**
 * Mutations of `object`, whose schema is `root` (a definition name, resolved
 * in `definitions`, or a CRD's openAPIV3Schema). `seen` dedupes across objects.
 */
export function mutationsOf(
  object: KubeObject,
  root: string | AnySchema,
  definitions: Readonly<Record<string, KubeSchema>>,
  seen: Set<string>,
): Mutation[] {
  const out: Mutation[] = [];
  const add = (
    kind: MutationKind,
    location: string,
    path: (string | number)[],
    change: (o: KubeObject) => void,
  ) => {
    const key = `${kind}\0${location}`;
    if (seen.has(key)) return;
    seen.add(key);
    const copy = structuredClone(object);
    change(copy);
    out.push({ kind, location, field: fieldText(path), object: copy });
  };

  const walk = (
    value: unknown,
    schemaIn: AnySchema | string,
    location: string,
    path: (string | number)[],
  ) => {
    let schema: AnySchema;
    let loc = location;
    if (typeof schemaIn === 'string') {
      loc = schemaIn;
      schema = definitions[schemaIn] as AnySchema;
    } else if (schemaIn.$ref) {
      loc = schemaIn.$ref;
      schema = definitions[schemaIn.$ref] as AnySchema;
    } else {
      schema = schemaIn;
    }
    if (!schema) return;
    const fieldPath = fieldText(path);
    const mutable = !IDENTITY.has(fieldPath);
    const intOrString = loc === INT_OR_STRING || schema['x-kubernetes-int-or-string'] === true;
    const quantity = loc === QUANTITY;

    if (mutable && path.length && fieldPath !== 'metadata') {
      if (intOrString) {
        add('type', loc, path, (o) => set(o, path, true));
        add('int32-range', loc, path, (o) => set(o, path, 2 ** 31));
      } else if (quantity) add('type', loc, path, (o) => set(o, path, '1 gigabyte'));
      else if (schema.type === 'string') add('type', loc, path, (o) => set(o, path, 12345));
      else if (schema.type === 'integer' || schema.type === 'number') {
        add('type', loc, path, (o) => set(o, path, '12x'));
        if (schema.type === 'integer') add('fraction', loc, path, (o) => set(o, path, 1.5));
        if (schema.format === 'int32') {
          add('int32-range', loc, path, (o) => set(o, path, 2 ** 31));
        }
      } else if (schema.type === 'boolean') add('type', loc, path, (o) => set(o, path, 'yes'));
      else if (schema.type === 'object') add('type', loc, path, (o) => set(o, path, 'text'));
      else if (schema.type === 'array') add('type', loc, path, (o) => set(o, path, 'text'));
      if (schema.enum && typeof value === 'string') {
        add('enum', loc, path, (o) => set(o, path, 'NotAValue'));
        if (value !== '') add('empty-enum', loc, path, (o) => set(o, path, ''));
      }
    }

    if (Array.isArray(value)) {
      const listType = schema['x-kubernetes-list-type'];
      if ((listType === 'map' || listType === 'set') && value.length && mutable) {
        add('duplicate', loc, path, (o) => {
          const list = get(o, path) as unknown[];
          list.push(structuredClone(list[0]));
        });
      }
      value.forEach((item, i) => {
        if (schema.items) walk(item, schema.items, `${loc}[]`, [...path, i]);
      });
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    const record = value as Record<string, unknown>;
    const properties = schema.properties;
    if (properties) {
      if (!schema['x-kubernetes-preserve-unknown-fields'] && mutable) {
        add('unknown-field', loc, path, (o) => {
          (get(o, path) as Record<string, unknown>).zzUnknownField = 'x';
        });
      }
      for (const name of schema.required ?? []) {
        if (name in record && !IDENTITY.has(fieldText([...path, name]))) {
          add('remove-required', `${loc}.${name}`, [...path, name], (o) => {
            delete (get(o, path) as Record<string, unknown>)[name];
          });
        }
      }
      for (const [name, v] of Object.entries(record)) {
        const p = properties[name];
        if (p) walk(v, p, `${loc}.${name}`, [...path, name]);
      }
    } else if (typeof schema.additionalProperties === 'object') {
      for (const [name, v] of Object.entries(record)) {
        walk(v, schema.additionalProperties, `${loc}{}`, [...path, name]);
      }
    }
  };
  walk(object, root, typeof root === 'string' ? root : object.kind, []);
  return out;
}

function get(o: unknown, path: (string | number)[]): unknown {
  let node = o;
  for (const p of path) node = (node as Record<string | number, unknown>)[p];
  return node;
}

function set(o: unknown, path: (string | number)[], value: unknown): void {
  const parent = get(o, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1] as string | number] = value;
}

function fieldText(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i ? `.${p}` : p)).join('');
}
