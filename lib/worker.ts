// What the worker does with one job from the queue, independent of Lambda:
// skip it if a reconcile that began after it was queued already covered it
// (so fifty quick pushes cost one or two reconciles), or if it is a stale
// re-check (each target has one chain of re-checks: the token on its record
// names the live one); otherwise reconcile, then decide what happens to the
// message: done, the target's next re-check, a retry with exponential
// backoff, deferred (the lease is held: sent again later, not a failed
// attempt), or — past the app's retry limit — the dead-letter queue, with the
// target marked Degraded and the last error. An attempt past the limit that
// arrives (the last one never reported: the invocation was killed) is
// dead-lettered at once, before another reconcile that may time out too.
// A job for a destination being deleted (cascade) prunes its objects instead
// (lib/cascade.ts) and then forgets the destination.

import { randomUUID } from 'node:crypto';
import { cascadeDelete } from './cascade.js';
import { admitToCluster } from './cluster-admission.js';
import { asDriftlessError, DriftlessError } from './errors.js';
import { type SkipReason, skippedJobStatus } from './github/skipped.js';
import type { Application } from './model/application.js';
import type { TargetStatus } from './model/status.js';
import type { ClusterGuard } from './ports/cluster-guard.js';
import {
  attemptOfJob,
  isClusterSweep,
  type JobQueue,
  type QueueMessage,
  type ReconcileJob,
} from './ports/queue.js';
import type { Catalog } from './ports/store.js';
import {
  emptyStatus,
  type ReconcileDeps,
  type ReconcileOptions,
  reconcile,
  retryBackoffMs,
} from './reconcile/index.js';
import { failedView } from './reconcile/status.js';
import { SourceDispatcher } from './source/sources.js';
import { type ClusterSweepOptions, type ClusterSweepResult, sweepCluster } from './sweep/index.js';

/** The engine's dependencies, with the catalog as its store (one object, one name). */
export interface WorkerDeps extends Omit<ReconcileDeps, 'store'> {
  catalog: Catalog;
  queue: JobQueue;
  /** Per-cluster slots and circuit breaker (lib/cluster-admission.ts); none: unbounded. */
  guard?: ClusterGuard;
}

export type JobOutcome =
  /** Finished (or nothing to do): delete the message. */
  | { kind: 'done'; status?: TargetStatus; requeuedAfterSeconds?: number }
  | { kind: 'skipped'; reason: string }
  /** Leave the message on the queue and let it come back after delaySeconds. */
  | { kind: 'retry'; delaySeconds: number; error: DriftlessError }
  /**
   * Not a failed attempt (the lease is held by another worker, the cluster
   * is full, its breaker open, a 429's pause): the job was sent again,
   * delayed, carrying the attempts it had spent; delete this one.
   */
  | { kind: 'deferred'; delaySeconds: number; reason: string }
  /** Past the retry limit: the caller moves the message to the dead-letter queue. */
  | { kind: 'dead'; error: DriftlessError }
  /** A cluster's sweep ran (or found its tick swept already). */
  | { kind: 'swept'; result: ClusterSweepResult };

/** Longest visibility timeout SQS allows is 12 h; backoff stays far below. */
const MAX_DELAY_SECONDS = 15 * 60;

export function backoffSeconds(app: Application | undefined, attempt: number): number {
  const ms = retryBackoffMs(app, attempt);
  return Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.round(ms / 1000)));
}

/** When a job whose target's lease is held comes back. */
export const LEASE_HELD_DELAY_SECONDS = 15;

/** The lease marking a dead-lettered target Degraded holds: one read and one write. */
const DEGRADED_MARK_LEASE_MS = 30_000;

/** Sweep options the worker passes on (the wiring's configuration). */
export interface WorkerSweepOptions {
  sweep?: ClusterSweepOptions;
}

/**
 * Processes one message of the job queue: a cluster's sweep for a tick
 * (lib/sweep/cluster.ts; never retried: the next tick sweeps again), or a
 * reconcile job (processJob).
 */
export async function processMessage(
  deps: WorkerDeps,
  message: QueueMessage,
  receiveCount: number,
  opts: ReconcileOptions & WorkerSweepOptions = {},
): Promise<JobOutcome> {
  if (!isClusterSweep(message)) return processJob(deps, message, receiveCount, opts);
  const result = await sweepCluster(
    {
      catalog: deps.catalog,
      queue: deps.queue,
      clusters: deps.clusters,
      sources: deps.sources ?? new SourceDispatcher({ git: deps.git }),
      credentialsFor: deps.credentialsFor,
      clock: deps.clock,
    },
    message,
    { ...opts.sweep, deadline: opts.deadline },
  );
  return { kind: 'swept', result };
}

