// The job queue port: reconcile jobs, FIFO per target. SQS in AWS
// (lib/aws/queue.ts), in-process in local mode (lib/local/queue.ts).

import type { OperationResult } from '../model/status.js';
import { targetKey } from '../model/target.js';

/**
 * A reconcile request on the queue: one target, and why. A job for a target
 * whose destination is being deleted (Destination.deleting, trigger `delete`
 * when the API queued it) runs the cascade instead: it prunes the target's
 * inventory and then forgets the destination.
 */
export interface ReconcileJob {
  app: string;
  cluster: string;
  trigger: OperationResult['trigger'];
  /** An explicit revision (manual sync or rollback) instead of the app's. */
  revision?: string;
  allowPrune?: boolean;
  /** The GitHub delivery or operation that caused it, for logs. */
  deliveryId?: string;
  /**
   * The pushed commit the webhook reported `pending` for on this target's
   * commit status context; a job that ends without a reconcile (skipped)
   * resolves that status. Set only when the webhook posted that status.
   */
  commit?: string;
  /** The repository of `commit` (the app's repoURL when the push was routed). */
  repoURL?: string;
  enqueuedAt: string;
  /**
   * The operation a re-check resumes: its record on the target (revision,
   * flags) says what it syncs, whatever the branch head, the app's automation
   * or its suspension.
   */
  operationId?: string;
  /**
   * A re-check's link in the target's one chain of re-checks: a delayed job
   * whose token is not the target record's current one is stale and dropped.
   */
  recheckToken?: string;
  /** Failed attempts spent before this message was sent (a deferred job carries them on). */
  priorAttempts?: number;
  /** Who asked: an IAM principal, a webhook delivery, the sweep, a local user. */
  initiator?: string;
}

export interface QueuedJob {
  job: ReconcileJob;
  /** Jobs with the same id within the queue's deduplication window are sent once. */
  dedupId: string;
}

/**
 * One cluster's drift check for one tick of the sweep (lib/sweep/cluster.ts):
 * queued by the scheduled tick, run by the worker, which holds the cluster's
 * and the sources' access.
 */
export interface ClusterSweepJob {
  kind: 'cluster-sweep';
  cluster: string;
  /** Epoch ms of the tick that queued it. */
  tick: number;
  enqueuedAt: string;
}

export interface QueuedSweep {
  job: ClusterSweepJob;
  dedupId: string;
}

/** What the job queue carries. */
export type QueueMessage = ReconcileJob | ClusterSweepJob;

export function isClusterSweep(m: QueueMessage): m is ClusterSweepJob {
  return 'kind' in m && m.kind === 'cluster-sweep';
}

/** The FIFO group of a message: one target's jobs in order; one cluster's sweeps in order. */
export function messageGroupOf(m: QueueMessage): string {
  return isClusterSweep(m) ? `sweep#${m.cluster}` : targetKey(m);
}

export interface JobQueue {
  /** FIFO per target (group = app#cluster); sent in batches. */
  enqueue(jobs: QueuedJob[]): Promise<void>;
  /** FIFO per cluster (group = sweep#cluster); sent in batches. */
  enqueueSweeps(jobs: QueuedSweep[]): Promise<void>;
  /** A later look at a target (a rollout or hook in progress), not before delaySeconds. */
  enqueueDelayed(job: ReconcileJob, delaySeconds: number): Promise<void>;
}

/**
 * The job as a dead letter keeps it: as queued, less what belonged to the
 * attempts that failed (the attempts a deferral carried, a re-check's token),
 * so a redrive — `driftless redrive` or SQS's own — starts a fresh retry
 * budget instead of being judged spent or stale at once.
 */
export function redrivableJob(job: ReconcileJob): ReconcileJob {
  const { priorAttempts: _spent, recheckToken: _token, ...rest } = job;
  return rest;
}

/** The attempt a delivery of `job` is: what deferrals carried plus this message's receives. */
export function attemptOfJob(job: ReconcileJob, receiveCount: number): number {
  return (job.priorAttempts ?? 0) + receiveCount;
}
