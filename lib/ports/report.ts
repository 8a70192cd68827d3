// The report port: GitHub commit statuses (lib/github/status.ts).

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
