// What the worker does with one job from the queue, independent of Lambda:
// skip it if a reconcile that began after it was queued already covered it
// (so fifty quick pushes cost one or two reconciles), otherwise reconcile,
// then decide what happens to the message: done, a delayed health check,
// a retry with exponential backoff, or — past the app's retry limit — the
// dead-letter queue, with the target marked Degraded and the last error.
// A job for a destination being deleted (cascade) prunes its objects instead
// (lib/cascade.ts) and then forgets the destination.

import { cascadeDelete } from './cascade.js';
import { asDriftlessError, DriftlessError } from './errors.js';
import { type SkipReason, skippedJobStatus } from './github/skipped.js';
import type { Application } from './model/application.js';
import type { TargetStatus } from './model/status.js';
import type { JobQueue, ReconcileJob } from './ports/queue.js';
import type { Catalog } from './ports/store.js';
import {
  emptyStatus,
  type ReconcileDeps,
  type ReconcileOptions,
  reconcile,
  retryBackoffMs,
} from './reconcile.js';

/** The engine's dependencies, with the catalog as its store (one object, one name). */
export interface WorkerDeps extends Omit<ReconcileDeps, 'store'> {
  catalog: Catalog;
  queue: JobQueue;
}

export type JobOutcome =
  /** Finished (or nothing to do): delete the message. */
  | { kind: 'done'; status?: TargetStatus; requeuedAfterSeconds?: number }
  | { kind: 'skipped'; reason: string }
  /** Leave the message on the queue and let it come back after delaySeconds. */
  | { kind: 'retry'; delaySeconds: number; error: DriftlessError }
  /** Past the retry limit: the caller moves the message to the dead-letter queue. */
  | { kind: 'dead'; error: DriftlessError };

/** Longest visibility timeout SQS allows is 12 h; backoff stays far below. */
const MAX_DELAY_SECONDS = 15 * 60;

export function backoffSeconds(app: Application | undefined, attempt: number): number {
  const ms = retryBackoffMs(app, attempt);
  return Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.round(ms / 1000)));
}

/**
 * Processes one job. `attempt` is how many times this message was received
 * (SQS ApproximateReceiveCount), starting at 1.
 */
export async function processJob(
  deps: WorkerDeps,
  job: ReconcileJob,
  attempt: number,
  opts: ReconcileOptions = {},
): Promise<JobOutcome> {
  const target = { app: job.app, cluster: job.cluster };
  const app = await deps.catalog.getApplication(job.app);
  const destination = app?.spec.destinations.find((d) => d.cluster === job.cluster);
  if (!app || !destination) {
    return skip(
      deps,
      job,
      undefined,
      'gone',
      `target ${job.app} on ${job.cluster} no longer exists`,
    );
  }
  // Whatever queued it, a job for a destination being deleted runs the cascade.
  if (destination.deleting) return runCascade(deps, app, job, attempt, opts);
  const prev = await deps.catalog.getTargetStatus(target);
  // Suspended: nothing automated runs. A health check that follows an
  // operation someone started still does: it resumes that operation (a
  // rollback waiting on a hook) or reports health after it, against the
  // operation's revision.
  const followsOperation =
    job.trigger === 'health-check' &&
    (job.revision !== undefined || prev?.operation?.phase === 'Running');
  if (
    app.spec.suspended &&
    job.trigger !== 'manual' &&
    job.trigger !== 'rollback' &&
    !followsOperation
  ) {
    return skip(deps, job, prev, 'suspended', `${job.app} is suspended`);
  }
  // Coalescing: a reconcile that began after this job was queued resolved the
  // branch after the push that queued it, so it already covered this job.
  if (
    (job.trigger === 'webhook' || job.trigger === 'sweep') &&
    prev?.checkStartedAt &&
    Date.parse(prev.checkStartedAt) > Date.parse(job.enqueuedAt) &&
    prev.operation?.phase !== 'Error' &&
    prev.operation?.phase !== 'Running'
  ) {
    return skip(deps, job, prev, 'covered', 'covered by a later reconcile');
  }

  let outcome: Awaited<ReturnType<typeof reconcile>>;
  try {
    outcome = await reconcile(
      { ...deps, store: deps.catalog },
      {
        target,
        trigger: job.trigger,
        revision: job.revision,
        allowPrune: job.allowPrune,
        operationId: job.deliveryId,
        attempt,
      },
      opts,
    );
  } catch (e) {
    outcome = { status: prev ?? emptyStatus(target), error: asDriftlessError(e), retryable: false };
  }

  // A sync's own failures are retried by the operation (its attempts, with
  // backoff, in the target's status: lib/reconcile.ts); these retries are for
  // failures outside a sync (Git or the cluster unreachable, the lease held).
  if (outcome.error) {
    if (!outcome.retryable) {
      // A newer revision waited for the operation that just failed.
      if (outcome.requeueAfterMs !== undefined) {
        const seconds = await requeue(deps, job, outcome.requeueAfterMs);
        return { kind: 'done', status: outcome.status, requeuedAfterSeconds: seconds };
      }
      return { kind: 'done', status: outcome.status };
    }
    const limit = app.spec.syncPolicy.retry.limit;
    if (attempt > limit) {
      await markDegraded(deps, outcome.status, outcome.error, attempt);
      return { kind: 'dead', error: outcome.error };
    }
    return { kind: 'retry', delaySeconds: backoffSeconds(app, attempt), error: outcome.error };
  }

  // The next drift sweep (the sweep already set a jittered one for the jobs it
  // queued); a rollout in progress gets a delayed health check instead.
  if (job.trigger !== 'sweep') {
    await deps.catalog.setNextDue(
      target,
      (deps.clock?.now() ?? Date.now()) + app.spec.syncPolicy.interval,
    );
  }
  if (outcome.requeueAfterMs !== undefined) {
    const seconds = await requeue(deps, job, outcome.requeueAfterMs);
    return { kind: 'done', status: outcome.status, requeuedAfterSeconds: seconds };
  }
  return { kind: 'done', status: outcome.status };
}

