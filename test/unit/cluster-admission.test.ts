// The worker's slot around a reconcile (lib/cluster-admission.ts) against the
// memory guard: what counts as the cluster answering (a 429 does, a source
// failure says nothing), how long a refused job waits, and the 429s handed
// to the guard on release.

import { describe, expect, it } from 'vitest';
import {
  admitToCluster,
  clusterAnswerFor,
  MAX_DEFER_SECONDS,
} from '../../lib/cluster-admission.js';
import { DriftlessError } from '../../lib/errors.js';
import { MemoryClusterGuard } from '../../lib/local/cluster-guard.js';
import { MemoryStore } from '../../lib/local/store.js';
import { ClusterSchema } from '../../lib/model/application.js';
import type { ClusterConnector, ThrottleReport } from '../../lib/ports/cluster.js';
import { DEFAULT_BREAKER_THRESHOLD } from '../../lib/ports/cluster-guard.js';

const err = (reason: ConstructorParameters<typeof DriftlessError>[0]) =>
  new DriftlessError(reason, 'x');

async function setup(concurrency: number, throttling: ThrottleReport = { throttled: 0 }) {
  let now = Date.parse('2026-12-01T00:00:00Z');
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const store = new MemoryStore();
  await store.putCluster(
    ClusterSchema.parse({
      apiVersion: 'driftless.dev/v1',
      kind: 'Cluster',
      metadata: { name: 'prod' },
      spec: { kubeconfig: { path: '/dev/null' }, concurrency },
    }),
  );
  const guard = new MemoryClusterGuard(clock);
  const clusters: ClusterConnector = {
    connect: async () => {
      throw new Error('not used');
    },
    takeThrottling: () => throttling,
  };
  const deps = { guard, store, clusters, clock };
  return { deps, guard, clock };
}

const target = { app: 'web', cluster: 'prod' };

describe('clusterAnswerFor', () => {
  it('counts only ClusterUnreachable as the cluster not answering; a 429 is an answer', () => {
    expect(clusterAnswerFor(undefined)).toBe('answered');
    expect(clusterAnswerFor(err('ClusterUnreachable'))).toBe('unreachable');
    expect(clusterAnswerFor(err('ClusterThrottled'))).toBe('answered');
    expect(clusterAnswerFor(err('ApplyRejected'))).toBe('answered');
    expect(clusterAnswerFor(err('SourceUnavailable'))).toBe('unknown');
    expect(clusterAnswerFor(err('LeaseHeld'))).toBe('unknown');
  });
});

describe('admitToCluster', () => {
  it('defers a job that finds the cluster full by a few seconds, with the reason', async () => {
    const { deps } = await setup(1);
    const held = await admitToCluster(deps, target);
    expect(held.granted).toBe(true);
    const refused = await admitToCluster(deps, target, { random: () => 0 });
    expect(refused).toMatchObject({ granted: false, error: { reason: 'ClusterDeferred' } });
    if (refused.granted) throw new Error('unreachable');
    expect(refused.error.message).toMatch(/at its concurrency \(1 of 1/);
    expect(refused.error.location.object).toBe('Cluster/prod');
    expect(refused.delaySeconds).toBeGreaterThanOrEqual(1);
    expect(refused.delaySeconds).toBeLessThanOrEqual(5);
  });

  it('opens the breaker through releases, and defers until the probe, capped at SQS delays', async () => {
    const { deps } = await setup(4);
    for (let i = 0; i < DEFAULT_BREAKER_THRESHOLD; i++) {
      const a = await admitToCluster(deps, target);
      if (!a.granted) throw new Error('expected a slot');
      await a.release(err('ClusterUnreachable'));
    }
    const refused = await admitToCluster(deps, target, { random: () => 0 });
    expect(refused.granted).toBe(false);
    if (refused.granted) throw new Error('unreachable');
    expect(refused.error.message).toMatch(/circuit breaker of cluster prod is open after 3/);
    expect(refused.delaySeconds).toBe(30);
    expect(refused.delaySeconds).toBeLessThanOrEqual(MAX_DEFER_SECONDS);
  });

  it("hands the connector's 429s and pause to the guard on release, without touching the breaker", async () => {
    const { deps, guard, clock } = await setup(4, {
      throttled: 7,
      backoffUntil: Date.parse('2026-12-01T00:00:02Z'),
    });
    const a = await admitToCluster(deps, target);
    if (!a.granted) throw new Error('expected a slot');
    await a.release(err('ClusterThrottled'));
    expect(await guard.state('prod', 4)).toMatchObject({
      breaker: 'closed',
      failures: 0,
      throttled: 7,
      backoffUntil: '2026-12-01T00:00:02.000Z',
    });
    const refused = await admitToCluster(deps, target);
    expect(refused).toMatchObject({ granted: false });
    clock.advance(2_000);
    expect((await admitToCluster(deps, target)).granted).toBe(true);
  });

  it('grants without a guard or for an unregistered cluster (the reconcile says so)', async () => {
    const { deps } = await setup(1);
    expect((await admitToCluster({ ...deps, guard: undefined }, target)).granted).toBe(true);
    expect((await admitToCluster(deps, { app: 'web', cluster: 'nowhere' })).granted).toBe(true);
  });
});
