// The sweep's fairness: each tick starts reading the due targets elsewhere
// (the catalog's rotation), clusters the guard holds back (breaker open, a
// 429's pause) get no jobs and their targets stay due without using the
// cluster's limit, and due-time writes run in parallel, bounded.

import { describe, expect, it } from 'vitest';
import { MemoryClusterGuard } from '../../lib/local/cluster-guard.js';
import { MemoryStore } from '../../lib/local/store.js';
import { ApplicationSchema } from '../../lib/model/application.js';
import type { TargetId } from '../../lib/model/target.js';
import type { ClusterSlot } from '../../lib/ports/cluster-guard.js';
import { DEFAULT_BREAKER_THRESHOLD } from '../../lib/ports/cluster-guard.js';
import type { JobQueue, QueuedJob, ReconcileJob } from '../../lib/ports/queue.js';
import { sweep } from '../../lib/sweep.js';

class RecordingQueue implements JobQueue {
  sent: QueuedJob[] = [];
  async enqueue(jobs: QueuedJob[]) {
    this.sent.push(...jobs);
  }
  async enqueueDelayed(_job: ReconcileJob, _delaySeconds: number) {}
}

const app = (name: string, clusters: string[]) =>
  ApplicationSchema.parse({
    apiVersion: 'driftless.dev/v1',
    kind: 'Application',
    metadata: { name },
    spec: {
      source: { repoURL: 'https://github.com/acme/deploy.git', revision: 'main', path: name },
      destinations: clusters.map((c) => ({ cluster: c, namespace: name })),
    },
  });

const NOW = Date.parse('2026-11-22T00:00:00Z');

async function storeWith(apps: number, clusters: string[]) {
  const store = new MemoryStore();
  for (let i = 0; i < apps; i++) await store.putApplication(app(`app-${i}`, clusters));
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

describe('sweep', () => {
  it('starts each tick somewhere else, and keeps the rotation across the pages of one tick', async () => {
    const rotations: (number | undefined)[][] = [];
    for (const minute of [0, 1, 2]) {
      const store = await storeWith(6, ['prod']);
      const current: (number | undefined)[] = [];
      rotations.push(current);
      const catalog = Object.assign(Object.create(store) as MemoryStore, {
        dueTargets: (now: number, limit?: number, next?: string, rotation?: number) => {
          current.push(rotation);
          return store.dueTargets(now, limit, next, rotation);
        },
      });
      const at = NOW + minute * 60_000;
      const result = await sweep(
        { catalog, queue: new RecordingQueue(), clock: { now: () => at } },
        { pageSize: 2 },
      );
      expect(result.enqueued).toHaveLength(6);
    }
    // Three pages a tick (six due, two a page), one rotation a tick, a new one each tick.
    for (const r of rotations) {
      expect(r).toHaveLength(3);
      expect(new Set(r).size).toBe(1);
    }
    expect(new Set(rotations.map((r) => r[0])).size).toBe(3);
  });

  it('enqueues every due target across pages in local mode (the memory catalog pages by key)', async () => {
    const store = await storeWith(7, ['prod']);
    const queue = new RecordingQueue();
    const result = await sweep(
      { catalog: store, queue, clock: { now: () => NOW } },
      { pageSize: 2 },
    );
    expect(result.enqueued.map((t) => t.app).sort()).toEqual(
      Array.from({ length: 7 }, (_, i) => `app-${i}`).sort(),
    );
  });

  it('gives a held-back cluster no jobs, leaves its targets due, and does not count them', async () => {
    const store = await storeWith(5, ['down', 'up']);
    const clock = { now: () => NOW };
    const guard = new MemoryClusterGuard(clock);
    await openBreaker(guard, 'down');
    const queue = new RecordingQueue();
    const result = await sweep({ catalog: store, queue, clock, guard }, { perClusterLimit: 3 });
    const clusters = queue.sent.map((j) => j.job.cluster);
    expect(clusters.filter((c) => c === 'down')).toEqual([]);
    expect(clusters.filter((c) => c === 'up')).toHaveLength(3);
    expect(result.heldBack.down).toMatchObject({ targets: 5 });
    expect(result.heldBack.down?.reason).toMatch(/circuit breaker open until/);
    // Over the limit: only the two 'up' targets past it.
    expect(result.deferred).toBe(2);
    const due = (t: TargetId) => store.getTargetRecord(t).then((r) => r?.nextDueAt);
    for (let i = 0; i < 5; i++) expect(await due({ app: `app-${i}`, cluster: 'down' })).toBe(0);
  });

  it("holds back a cluster during a 429's pause, and sweeps it once the pause is over", async () => {
    const store = await storeWith(2, ['busy']);
    let now = NOW;
    const clock = { now: () => now };
    const guard = new MemoryClusterGuard(clock);
    const a = await guard.acquire({ cluster: 'busy', holder: 'h', concurrency: 4, ttlMs: 60_000 });
    await guard.release((a as { slot: ClusterSlot }).slot, {
      reached: 'answered',
      throttled: 1,
      backoffUntil: now + 10_000,
    });
    const first = await sweep({ catalog: store, queue: new RecordingQueue(), clock, guard });
    expect(first.enqueued).toEqual([]);
    expect(first.heldBack.busy?.reason).toMatch(/throttled \(429\) until/);
    now += 10_000;
    const queue = new RecordingQueue();
    const second = await sweep({ catalog: store, queue, clock, guard });
    expect(second.enqueued).toHaveLength(2);
  });

  it('writes due times in parallel, at most writeConcurrency at once', async () => {
    const store = await storeWith(12, ['prod']);
    let inFlight = 0;
    let most = 0;
    const catalog = Object.assign(Object.create(store) as MemoryStore, {
      setNextDue: async (t: TargetId, at: number) => {
        inFlight++;
        most = Math.max(most, inFlight);
        // Yield a few turns so other writes can start meanwhile.
        for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
        await store.setNextDue(t, at);
        inFlight--;
      },
    });
    const result = await sweep(
      { catalog, queue: new RecordingQueue(), clock: { now: () => NOW } },
      { writeConcurrency: 4 },
    );
    expect(result.enqueued).toHaveLength(12);
    expect(most).toBe(4);
    for (let i = 0; i < 12; i++) {
      const r = await store.getTargetRecord({ app: `app-${i}`, cluster: 'prod' });
      expect(r?.nextDueAt).toBeGreaterThan(NOW);
    }
  });
});