/**
 * Processes one job. `receiveCount` is how many times this message was
 * received (SQS ApproximateReceiveCount), starting at 1; with the attempts a
 * deferred job carries, it is the job's attempt.
 */
export async function processJob(
  deps: WorkerDeps,
  job: ReconcileJob,
  receiveCount: number,
  opts: ReconcileOptions = {},
): Promise<JobOutcome> {
  const attempt = attemptOfJob(job, receiveCount);
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
  // One re-check chain per target: a re-check the record no longer names was
  // replaced by a newer one (every reconcile that asks for a re-check starts
  // a new chain), so however many pushes arrive, one chain runs.
  if (job.recheckToken !== undefined) {
    const record = await deps.catalog.getTargetRecord(target);
    if (record?.recheckToken !== job.recheckToken) {
      return { kind: 'skipped', reason: 'a newer re-check of the target replaced this one' };
    }
  }
  const prev = await deps.catalog.getTargetStatus(target);
  // The retry budget is spent and the last attempt never reported (the
  // invocation was killed: timeout, out of memory): dead-letter now rather
  // than run a reconcile that may be killed again.
  const limit = app.spec.syncPolicy.retry.limit;
  if (attempt > limit + 1) {
    const last = prev?.operation;
    const error = new DriftlessError(
      last?.reason ?? 'Internal',
      `attempt ${attempt - 1} of this job ended without reporting (the invocation was stopped: timeout or out of memory)` +
        (last?.message ? `; the last recorded operation said: ${last.message}` : ''),
    );
    await markDegraded(deps, target, error, attempt - 1);
    return { kind: 'dead', error };
  }
  // Whatever queued it, a job for a destination being deleted runs the cascade.
  if (destination.deleting) return runCascade(deps, app, job, attempt, opts);
  // Suspended: nothing automated runs. A re-check of an operation someone
  // started still does: it resumes that operation by id (a rollback waiting
  // on a rollout or a hook) until it ends, whatever the app's suspension.
  const running = prev?.operation?.phase === 'Running' ? prev.operation : undefined;
  const followsOperation =
    (job.operationId !== undefined && running?.id === job.operationId) ||
    (job.trigger === 'health-check' && (job.revision !== undefined || running !== undefined));
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

  // One of the cluster's spec.concurrency slots, or come back later (not a failed attempt).
  const admission = await admitToCluster(
    { guard: deps.guard, store: deps.catalog, clusters: deps.clusters, clock: deps.clock },
    target,
    { ttlMs: opts.leaseTtlMs },
  );
  if (!admission.granted) {
    return defer(deps, job, attempt, admission.delaySeconds, admission.error);
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
        operationId: job.operationId ?? job.deliveryId,
        attempt,
        initiator: job.initiator ?? defaultInitiator(job),
      },
      opts,
    );
  } catch (e) {
    outcome = { status: prev ?? emptyStatus(target), error: asDriftlessError(e), retryable: false };
  }
  await admission.release(outcome.error);
  // A burst of pushes: this job's reconcile resolved the branch to a newer
  // commit, so the pending status its push reported is resolved here.
  if (job.commit && !outcome.error && outcome.status.wantedRevision !== job.commit) {
    const superseded = skippedJobStatus(job, outcome.status, 'superseded', deps.statusUrl?.(job));
    if (superseded) await deps.reporter.report(superseded);
  }

  // A sync's own failures are retried by the operation (its attempts, with
  // backoff, in the target's status: lib/reconcile/sync.ts); these retries are for
  // failures outside a sync (Git or the cluster unreachable, the lease held).
  if (outcome.error) {
    // Not a failed attempt: another worker is on the target. Come back later
    // with the attempts spent so far (the receive count of a new message starts at 1).
    if (outcome.error.reason === 'LeaseHeld') {
      return defer(deps, job, attempt, LEASE_HELD_DELAY_SECONDS, outcome.error);
    }
    if (!outcome.retryable) {
      // A newer revision waited for the operation that just failed.
      if (outcome.requeueAfterMs !== undefined) {
        const seconds = await requeue(deps, job, outcome.status, outcome.requeueAfterMs);
        return { kind: 'done', status: outcome.status, requeuedAfterSeconds: seconds };
      }
      return { kind: 'done', status: outcome.status };
    }
    if (attempt > limit) {
      await markDegraded(deps, target, outcome.error, attempt);
      return { kind: 'dead', error: outcome.error };
    }
    return { kind: 'retry', delaySeconds: backoffSeconds(app, attempt), error: outcome.error };
  }

  // A rollout in progress gets a delayed health check; the cluster's sweep looks again every tick.
  if (outcome.requeueAfterMs !== undefined) {
    const seconds = await requeue(deps, job, outcome.status, outcome.requeueAfterMs);
    return { kind: 'done', status: outcome.status, requeuedAfterSeconds: seconds };
  }
  return { kind: 'done', status: outcome.status };
}