/** A job that ends without a reconcile resolves the pending status its push reported. */
async function skip(
  deps: WorkerDeps,
  job: ReconcileJob,
  prev: TargetStatus | undefined,
  why: SkipReason,
  reason: string,
): Promise<JobOutcome> {
  const status = skippedJobStatus(
    job,
    prev,
    why,
    why === 'gone' ? undefined : deps.statusUrl?.(job),
  );
  if (status) await deps.reporter.report(status);
  return { kind: 'skipped', reason };
}

/**
 * The cascade of a destination being deleted: prune what Driftless applied
 * there, then forget the destination, and the app with its last one. A
 * refusal (the prune guard) keeps both, with the status saying why.
 */
async function runCascade(
  deps: WorkerDeps,
  app: Application,
  job: ReconcileJob,
  attempt: number,
  opts: ReconcileOptions,
): Promise<JobOutcome> {
  const target = { app: job.app, cluster: job.cluster };
  const outcome = await cascadeDelete({ ...deps, store: deps.catalog }, app, target, {
    concurrency: opts.concurrency,
    leaseTtlMs: opts.leaseTtlMs,
    operationId: job.deliveryId,
    attempt,
  });
  if (outcome.error) {
    if (!outcome.retryable) return { kind: 'done', status: outcome.status };
    if (attempt > app.spec.syncPolicy.retry.limit) {
      await markDegraded(deps, outcome.status, outcome.error, attempt);
      return { kind: 'dead', error: outcome.error };
    }
    return { kind: 'retry', delaySeconds: backoffSeconds(app, attempt), error: outcome.error };
  }
  if (outcome.complete) {
    // Read again: the app may have changed while the cascade ran.
    const fresh = await deps.catalog.getApplication(job.app);
    if (fresh?.spec.destinations.find((d) => d.cluster === job.cluster)?.deleting) {
      const remaining = fresh.spec.destinations.filter((d) => d.cluster !== job.cluster);
      if (remaining.length === 0) await deps.catalog.deleteApplication(job.app);
      else
        await deps.catalog.putApplication({
          ...fresh,
          spec: { ...fresh.spec, destinations: remaining },
        });
    }
  }
  return { kind: 'done', status: outcome.status };
}

/** A delayed check of the target: a rollout, a hook, a retry's backoff, a revision that waited. */
async function requeue(deps: WorkerDeps, job: ReconcileJob, afterMs: number): Promise<number> {
  const seconds = Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.ceil(afterMs / 1000)));
  await deps.queue.enqueueDelayed(
    {
      app: job.app,
      cluster: job.cluster,
      trigger: 'health-check',
      // A check after a rollback (or a sync to a given revision) compares with that revision.
      ...(job.revision ? { revision: job.revision } : {}),
      enqueuedAt: new Date().toISOString(),
    },
    seconds,
  );
  return seconds;
}

/** After the last retry: the target is Degraded with the error that kept failing. */
async function markDegraded(
  deps: WorkerDeps,
  status: TargetStatus,
  error: DriftlessError,
  attempts: number,
) {
  const target = { app: status.app, cluster: status.cluster };
  const lease = await deps.leases.acquire(target, `dead-letter:${attempts}`, 30_000);
  if (!lease) return; // someone else is working on it: their status stands
  try {
    const now = new Date(deps.clock?.now() ?? Date.now()).toISOString();
    await deps.catalog.putTargetStatus(
      {
        ...status,
        health: 'Degraded',
        healthMessage: `gave up after ${attempts} attempts: ${error.describe()}`,
        conditions: [
          ...status.conditions.filter((c) => c.type !== 'RetriesExhausted'),
          {
            type: 'RetriesExhausted',
            reason: error.reason,
            message: error.describe(),
            lastTransitionTime: now,
          },
        ],
      },
      lease.fencingToken,
    );
  } catch (e) {
    if (!(e instanceof DriftlessError && e.reason === 'LeaseLost')) throw e;
  } finally {
    await deps.leases.release(lease);
  }
}
