// The cluster guard's contract, against DynamoDB (moto) and the memory guard
// alike: at most `concurrency` slots, a crashed holder's slot expiring, the
// circuit breaker (open after the threshold, one half-open probe after a
// cool-down that doubles, closed when the cluster answers), a 429's pause
// refusing everyone until it ends; and, on DynamoDB, racing acquires that
// never hand out more slots than the cluster has.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoClusterGuard } from '../../lib/aws/cluster-guard.js';
import { MemoryClusterGuard } from '../../lib/local/cluster-guard.js';
import {
  type Admission,
  type ClusterGuard,
  type ClusterSlot,
  DEFAULT_BREAKER_COOL_DOWN_MS,
  DEFAULT_BREAKER_THRESHOLD,
} from '../../lib/ports/cluster-guard.js';
import { awsClientConfig } from '../support/aws.js';
import {
  createDriftlessTable,
  type ManualClock,
  manualClock,
  serializingProxy,
} from '../support/dynamo.js';
import { testenv, uniqueName } from '../support/env.js';

const TTL = 60_000;

function slotOf(a: Admission): ClusterSlot {
  if (!a.granted) throw new Error(`expected a slot, got ${a.reason}: ${a.message}`);
  return a.slot;
}

const adapters: [string, (clock: ManualClock) => Promise<ClusterGuard>][] = [
  [
    'DynamoClusterGuard',
    async (clock) => {
      const { client, tableName } = await createDriftlessTable('guard');
      return new DynamoClusterGuard({ client, tableName, clock });
    },
  ],
  ['MemoryClusterGuard', async (clock) => new MemoryClusterGuard(clock)],
];

describe.each(adapters)('%s', (_name, make) => {
  let clock: ManualClock;
  let guard: ClusterGuard;
  beforeAll(async () => {
    clock = manualClock();
    guard = await make(clock);
  });
  const acquire = (cluster: string, holder: string, concurrency = 2, ttlMs = TTL) =>
    guard.acquire({ cluster, holder, concurrency, ttlMs });

  it('hands out at most `concurrency` slots and gives one back on release', async () => {
    const c = uniqueName('slots');
    const a = slotOf(await acquire(c, 'a'));
    slotOf(await acquire(c, 'b'));
    const refused = await acquire(c, 'c');
    expect(refused).toMatchObject({ granted: false, reason: 'full' });
    expect(refused.granted || refused.message).toMatch(/2 of 2 reconciles running/);
    expect(await guard.state(c, 2)).toMatchObject({
      slotsInUse: 2,
      concurrency: 2,
      breaker: 'closed',
    });
    await guard.release(a, { reached: 'answered' });
    slotOf(await acquire(c, 'c'));
    expect((await guard.state(c, 2)).slotsInUse).toBe(2);
  });

  it("frees a crashed holder's slot when it expires", async () => {
    const c = uniqueName('expiry');
    slotOf(await acquire(c, 'crashed', 1, 1_000));
    expect(await acquire(c, 'next', 1)).toMatchObject({ granted: false, reason: 'full' });
    clock.advance(1_001);
    expect((await guard.state(c, 1)).slotsInUse).toBe(0);
    slotOf(await acquire(c, 'next', 1));
  });

  it('opens the breaker after the threshold, probes once after a doubling cool-down, closes on an answer', async () => {
    const c = uniqueName('breaker');
    for (let i = 0; i < DEFAULT_BREAKER_THRESHOLD; i++) {
      expect((await guard.state(c, 4)).breaker).toBe('closed');
      const s = slotOf(await acquire(c, `r${i}`, 4));
      await guard.release(s, { reached: 'unreachable', error: 'connect ECONNREFUSED' });
    }
    const opened = await guard.state(c, 4);
    expect(opened).toMatchObject({
      breaker: 'open',
      failures: DEFAULT_BREAKER_THRESHOLD,
      lastError: 'connect ECONNREFUSED',
      slotsInUse: 0,
      since: new Date(clock.now()).toISOString(),
      probeAt: new Date(clock.now() + DEFAULT_BREAKER_COOL_DOWN_MS).toISOString(),
    });
    const refused = await acquire(c, 'early', 4);
    expect(refused).toMatchObject({
      granted: false,
      reason: 'open',
      retryAt: clock.now() + DEFAULT_BREAKER_COOL_DOWN_MS,
    });
    // A failure that did not reach the cluster changes nothing (it is not an answer).
    clock.advance(DEFAULT_BREAKER_COOL_DOWN_MS);
    const probe = slotOf(await acquire(c, 'probe', 4));
    expect(probe.probe).toBe(true);
    expect((await guard.state(c, 4)).breaker).toBe('half-open');
    expect(await acquire(c, 'second', 4)).toMatchObject({ granted: false, reason: 'open' });
    await guard.release(probe, { reached: 'unreachable', error: 'still down' });
    const reopened = await guard.state(c, 4);
    expect(reopened.breaker).toBe('open');
    expect(reopened.probeAt).toBe(
      new Date(clock.now() + 2 * DEFAULT_BREAKER_COOL_DOWN_MS).toISOString(),
    );
    clock.advance(2 * DEFAULT_BREAKER_COOL_DOWN_MS);
    const unknown = slotOf(await acquire(c, 'probe-2', 4));
    await guard.release(unknown, { reached: 'unknown', error: 'git fetch failed' });
    // The probe never asked the cluster: the next job probes.
    const probe3 = slotOf(await acquire(c, 'probe-3', 4));
    expect(probe3.probe).toBe(true);
    await guard.release(probe3, { reached: 'answered' });
    expect(await guard.state(c, 4)).toMatchObject({
      breaker: 'closed',
      failures: 0,
      since: new Date(clock.now()).toISOString(),
    });
    slotOf(await acquire(c, 'after', 4));
  });

  it("refuses everyone during a 429's pause, and counts the 429s", async () => {
    const c = uniqueName('backoff');
    const s = slotOf(await acquire(c, 'throttled'));
    await guard.release(s, {
      reached: 'answered',
      throttled: 3,
      backoffUntil: clock.now() + 5_000,
    });
    const state = await guard.state(c, 2);
    expect(state).toMatchObject({ breaker: 'closed', throttled: 3, slotsInUse: 0 });
    expect(state.backoffUntil).toBe(new Date(clock.now() + 5_000).toISOString());
    expect(await acquire(c, 'other')).toMatchObject({
      granted: false,
      reason: 'backoff',
      retryAt: clock.now() + 5_000,
    });
    clock.advance(5_000);
    expect((await guard.state(c, 2)).backoffUntil).toBeUndefined();
    slotOf(await acquire(c, 'other'));
  });
});

