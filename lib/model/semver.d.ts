// Types for semver (it ships none): what lib/model and lib/source use.
declare module 'semver' {
  /** The version, cleaned, or null if it is not one. */
  export function valid(version: string): string | null;
  /** The range, normalized, or null if it is not one. */
  export function validRange(range: string): string | null;
  /** The highest of `versions` inside `range`, or null. */
  export function maxSatisfying(
    versions: readonly string[],
    range: string,
    options?: { includePrerelease?: boolean },
  ): string | null;
  export function rcompare(a: string, b: string): number;
}
