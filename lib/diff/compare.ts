// The local half of the drift check: does the live object still hold every
// value the desired object sets? Server defaults (fields absent from the
// desired object) are ignored; equal-but-differently-written values
// (quantities, empty containers, defaulted list keys) count as equal. It is
// deliberately conservative: "equal" must be right; "different" is only a
// suspicion that a server-side dry run then confirms or dismisses.

import { quantitiesEqual } from '../model/quantity.js';

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parent field names under which scalar values are resource quantities. */
const QUANTITY_PARENTS = new Set([
  'requests',
  'limits',
  'capacity',
  'allocatable',
  'hard',
  'overhead',
  'default',
  'defaultRequest',
  'max',
  'min',
  'maxLimitRequestRatio',
]);
const QUANTITY_FIELDS = new Set(['sizeLimit', 'storage']);

/** Keys that identify elements of well-known associative lists. */
const LIST_KEYS: readonly string[][] = [
  ['name'],
  ['containerPort', 'protocol'],
  ['port', 'protocol'],
  ['mountPath'],
  ['devicePath'],
  ['ip'],
  ['type'],
  ['key'],
];

export interface Difference {
  path: string;
  desired: Json;
  live: Json;
}

/** Differences between what `desired` sets and what `live` has, at most `limit`. */
export function compareDesired(desired: Json, live: Json, limit = 20): Difference[] {
  const out: Difference[] = [];
  walk(desired, live, '', '', '', out, limit);
  return out;
}

/** `key` is the field's own name, `parent` the name of the map holding it. */
function walk(
  d: Json,
  l: Json,
  path: string,
  key: string,
  parent: string,
  out: Difference[],
  limit: number,
) {
  if (out.length >= limit) return;
  if (d === null || d === undefined) {
    // null in an applied config removes the field
    if (l !== null && l !== undefined && !isEmpty(l)) out.push({ path, desired: d, live: l });
    return;
  }
  if (isObject(d)) {
    if (!isObject(l)) {
      if (Object.keys(d).length === 0 && (l === undefined || l === null)) return;
      out.push({ path, desired: d, live: l });
      return;
    }
    for (const [k, v] of Object.entries(d)) {
      walk(v, l[k], path ? `${path}.${k}` : k, k, key, out, limit);
    }
    return;
  }
  if (Array.isArray(d)) {
    compareList(d, l, path, out, limit);
    return;
  }
  if (scalarEqual(d, l, key, parent)) return;
  out.push({ path, desired: d, live: l });
}

function compareList(d: Json[], l: Json, path: string, out: Difference[], limit: number) {
  if (!Array.isArray(l)) {
    if (d.length === 0 && (l === undefined || l === null)) return;
    out.push({ path, desired: d, live: l });
    return;
  }
  const keys =
    d.length > 0 && d.every(isObject) ? listKeyFor(d as Record<string, Json>[]) : undefined;
  if (keys) {
    // Associative list: match by key; live elements we do not set may belong
    // to another writer (an injected sidecar) and are not ours to judge.
    for (const [i, el] of (d as Record<string, Json>[]).entries()) {
      const match = l.find((le) => isObject(le) && keyMatches(keys, el, le));
      if (match === undefined) {
        out.push({ path: `${path}[${describeKey(keys, el, i)}]`, desired: el, live: undefined });
        if (out.length >= limit) return;
        continue;
      }
      walk(el, match, `${path}[${describeKey(keys, el, i)}]`, '', '', out, limit);
    }
    return;
  }
  if (d.length !== l.length) {
    out.push({ path, desired: d, live: l });
    return;
  }
  for (const [i, el] of d.entries()) walk(el, l[i], `${path}[${i}]`, '', '', out, limit);
}

export function listKeyFor(elements: Record<string, Json>[]): string[] | undefined {
  for (const keys of LIST_KEYS) {
    const primary = keys[0] as string;
    if (
      !elements.every((e) => primary in e && e[primary] !== null && typeof e[primary] !== 'object')
    )
      continue;
    const seen = new Set(elements.map((e) => JSON.stringify(keys.map((k) => e[k] ?? null))));
    if (seen.size === elements.length) return keys;
  }
  return undefined;
}

export function keyMatches(
  keys: string[],
  d: Record<string, Json>,
  l: Record<string, Json>,
): boolean {
  // A secondary key absent from the desired element was defaulted by the server.
  return keys.every((k, i) => (i > 0 && !(k in d) ? true : d[k] === l[k]));
}

function describeKey(keys: string[], el: Record<string, Json>, i: number): string {
  const k = keys[0] as string;
  return k in el ? `${k}=${String(el[k])}` : String(i);
}

function scalarEqual(d: Json, l: Json, key: string, parent: string): boolean {
  if (d === l) return true;
  if (l === undefined || l === null) return false;
  if (QUANTITY_PARENTS.has(parent) || QUANTITY_FIELDS.has(key)) {
    if (
      (typeof d === 'string' || typeof d === 'number') &&
      (typeof l === 'string' || typeof l === 'number')
    ) {
      return quantitiesEqual(String(d), String(l));
    }
  }
  // Numbers written as floats (1.0) and ints are the same JSON number.
  if (typeof d === 'number' && typeof l === 'number') return d === l;
  return false;
}

function isEmpty(v: Json): boolean {
  return (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
}
