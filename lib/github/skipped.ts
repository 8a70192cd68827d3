// The commit status a job resolves when it ends without a reconcile: the
// webhook reported `pending` for the pushed commit (the job's `commit`), and
// no context may be left pending. Success if the target is already synced at
// that commit, otherwise `error` with why nothing ran.

import { shortSha } from '../model/revision.js';
import type { TargetStatus } from '../model/status.js';
import type { ReconcileJob } from '../ports/queue.js';
import { type CommitStatus, commitStatusContext } from '../ports/report.js';

/**
 * Why the job's commit was not synced by it. `superseded`: the job ran, but
 * its reconcile resolved the branch to a newer commit (a burst of pushes).
 */
export type SkipReason = 'gone' | 'suspended' | 'covered' | 'superseded';

const WHY: Record<SkipReason, string> = {
  gone: 'the target no longer exists',
  suspended: 'the application is suspended',
  covered: 'a later reconcile covered it',
  superseded: 'a newer commit was synced instead',
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
