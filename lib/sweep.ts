// The scheduled drift sweep: page through the targets whose interval is due,
// skip suspended ones, enqueue a bounded number per cluster (so one sweep
// cannot flood one API server; the rest stay due for the next run), and
// push each enqueued target's next due time out by its interval with jitter,
// so targets registered together do not stay in lockstep.
//
// Fair to every target: each tick starts reading the due targets somewhere
// else (the catalog's rotation), so the same ones are not always first when
// a limit cuts the list; a cluster its guard holds back (breaker open, a
// 429's pause) gets no jobs, and its targets stay due without using up the
// cluster's limit or a due-time write.

import { mapBounded } from './concurrency.js';
import { type Clock, systemClock } from './ports/clock.js';
import type { ClusterGuard } from './ports/cluster-guard.js';
import type { JobQueue, QueuedJob } from './ports/queue.js';
import { type Catalog, DEFAULT_PAGE_SIZE, type TargetRecord } from './ports/store.js';

/** Most jobs one sweep enqueues per cluster. */
export const DEFAULT_SWEEP_PER_CLUSTER_LIMIT = 50;
/** Most targets one sweep looks at. */
export const DEFAULT_SWEEP_MAX_TARGETS = 5_000;
/** Fraction of a target's interval its next due time is jittered by (0.1 = ±10%). */
export const DEFAULT_SWEEP_JITTER = 0.1;
/** Due-time writes in flight at once. */
export const DEFAULT_SWEEP_WRITE_CONCURRENCY = 16;
/** The sweep's dedup window and rotation step: one per minute (the shortest schedule rate). */
const SWEEP_WINDOW_MS = 60_000;

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
  /** Due-time writes in flight at once (default DEFAULT_SWEEP_WRITE_CONCURRENCY). */
  writeConcurrency?: number;
  /** Where the catalog starts reading (default: the tick's number, so each tick starts elsewhere). */
  rotation?: number;
}

export interface SweepResult {
  enqueued: { app: string; cluster: string }[];
  skippedSuspended: number;
  /** Left due: over the per-cluster limit. */
  deferred: number;
  /** Left due: their cluster's guard holds it back (breaker open, 429 pause), by cluster. */
  heldBack: Record<string, { targets: number; reason: string }>;
}

export async function sweep(
  deps: { catalog: Catalog; queue: JobQueue; clock?: Clock; guard?: ClusterGuard },
  opts: SweepOptions = {},
): Promise<SweepResult> {
  const clock = deps.clock ?? systemClock;
  const now = clock.now();
  const perCluster = opts.perClusterLimit ?? DEFAULT_SWEEP_PER_CLUSTER_LIMIT;
  const maxTargets = opts.maxTargets ?? DEFAULT_SWEEP_MAX_TARGETS;
  const random = opts.random ?? Math.random;
  const jitter = opts.jitter ?? DEFAULT_SWEEP_JITTER;
  const counts = new Map<string, number>();
  const result: SweepResult = { enqueued: [], skippedSuspended: 0, deferred: 0, heldBack: {} };
  // One dedup window per minute: a sweep run twice in a minute does not double-enqueue.
  const window = Math.floor(now / SWEEP_WINDOW_MS);
  const rotation = opts.rotation ?? window;
  // Why a cluster is held back this sweep (read once per cluster), or undefined.
  const holds = new Map<string, Promise<string | undefined>>();
  const heldBack = (cluster: string) => {
    let hold = holds.get(cluster);
    if (!hold) {
      hold = clusterHold(deps.guard, cluster, now);
      holds.set(cluster, hold);
    }
    return hold;
  };
  let next: string | undefined;
  let seen = 0;
  do {
    const page = await deps.catalog.dueTargets(
      now,
      opts.pageSize ?? DEFAULT_PAGE_SIZE,
      next,
      rotation,
    );
    next = page.next;
    const batch: { job: QueuedJob; target: TargetRecord }[] = [];
    for (const t of page.items) {
      seen++;
      if (t.suspended) {
        result.skippedSuspended++;
        continue;
      }
      const hold = await heldBack(t.cluster);
      if (hold) {
        const h = result.heldBack[t.cluster] ?? { targets: 0, reason: hold };
        h.targets++;
        result.heldBack[t.cluster] = h;
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
      const dueAt = batch.map(({ target }) => {
        const spread = target.intervalMs * jitter * (2 * random() - 1);
        return now + target.intervalMs + Math.round(spread);
      });
      await mapBounded(
        batch,
        opts.writeConcurrency ?? DEFAULT_SWEEP_WRITE_CONCURRENCY,
        ({ target }, i) => deps.catalog.setNextDue(target, dueAt[i] as number),
      );
      for (const { target } of batch) {
        result.enqueued.push({ app: target.app, cluster: target.cluster });
      }
    }
  } while (next && seen < maxTargets);
  return result;
}

/**
 * Why the guard holds a cluster back now: its breaker open (until the probe
 * is due: the worker then lets one job through) or a 429's pause.
 */
async function clusterHold(
  guard: ClusterGuard | undefined,
  cluster: string,
  now: number,
): Promise<string | undefined> {
  if (!guard) return undefined;
  const g = await guard.state(cluster, 0);
  if (g.backoffUntil) return `throttled (429) until ${g.backoffUntil}`;
  if (g.breaker === 'open' && g.probeAt && Date.parse(g.probeAt) > now) {
    return `circuit breaker open until ${g.probeAt}`;
  }
  return undefined;
}
