// The report port: GitHub commit statuses. The engine, the webhook and the
// worker report through it; in a deployment the reporter only enqueues on the
// status outbox (lib/ports/outbox.ts, lib/github/outbox.ts) and a consumer of
// its own posts to GitHub (lib/github/status.ts), so nothing on a request or
// reconcile path waits on GitHub.

import type { TargetId } from '../model/target.js';

export type CommitState = 'pending' | 'success' | 'failure' | 'error';

export interface CommitStatus {
  repoURL: string;
  commit: string;
  context: string;
  state: CommitState;
  description: string;
  targetUrl?: string;
}

export interface CommitStatusReporter {
  /** Never throws: reporting must not fail a reconcile. */
  report(status: CommitStatus): Promise<void>;
}

/** Reports nothing: for installations without GitHub credentials. */
export const noReporter: CommitStatusReporter = { report: async () => {} };

/** The commit status context of one target: `driftless/<app>/<cluster>`. */
export function commitStatusContext(target: TargetId): string {
  return `driftless/${target.app}/${target.cluster}`;
}
