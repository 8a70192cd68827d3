// Canonical JSON: object keys sorted, undefined members left out, so equal
// values serialize (and hash) equally whatever order their keys were written
// in. What the desired-object hash, the dry-run comparison and the render
// cache key are computed from.

/**
 * JSON.stringify's output with every object's keys sorted. Like JSON.stringify,
 * an undefined array element becomes `null`; unlike it, a top-level undefined
 * gives `null` too, so the result is always a string.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
