// DynamoLeaseManager against moto: a real race, through a proxy that applies
// conditional writes one at a time as DynamoDB does. The LeaseManager's
// contract (expiry, renew and release, monotonic tokens, fencing of the
// catalog's writes) runs against it in test/integration/contract.test.ts.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoLeaseManager } from '../../lib/aws/lease.js';
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

describe('DynamoLeaseManager', () => {
  let tableName: string;
  let clock: ManualClock;
  const target = (): TargetId => ({ app: uniqueName('app'), cluster: 'prod' });

  beforeAll(async () => {
    ({ tableName } = await createDriftlessTable('leases'));
    clock = manualClock();
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
});
