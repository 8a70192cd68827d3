// The commit status a job resolves when it ends without a reconcile: the
// webhook reported `pending` for the pushed commit (the job's `commit`), and
// no context may be left pending. Success if the target is already synced at
// that commit, otherwise `error` with why nothing ran.

import { shortSha } from '../model/revision.js';
import type { TargetStatus } from '../model/status.js';
import type { ReconcileJob } from '../ports/queue.js';
import { type CommitStatus, commitStatusContext } from '../ports/report.js';

export type SkipReason = 'gone' | 'suspended' | 'covered';

const WHY: Record<SkipReason, string> = {
  gone: 'the target no longer exists',
  suspended: 'the application is suspended',
  covered: 'a later reconcile covered it',
};

/** The status that resolves a skipped job's pending context; none if the webhook posted none. */
export function skippedJobStatus(
  job: ReconcileJob,
  status: TargetStatus | undefined,
  reason: SkipReason,
  targetUrl?: string,
): CommitStatus | undefined {
  if (!job.commit || !job.repoURL) return undefined;
  const base = {
    repoURL: job.repoURL,
    commit: job.commit,
    context: commitStatusContext(job),
    ...(targetUrl ? { targetUrl } : {}),
  };
  const inSync =
    status?.syncedRevision === job.commit ||
    (status?.sync === 'Synced' && status.wantedRevision === job.commit);
  if (inSync) {
    return { ...base, state: 'success', description: `synced ${shortSha(job.commit)}` };
  }
  const synced = status?.syncedRevision
    ? `; the target is at ${shortSha(status.syncedRevision)}`
    : '';
  return {
    ...base,
    state: 'error',
    description: `skipped ${shortSha(job.commit)}: ${WHY[reason]}${synced}`,
  };
}
