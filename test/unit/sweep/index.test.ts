// The sweep's tick: one sweep job per cluster, the tick being the minute (so
// a tick run twice queues the same, deduplicated job), and clusters the guard
// holds back (breaker open, a 429's pause) get none until the hold is over.

import { describe, expect, it } from 'vitest';
import { MemoryClusterGuard } from '../../../lib/local/cluster-guard.js';
import { MemoryStore } from '../../../lib/local/store.js';
import { ClusterSchema } from '../../../lib/model/application.js';
import type { ClusterSlot } from '../../../lib/ports/cluster-guard.js';
import { DEFAULT_BREAKER_THRESHOLD } from '../../../lib/ports/cluster-guard.js';
import { SWEEP_TICK_MS, sweepTick } from '../../../lib/sweep/index.js';
import { RecordingQueue } from '../../support/recording-queue.js';

const NOW = Date.parse('2026-11-22T00:00:00Z');

async function storeWith(clusters: string[]) {
  const store = new MemoryStore();
  for (const name of clusters) {
    await store.putCluster(
      ClusterSchema.parse({
        apiVersion: 'driftless.dev/v1',
        kind: 'Cluster',
        metadata: { name },
        spec: { eks: { name, region: 'eu-west-1' } },
      }),
    );
  }
  return store;
}

async function openBreaker(guard: MemoryClusterGuard, cluster: string) {
  for (let i = 0; i < DEFAULT_BREAKER_THRESHOLD; i++) {
    const a = await guard.acquire({ cluster, holder: `h${i}`, concurrency: 4, ttlMs: 60_000 });
    await guard.release((a as { slot: ClusterSlot }).slot, {
      reached: 'unreachable',
      error: 'down',
    });
  }
}

describe('sweepTick', () => {
  it('queues one sweep job per cluster, across pages of clusters, for the minute it runs in', async () => {
    const names = Array.from({ length: 130 }, (_, i) => `c-${String(i).padStart(3, '0')}`);
    const store = await storeWith(names);
    const queue = new RecordingQueue();
    const at = NOW + 42_000;
    const result = await sweepTick({ catalog: store, queue, clock: { now: () => at } });
    expect(result.tick).toBe(NOW);
    expect(result.clusters).toEqual(names);
    expect(queue.sweeps.map((s) => s.job.cluster)).toEqual(names);
    expect(queue.sweeps[0]).toEqual({
      dedupId: `sweep#c-000:${NOW}`,
      job: {
        kind: 'cluster-sweep',
        cluster: 'c-000',
        tick: NOW,
        enqueuedAt: new Date(at).toISOString(),
      },
    });
    expect(queue.sent).toEqual([]);
    // Run again within the minute: the same ids (the queue drops them); the next minute: new ones.
    const again = new RecordingQueue();
    await sweepTick({ catalog: store, queue: again, clock: { now: () => NOW + 59_999 } });
    expect(again.sweeps.map((s) => s.dedupId)).toEqual(queue.sweeps.map((s) => s.dedupId));
    const next = new RecordingQueue();
    await sweepTick({ catalog: store, queue: next, clock: { now: () => NOW + SWEEP_TICK_MS } });
    expect(next.sweeps[0]?.job.tick).toBe(NOW + SWEEP_TICK_MS);
  });

  it('gives a cluster whose breaker is open no sweep, and says why', async () => {
    const store = await storeWith(['down', 'up']);
    const clock = { now: () => NOW };
    const guard = new MemoryClusterGuard(clock);
    await openBreaker(guard, 'down');
    const queue = new RecordingQueue();
    const result = await sweepTick({ catalog: store, queue, clock, guard });
    expect(queue.sweeps.map((s) => s.job.cluster)).toEqual(['up']);
    expect(result.heldBack.down).toMatch(/circuit breaker open until/);
  });

  it("holds back a cluster during a 429's pause, and sweeps it once the pause is over", async () => {
    const store = await storeWith(['busy']);
    let now = NOW;
    const clock = { now: () => now };
    const guard = new MemoryClusterGuard(clock);
    const a = await guard.acquire({ cluster: 'busy', holder: 'h', concurrency: 4, ttlMs: 60_000 });
    await guard.release((a as { slot: ClusterSlot }).slot, {
      reached: 'answered',
      throttled: 1,
      backoffUntil: now + 10_000,
    });
    const first = await sweepTick({ catalog: store, queue: new RecordingQueue(), clock, guard });
    expect(first.clusters).toEqual([]);
    expect(first.heldBack.busy).toMatch(/throttled \(429\) until/);
    now += 10_000;
    const queue = new RecordingQueue();
    await sweepTick({ catalog: store, queue, clock, guard });
    expect(queue.sweeps.map((s) => s.job.cluster)).toEqual(['busy']);
  });
});
