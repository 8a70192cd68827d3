// Server-side apply's managedFields (fieldsV1) as a tree we can walk beside an
// object: which fields a manager owns, removing fields another manager owns
// from what we apply (an HPA's spec.replicas), and JSON-pointer removal for
// ignore rules.
//
// fieldsV1 keys: `f:<field>` a map field, `k:<json>` a list element by its
// keys, `v:<json>` a set element by value, `i:<n>` an atomic-list index, `.`
// the node itself. A leaf is `{}`.

import type { KubeObject, ManagedFieldsEntry } from '../model/object.js';

export type FieldsV1 = { [key: string]: FieldsV1 };

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The fieldsV1 trees of the entries written by `manager` (all operations), merged. */
export function fieldsOwnedBy(
  obj: KubeObject,
  manager: string,
  operation?: 'Apply' | 'Update',
): FieldsV1 | undefined {
  const entries = (obj.metadata.managedFields ?? []).filter(
    (m: ManagedFieldsEntry) =>
      m.manager === manager && !m.subresource && (!operation || m.operation === operation),
  );
  if (entries.length === 0) return undefined;
  const merged: FieldsV1 = {};
  for (const e of entries) mergeInto(merged, (e.fieldsV1 ?? {}) as FieldsV1);
  return merged;
}

/** Fields owned by any of `managers`, including through subresources (kubectl scale). */
export function fieldsOwnedByAny(obj: KubeObject, managers: readonly string[]): FieldsV1 {
  const merged: FieldsV1 = {};
  for (const m of obj.metadata.managedFields ?? []) {
    if (m.manager && managers.includes(m.manager))
      mergeInto(merged, (m.fieldsV1 ?? {}) as FieldsV1);
  }
  return merged;
}

function mergeInto(into: FieldsV1, from: FieldsV1): void {
  for (const [k, v] of Object.entries(from)) {
    into[k] ??= {};
    mergeInto(into[k] as FieldsV1, v);
  }
}

/** The child node of `tree` that describes `element` of a list, if any. */
export function listElementNode(
  tree: FieldsV1,
  element: Json,
  index: number,
): FieldsV1 | undefined {
  for (const [k, node] of Object.entries(tree)) {
    if (k.startsWith('k:')) {
      if (!isObject(element)) continue;
      let keys: Record<string, Json>;
      try {
        keys = JSON.parse(k.slice(2)) as Record<string, Json>;
      } catch {
        continue;
      }
      // A key field absent from the element is one the server defaulted
      // (protocol: TCP); it does not prevent the match.
      if (Object.entries(keys).every(([kk, kv]) => !(kk in element) || element[kk] === kv)) {
        if (Object.keys(keys).some((kk) => kk in element)) return node;
      }
    } else if (k.startsWith('v:')) {
      try {
        if (JSON.stringify(JSON.parse(k.slice(2))) === JSON.stringify(element)) return node;
      } catch {}
    } else if (k === `i:${index}`) {
      return node;
    }
  }
  return undefined;
}

/**
 * Returns a copy of `value` without the leaves that `owned` covers. Used to
 * leave fields owned by other managers (ignore rules) out of what we apply and
 * compare, so two writers never fight over them.
 */
export function withoutFields(value: Json, owned: FieldsV1): Json {
  if (Array.isArray(value)) {
    const out: Json[] = [];
    value.forEach((el, i) => {
      const node = listElementNode(owned, el, i);
      if (!node) out.push(el);
      else if (Object.keys(node).length === 0) {
        // the whole element is theirs
      } else {
        const rest = withoutFields(el, node);
        if (!isEmptyContainer(rest) || isEmptyContainer(el)) out.push(rest);
      }
    });
    return out;
  }
  if (!isObject(value)) return value;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(value)) {
    const node = owned[`f:${k}`];
    if (!node) {
      out[k] = v;
    } else if (Object.keys(node).length === 0 || (Object.keys(node).length === 1 && node['.'])) {
      // a leaf (or a whole atomic value) owned by them
    } else {
      const rest = withoutFields(v, node);
      if (!isEmptyContainer(rest) || isEmptyContainer(v)) out[k] = rest;
    }
  }
  return out;
}

/**
 * Paths of leaves in `desired` that `owned` does not cover: fields we set
 * that we do not (or no longer) own — another writer took them over, or they
 * were never applied.
 */
export function unownedLeaves(
  desired: Json,
  owned: FieldsV1,
  path = '',
  out: string[] = [],
): string[] {
  if (Array.isArray(desired)) {
    desired.forEach((el, i) => {
      const node = listElementNode(owned, el, i);
      if (!node) out.push(`${path}[${i}]`);
      else if (Object.keys(node).some((k) => k !== '.'))
        unownedLeaves(el, node, `${path}[${i}]`, out);
    });
    return out;
  }
  if (!isObject(desired)) return out;
  for (const [k, v] of Object.entries(desired)) {
    if (v === null) continue; // null asks the server to remove the field: nothing to own
    const p = path ? `${path}.${k}` : k;
    const node = owned[`f:${k}`];
    if (!node) {
      if (!isEmptyContainer(v)) out.push(p);
    } else if (isObject(v) || Array.isArray(v)) {
      if (Object.keys(node).some((kk) => kk !== '.')) unownedLeaves(v, node, p, out);
    }
  }
  return out;
}

export function isEmptyContainer(v: Json): boolean {
  return (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
}

/** Removes the value at an RFC 6901 pointer (no-op when absent); returns a copy. */
export function withoutPointer(value: Json, pointer: string): Json {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return removeAt(value, parts);
}

function removeAt(value: Json, parts: string[]): Json {
  if (parts.length === 0) return undefined;
  const [head, ...rest] = parts as [string, ...string[]];
  if (Array.isArray(value)) {
    const i = head === '*' ? -1 : Number(head);
    return value.flatMap((el, j) => {
      if (i !== -1 && j !== i) return [el];
      const r = removeAt(el, rest);
      return r === undefined ? [] : [r];
    });
  }
  if (!isObject(value)) return value;
  if (!(head in value)) return value;
  const out = { ...value };
  const r = removeAt(value[head], rest);
  if (r === undefined) delete out[head];
  else out[head] = r;
  return out;
}

/**
 * Paths of fields `owned` covers that `desired` no longer sets: applying would
 * remove them, so a desired state that dropped a field is not "in sync" just
 * because everything it still sets matches.
 */
export function ownedNotDesired(
  owned: FieldsV1,
  desired: Json,
  path = '',
  out: string[] = [],
): string[] {
  for (const [k, node] of Object.entries(owned)) {
    if (k === '.') continue;
    if (k.startsWith('f:')) {
      const field = k.slice(2);
      const p = path ? `${path}.${field}` : field;
      const value = isObject(desired) ? desired[field] : undefined;
      if (value === undefined || value === null) out.push(p);
      else if (Object.keys(node).some((kk) => kk !== '.')) ownedNotDesired(node, value, p, out);
    } else if (Array.isArray(desired)) {
      const idx = desired.findIndex((el, i) => listElementNode({ [k]: node }, el, i) !== undefined);
      if (idx < 0) out.push(`${path}[${k}]`);
      else if (Object.keys(node).some((kk) => kk !== '.'))
        ownedNotDesired(node, desired[idx], `${path}[${idx}]`, out);
    } else {
      out.push(`${path}[${k}]`);
    }
  }
  return out;
}
