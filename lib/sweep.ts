// The scheduled drift sweep: page through the targets whose interval is due,
// skip suspended ones, enqueue a bounded number per cluster (so one sweep
// cannot flood one API server; the rest stay due for the next run), and
// push each enqueued target's next due time out by its interval with jitter,
// so targets registered together do not stay in lockstep.

import { type Clock, systemClock } from './ports/clock.js';
import type { JobQueue, QueuedJob } from './ports/queue.js';
import { type Catalog, DEFAULT_PAGE_SIZE, type TargetRecord } from './ports/store.js';

/** Most jobs one sweep enqueues per cluster. */
export const DEFAULT_SWEEP_PER_CLUSTER_LIMIT = 50;
/** Most targets one sweep looks at. */
export const DEFAULT_SWEEP_MAX_TARGETS = 5_000;
/** Fraction of a target's interval its next due time is jittered by (0.1 = ±10%). */
export const DEFAULT_SWEEP_JITTER = 0.1;

export interface SweepOptions {
  /** Most jobs per cluster per sweep (default DEFAULT_SWEEP_PER_CLUSTER_LIMIT). */
  perClusterLimit?: number;
  /** Most targets looked at per sweep, pages × page size (default DEFAULT_SWEEP_MAX_TARGETS). */
  maxTargets?: number;
  /** Default DEFAULT_PAGE_SIZE. */
  pageSize?: number;
  /** Fraction of the interval used as jitter (default DEFAULT_SWEEP_JITTER). */
  jitter?: number;
  random?: () => number;
}

export interface SweepResult {
  enqueued: { app: string; cluster: string }[];
  skippedSuspended: number;
  deferred: number;
}

export async function sweep(
  deps: { catalog: Catalog; queue: JobQueue; clock?: Clock },
  opts: SweepOptions = {},
): Promise<SweepResult> {
  const clock = deps.clock ?? systemClock;
  const now = clock.now();
  const perCluster = opts.perClusterLimit ?? DEFAULT_SWEEP_PER_CLUSTER_LIMIT;
  const maxTargets = opts.maxTargets ?? DEFAULT_SWEEP_MAX_TARGETS;
  const random = opts.random ?? Math.random;
  const jitter = opts.jitter ?? DEFAULT_SWEEP_JITTER;
  const counts = new Map<string, number>();
  const result: SweepResult = { enqueued: [], skippedSuspended: 0, deferred: 0 };
  // One dedup window per minute: a sweep retried by the scheduler does not double-enqueue.
  const window = Math.floor(now / 60_000);
  let next: string | undefined;
  let seen = 0;
  do {
    const page = await deps.catalog.dueTargets(now, opts.pageSize ?? DEFAULT_PAGE_SIZE, next);
    next = page.next;
    const batch: { job: QueuedJob; target: TargetRecord }[] = [];
    for (const t of page.items) {
      seen++;
      if (t.suspended) {
        result.skippedSuspended++;
        continue;
      }
      const n = counts.get(t.cluster) ?? 0;
      if (n >= perCluster) {
        result.deferred++;
        continue;
      }
      counts.set(t.cluster, n + 1);
      batch.push({
        target: t,
        job: {
          dedupId: `sweep:${t.app}#${t.cluster}:${window}`,
          job: {
            app: t.app,
            cluster: t.cluster,
            trigger: 'sweep',
            enqueuedAt: new Date(now).toISOString(),
          },
        },
      });
    }
    if (batch.length) {
      await deps.queue.enqueue(batch.map((b) => b.job));
      for (const { target } of batch) {
        const spread = target.intervalMs * jitter * (2 * random() - 1);
        await deps.catalog.setNextDue(target, now + target.intervalMs + Math.round(spread));
        result.enqueued.push({ app: target.app, cluster: target.cluster });
      }
    }
  } while (next && seen < maxTargets);
  return result;
}