/** Sends the job again after `delaySeconds`, carrying the attempts it spent: not a failed attempt. */
async function defer(
  deps: WorkerDeps,
  job: ReconcileJob,
  attempt: number,
  delaySeconds: number,
  why: DriftlessError,
): Promise<JobOutcome> {
  await deps.queue.enqueueDelayed({ ...job, priorAttempts: attempt - 1 }, delaySeconds);
  return { kind: 'deferred', delaySeconds, reason: why.describe() };
}

/** Who a job acts for when its producer named nobody (jobs queued by older versions). */
function defaultInitiator(job: ReconcileJob): string {
  if (job.trigger === 'webhook' && job.deliveryId) return `github-delivery:${job.deliveryId}`;
  if (job.trigger === 'sweep' || job.trigger === 'health-check') return 'driftless:sweep';
  return `driftless:${job.trigger}`;
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
 * refusal (the prune guard, the app's policy or its project) keeps both,
 * with the status saying why.
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
      await markDegraded(deps, target, outcome.error, attempt);
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

/**
 * The target's next re-check (a rollout, a hook, a retry's backoff, a revision
 * that waited): a new link of its one chain. The token written to the target
 * record makes every older delayed job stale; a running operation is resumed
 * by its id.
 */
async function requeue(
  deps: WorkerDeps,
  job: ReconcileJob,
  status: TargetStatus,
  afterMs: number,
): Promise<number> {
  const seconds = Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.ceil(afterMs / 1000)));
  const target = { app: job.app, cluster: job.cluster };
  const recheckToken = randomUUID();
  await deps.catalog.setRecheckToken(target, recheckToken);
  const running = status.operation?.phase === 'Running' ? status.operation : undefined;
  await deps.queue.enqueueDelayed(
    {
      app: job.app,
      cluster: job.cluster,
      trigger: 'health-check',
      // A check after a rollback (or a sync to a given revision) compares with that revision.
      ...(job.revision ? { revision: job.revision } : {}),
      ...(running ? { operationId: running.id } : {}),
      recheckToken,
      initiator: running?.initiator ?? job.initiator ?? defaultInitiator(job),
      enqueuedAt: new Date(deps.clock?.now() ?? Date.now()).toISOString(),
    },
    seconds,
  );
  return seconds;
}

/**
 * After the last retry: the target is Degraded with the error that kept
 * failing. The status is read again under the lease and only its health and
 * conditions change, so a newer status written meanwhile is kept.
 */
async function markDegraded(
  deps: WorkerDeps,
  target: { app: string; cluster: string },
  error: DriftlessError,
  attempts: number,
) {
  const lease = await deps.leases.acquire(
    target,
    `dead-letter:${randomUUID()}`,
    DEGRADED_MARK_LEASE_MS,
  );
  if (!lease) return; // someone else is working on it: their status stands
  try {
    const current = (await deps.catalog.getTargetStatus(target)) ?? emptyStatus(target);
    const now = new Date(deps.clock?.now() ?? Date.now()).toISOString();
    // An operation the killed attempts left Running ends here: nothing resumes it any more.
    const running = current.operation?.phase === 'Running' ? current.operation : undefined;
    const ended = running && {
      ...running,
      phase: 'Error' as const,
      reason: error.reason,
      message: `gave up after ${attempts} attempts: ${error.describe()}`,
      finishedAt: now,
      progress: undefined,
    };
    // The sweep leaves a target alone while its view says an operation runs:
    // the operation ended here, so the view says the check failed instead (the
    // sweep tries again when the target is next due).
    const observed = ended || current.observed?.running ? failedView(current.observed) : undefined;
    await deps.catalog.putTargetStatus(
      {
        ...current,
        ...(ended ? { operation: ended } : {}),
        ...(observed ? { observed } : {}),
        health: 'Degraded',
        healthMessage: `gave up after ${attempts} attempts: ${error.describe()}`,
        conditions: [
          ...current.conditions.filter((c) => c.type !== 'RetriesExhausted'),
          {
            type: 'RetriesExhausted',
            reason: error.reason,
            message: `gave up after ${attempts} attempts: ${error.describe()}`,
            lastTransitionTime: now,
          },
        ],
      },
      lease.fencingToken,
    );
    if (ended) await deps.catalog.appendHistory(target, ended, lease.fencingToken);
    if (observed) await deps.catalog.putObserved(target, observed);
  } catch (e) {
    if (!(e instanceof DriftlessError && e.reason === 'LeaseLost')) throw e;
  } finally {
    await deps.leases.release(lease);
  }
}
