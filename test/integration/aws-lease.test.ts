// DynamoLeaseManager against moto: one holder at a time, expiry, renew and
// release of one's own lease only, monotonic tokens, a real race, and the
// fencing that keeps a holder whose lease was taken over from writing status.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoCatalog } from '../../lib/aws/catalog/index.js';
import { DynamoLeaseManager } from '../../lib/aws/lease.js';
import { ApplicationSchema } from '../../lib/model/application.js';
import type { OperationResult, TargetStatus } from '../../lib/model/status.js';
import type { TargetId } from '../../lib/model/target.js';
import type { Lease } from '../../lib/ports/lease.js';
import { awsClientConfig } from '../support/aws.js';
import {
  createDriftlessTable,
  type ManualClock,
  manualClock,
  serializingProxy,
} from '../support/dynamo.js';
import { testenv, uniqueName } from '../support/env.js';

function status(target: TargetId, health: TargetStatus['health']): TargetStatus {
  return {
    ...target,
    sync: 'Synced',
    health,
    resources: [],
    inventory: [],
    conditions: [],
  };
}

function operation(id: string): OperationResult {
  return {
    id,
    trigger: 'sweep',
    revision: 'abc',
    phase: 'Succeeded',
    message: 'ok',
    startedAt: '2026-03-01T12:00:00.000Z',
    attempt: 1,
    applied: 0,
    pruned: 0,
    drifted: 0,
  };
}