describe('DynamoClusterGuard under racing workers', () => {
  it('never grants more slots than the concurrency, however many race for them', async () => {
    const { tableName } = await createDriftlessTable('guard-race');
    // Concurrent on the client side, applied one after another like DynamoDB does.
    const proxy = await serializingProxy(testenv().aws.endpoint);
    try {
      const clock = manualClock();
      const guard = new DynamoClusterGuard({
        client: new DynamoDBClient({ ...awsClientConfig(), endpoint: proxy.endpoint }),
        tableName,
        clock,
      });
      for (const [concurrency, racers] of [
        [1, 4],
        [2, 6],
        [3, 5],
      ] as const) {
        const c = uniqueName('race');
        const results = await Promise.all(
          Array.from({ length: racers }, (_, i) =>
            guard.acquire({ cluster: c, holder: `w${i}`, concurrency, ttlMs: TTL }),
          ),
        );
        const granted = results.filter((r) => r.granted);
        expect(granted).toHaveLength(concurrency);
        expect(
          results.filter((r) => !r.granted).every((r) => !r.granted && r.reason === 'full'),
        ).toBe(true);
        expect((await guard.state(c, concurrency)).slotsInUse).toBe(concurrency);
        // Releases racing with acquires: every release lands, no slot is lost or doubled.
        const again = await Promise.all([
          ...granted.map((g) => guard.release(slotOf(g), { reached: 'answered' })),
          ...Array.from({ length: concurrency }, (_, i) =>
            guard.acquire({ cluster: c, holder: `late${i}`, concurrency, ttlMs: TTL }),
          ),
        ]);
        const late = again.filter((r): r is Admission => r?.granted === true);
        expect(late.length).toBeLessThanOrEqual(concurrency);
        expect((await guard.state(c, concurrency)).slotsInUse).toBe(late.length);
      }
    } finally {
      await proxy.close();
    }
  });
});
