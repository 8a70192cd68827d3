import { type Clock, systemClock } from './ports/clock.js';
import type { JobQueue, QueuedJob } from './ports/queue.js';
import type { Catalog, TargetRecord } from './ports/store.js';
// The scheduled drift sweep: page through the targets whose interval is due,
// skip suspended ones, enqueue a bounded number per cluster (so one sweep
// cannot flood one API server; the rest stay due for the next run), and
// push each enqueued target's next due time out by its interval with jitter,
// so targets registered together do not stay in lockstep.

export interface SweepOptions {
  /** Most jobs per cluster per sweep. */
  perClusterLimit?: number;
  /** Most targets looked at per sweep (pages × page size). */
  maxTargets?: number;
  pageSize?: number;
  /** Fraction of the interval used as jitter (0.1 = ±10%). */
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
  const perCluster = opts.perClusterLimit ?? 50;
  const maxTargets = opts.maxTargets ?? 5_000;
  const random = opts.random ?? Math.random;
  const jitter = opts.jitter ?? 0.1;
  const counts = new Map<string, number>();
  const result: SweepResult = { enqueued: [], skippedSuspended: 0, deferred: 0 };
  // One dedup window per minute: a sweep retried by the scheduler does not double-enqueue.
  const window = Math.floor(now / 60_000);
  let next: string | undefined;
  let seen = 0;
  do {
    const page = await deps.catalog.dueTargets(now, opts.pageSize ?? 100, next);
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