describe('DynamoLeaseManager', () => {
  let client: DynamoDBClient;
  let tableName: string;
  let clock: ManualClock;
  let leases: DynamoLeaseManager;
  const target = (): TargetId => ({ app: uniqueName('app'), cluster: 'prod' });

  beforeAll(async () => {
    ({ client, tableName } = await createDriftlessTable('leases'));
    clock = manualClock();
    leases = new DynamoLeaseManager({ client, tableName, clock });
  });

  it('gives a free target to one holder until it expires, with growing tokens', async () => {
    const t = target();
    const a = await leases.acquire(t, 'worker-a', 60_000);
    expect(a).toEqual({
      target: t,
      holder: 'worker-a',
      fencingToken: 1,
      expiresAt: clock.now() + 60_000,
    });
    expect(await leases.acquire(t, 'worker-b', 60_000)).toBeUndefined();
    // The holder itself may take it again (a redelivered job): a new token.
    expect((await leases.acquire(t, 'worker-a', 60_000))?.fencingToken).toBe(2);
    clock.advance(60_000);
    const b = await leases.acquire(t, 'worker-b', 60_000);
    expect(b?.fencingToken).toBe(3);
    expect(await leases.acquire(t, 'worker-a', 60_000)).toBeUndefined();
  });

  it('renews only its own lease; a lease taken over fails to renew with LeaseLost', async () => {
    const t = target();
    const a = (await leases.acquire(t, 'worker-a', 10_000)) as Lease;
    clock.advance(8_000);
    const renewed = await leases.renew(a, 10_000);
    expect(renewed).toEqual({ ...a, expiresAt: clock.now() + 10_000 });
    clock.advance(8_000); // 16 s after acquiring, 8 s after renewing: still held
    expect(await leases.acquire(t, 'worker-b', 10_000)).toBeUndefined();
    clock.advance(3_000);
    const b = (await leases.acquire(t, 'worker-b', 10_000)) as Lease;
    expect(b.fencingToken).toBe(a.fencingToken + 1);
    await expect(leases.renew(renewed, 10_000)).rejects.toMatchObject({
      reason: 'LeaseLost',
      message: expect.stringContaining('worker-b'),
    });
  });

  it('releases only its own lease, and the token keeps growing after a release', async () => {
    const t = target();
    const a = (await leases.acquire(t, 'worker-a', 60_000)) as Lease;
    await leases.release(a);
    await leases.release(a); // twice is fine
    await expect(leases.renew(a, 1_000)).rejects.toMatchObject({ reason: 'LeaseLost' });
    const b = (await leases.acquire(t, 'worker-b', 60_000)) as Lease;
    expect(b.fencingToken).toBe(2);
    await leases.release(a); // a stale release must not free b's lease
    expect(await leases.acquire(t, 'worker-c', 60_000)).toBeUndefined();
    await leases.release(b);
    expect((await leases.acquire(t, 'worker-c', 60_000))?.fencingToken).toBe(3);
  });

  it('lets exactly one of several racing holders win', async () => {
    // moto's threaded server does not serialize conditional writes to one item
    // (racing acquires both win there, 1 in 3 on a new item); DynamoDB does.
    // Through serializingProxy the acquires are still in flight together, and
    // are applied one after another, as DynamoDB applies them.
    const proxy = await serializingProxy(testenv().aws.endpoint);
    try {
      const racing = new DynamoLeaseManager({
        client: new DynamoDBClient({ ...awsClientConfig(), endpoint: proxy.endpoint }),
        tableName,
        clock,
      });
      for (let round = 0; round < 20; round++) {
        const t = target();
        if (round % 2) await racing.release((await racing.acquire(t, 'earlier', 1)) as Lease);
        const holders = Array.from({ length: round % 4 < 2 ? 2 : 6 }, (_, i) => `racer-${i}`);
        const results = await Promise.all(holders.map((h) => racing.acquire(t, h, 60_000)));
        const winners = results.filter((r): r is Lease => r !== undefined);
        expect(winners).toHaveLength(1);
        expect(winners[0]?.fencingToken).toBe(round % 2 ? 2 : 1);
      }
    } finally {
      await proxy.close();
    }
  });

  it('fences out a holder whose lease expired and was taken: A is rejected, B writes', async () => {
    const t = target();
    const catalog = new DynamoCatalog({ client, tableName, clock });
    const a = (await leases.acquire(t, 'worker-a', 30_000)) as Lease;
    await catalog.putTargetStatus(status(t, 'Progressing'), a.fencingToken);
    clock.advance(31_000); // A stalls past its lease
    const b = (await leases.acquire(t, 'worker-b', 30_000)) as Lease;
    expect(b.fencingToken).toBeGreaterThan(a.fencingToken);

    // Rejected as soon as B holds the lease, before B has written anything.
    await expect(
      catalog.putTargetStatus(status(t, 'Degraded'), a.fencingToken),
    ).rejects.toMatchObject({
      reason: 'LeaseLost',
      message: expect.stringContaining('newer lease'),
    });
    await expect(
      catalog.appendHistory(t, operation('from-a'), a.fencingToken),
    ).rejects.toMatchObject({ reason: 'LeaseLost' });
    expect((await catalog.getTargetStatus(t))?.health).toBe('Progressing');

    await catalog.putTargetStatus(status(t, 'Healthy'), b.fencingToken);
    await catalog.appendHistory(t, operation('from-b'), b.fencingToken);
    expect((await catalog.getTargetStatus(t))?.health).toBe('Healthy');
    expect((await catalog.listHistory(t)).map((o) => o.id)).toEqual(['from-b']);

    // Still rejected after B released: tokens never go back.
    await leases.release(b);
    await expect(
      catalog.putTargetStatus(status(t, 'Degraded'), a.fencingToken),
    ).rejects.toMatchObject({ reason: 'LeaseLost' });
  });

  it('keeps the lease and the target record on the same item without disturbing each other', async () => {
    const catalog = new DynamoCatalog({ client, tableName, clock });
    const app = uniqueName('app');
    const t = { app, cluster: 'prod' };
    await catalog.putApplication(
      ApplicationSchema.parse({
        apiVersion: 'driftless.dev/v1',
        kind: 'Application',
        metadata: { name: app },
        spec: {
          source: { repoURL: 'https://example.com/a/b.git' },
          destinations: [{ cluster: 'prod' }],
        },
      }),
    );
    const lease = (await leases.acquire(t, 'worker-a', 60_000)) as Lease;
    await catalog.recordWantedRevision(t, 'c0ffee', 5);
    // Re-registering the app (say, a new interval) keeps the lease.
    await catalog.putApplication((await catalog.getApplication(app))!);
    expect(await leases.acquire(t, 'worker-b', 60_000)).toBeUndefined();
    await leases.renew(lease, 60_000);
    expect(await catalog.getTargetRecord(t)).toMatchObject({ wantedRevision: 'c0ffee' });
  });
});
