// Commit SHAs as people see them: in the CLI's tables, commit statuses and
// log lines.

/** Leading hex digits of a commit SHA shown to people. */
export const SHORT_SHA_LENGTH = 8;

/** `3f2a9c1e` for a full SHA; `-` when there is none. */
export function shortSha(sha: string | undefined): string {
  return sha ? sha.slice(0, SHORT_SHA_LENGTH) : '-';
}
