// The drift sweep's tick (EventBridge Scheduler, once a minute; a timer in
// local mode, every few seconds): one sweep job per cluster on the job queue, which the worker
// runs (lib/sweep/cluster.ts) with the cluster's and the sources' access. A
// cluster its guard holds back (breaker open, a 429's pause) gets none this
// tick. A tick is the period it falls in (the minute), so a tick run twice is
// deduplicated by the queue and a repeated sweep job finds its tick swept.

import { type Clock, systemClock } from '../ports/clock.js';
import type { ClusterGuard } from '../ports/cluster-guard.js';
import type { JobQueue, QueuedSweep } from '../ports/queue.js';
import { type Catalog, DEFAULT_PAGE_SIZE } from '../ports/store.js';

export {
  type ClusterSweepDeps,
  type ClusterSweepOptions,
  type ClusterSweepResult,
  DEFAULT_SWEEP_PER_CLUSTER_LIMIT,
  isDue,
  type SweepReason,
  sweepCluster,
} from './cluster.js';

/** The sweep's period: a tick is the minute it falls in (the shortest schedule rate). */
export const SWEEP_TICK_MS = 60_000;

/** The shortest tick a caller may ask for (local mode and tests tick faster than production). */
const MIN_SWEEP_TICK_MS = 1_000;

export interface SweepTickResult {
  /** Epoch ms of the tick (the start of its minute). */
  tick: number;
  /** Clusters a sweep job was queued for. */
  clusters: string[];
  /** Clusters held back this tick, and why. */
  heldBack: Record<string, string>;
}

export interface SweepTickOptions {
  /** How often ticks come (default SWEEP_TICK_MS; local mode ticks faster). */
  periodMs?: number;
}

export async function sweepTick(
  deps: { catalog: Catalog; queue: JobQueue; clock?: Clock; guard?: ClusterGuard },
  opts: SweepTickOptions = {},
): Promise<SweepTickResult> {
  const clock = deps.clock ?? systemClock;
  const now = clock.now();
  const period = Math.max(MIN_SWEEP_TICK_MS, opts.periodMs ?? SWEEP_TICK_MS);
  const tick = Math.floor(now / period) * period;
  const result: SweepTickResult = { tick, clusters: [], heldBack: {} };
  let next: string | undefined;
  do {
    const page = await deps.catalog.listClusters(DEFAULT_PAGE_SIZE, next);
    next = page.next;
    const jobs: QueuedSweep[] = [];
    for (const c of page.items) {
      const name = c.metadata.name;
      const hold = await clusterHold(deps.guard, name, now);
      if (hold) {
        result.heldBack[name] = hold;
        continue;
      }
      result.clusters.push(name);
      jobs.push({
        dedupId: `sweep#${name}:${tick}`,
        job: {
          kind: 'cluster-sweep',
          cluster: name,
          tick,
          enqueuedAt: new Date(now).toISOString(),
        },
      });
    }
    if (jobs.length) await deps.queue.enqueueSweeps(jobs);
  } while (next);
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
