// DynamoCatalog against moto, what is particular to DynamoDB: the table, the
// compressed 1000-object status and the item limit, the cheap timestamp-only
// write, trimming and TTL of history, and what each request reports as
// consumed capacity. The Catalog's contract (paging, records, fencing,
// tombstones) runs against it in test/integration/contract.test.ts.

import { createHash } from 'node:crypto';
import {
  type ConsumedCapacity,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoCatalog, MAX_STATUS_BYTES } from '../../lib/aws/catalog/index.js';
import type { CapacityEstimate } from '../../lib/aws/dynamo/capacity.js';
import {
  ATTR,
  LIST_INDEX,
  sweepTargetKey,
  targetRecordKey,
  targetStatusKey,
} from '../../lib/aws/dynamo/schema.js';
import type { OperationResult, TargetStatus } from '../../lib/model/status.js';
import type { TargetId } from '../../lib/model/target.js';
import { application } from '../support/contract/fixtures.js';
import { createDriftlessTable, type ManualClock, manualClock } from '../support/dynamo.js';

function status(target: TargetId, resources = 3, extra: Partial<TargetStatus> = {}): TargetStatus {
  const hex = (s: string) => createHash('sha256').update(s).digest('hex');
  return {
    app: target.app,
    cluster: target.cluster,
    wantedRevision: hex('wanted').slice(0, 40),
    syncedRevision: hex('synced').slice(0, 40),
    sync: 'Synced',
    health: 'Healthy',
    resources: Array.from({ length: resources }, (_, i) => ({
      key: `apps/Deployment/team-${i % 17}/web-${i}`,
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: `team-${i % 17}`,
      name: `web-${i}`,
      sync: 'Synced' as const,
      health: {
        status: 'Healthy' as const,
        message: `${(i % 3) + 1}/${(i % 3) + 1} replicas available`,
      },
      reason: i % 50 === 0 ? 'applied' : undefined,
      wave: i % 4,
    })),
    inventory: Array.from({ length: resources }, (_, i) => ({
      key: `apps/Deployment/team-${i % 17}/web-${i}`,
      apiVersion: 'apps/v1',
      desiredHash: hex(`desired-${i}`),
      resourceVersion: String(100_000 + i * 7),
      generation: (i % 5) + 1,
      wave: i % 4,
      uid: `${hex(`uid-${i}`).slice(0, 8)}-${hex(`uid-${i}`).slice(8, 12)}-4${hex(`uid-${i}`).slice(13, 16)}-8${hex(`uid-${i}`).slice(17, 20)}-${hex(`uid-${i}`).slice(20, 32)}`,
    })),
    conditions: [],
    lastCheckedAt: '2026-03-01T12:00:00.000Z',
    checkStartedAt: '2026-03-01T11:59:58.000Z',
    ...extra,
  };
}

function operation(n: number): OperationResult {
  return {
    id: `op-${n}`,
    trigger: 'webhook',
    revision: `rev-${n}`,
    phase: 'Succeeded',
    message: `applied ${n}, pruned 0`,
    startedAt: new Date(Date.UTC(2026, 2, 1, 12, 0, n)).toISOString(),
    finishedAt: new Date(Date.UTC(2026, 2, 1, 12, 0, n + 1)).toISOString(),
    attempt: 1,
    applied: n,
    pruned: 0,
    drifted: 0,
  };
}

interface Capacity {
  op: string;
  capacity: ConsumedCapacity;
  estimate: CapacityEstimate;
}

describe('DynamoCatalog', () => {
  let client: DynamoDBClient;
  let tableName: string;
  let clock: ManualClock;
  let catalog: DynamoCatalog;
  const capacity: Capacity[] = [];
  const commands: string[] = [];

  beforeAll(async () => {
    ({ client, tableName } = await createDriftlessTable('catalog'));
    client.middlewareStack.add(
      (next, context) => async (args) => {
        commands.push(context.commandName ?? '?');
        return next(args);
      },
      { step: 'initialize', name: 'countCommands' },
    );
    clock = manualClock();
    catalog = new DynamoCatalog({
      client,
      tableName,
      clock,
      historyLimit: 10,
      onConsumedCapacity: (op, c, estimate) => capacity.push({ op, capacity: c, estimate }),
    });
  });

  /** Commands and capacity reports made while `fn` runs. */
  async function measure<T>(fn: () => Promise<T>) {
    const fromCommand = commands.length;
    const fromCapacity = capacity.length;
    const result = await fn();
    return {
      result,
      commands: commands.slice(fromCommand),
      capacity: capacity.slice(fromCapacity),
    };
  }

  it('creates the table from the exported definition: keys, both indexes, TTL', async () => {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    expect(Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort()).toEqual([LIST_INDEX]);
    expect(
      Table?.GlobalSecondaryIndexes?.every((i) => i.Projection?.ProjectionType === 'INCLUDE'),
    ).toBe(true);
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    expect(ttl.TimeToLiveDescription).toEqual({
      TimeToLiveStatus: 'ENABLED',
      AttributeName: 'ttl',
    });
  });

  describe('target records', () => {
    // The contract (test/support/contract/catalog.ts) covers what a record
    // holds; here: no item at all appears for an unknown target.
    it('never creates an item for an unknown target', async () => {
      const unknown = { app: 'never-registered', cluster: 'eu' };
      await catalog.recordWantedRevision(unknown, 'x', 1);
      await catalog.putObserved(unknown, { revision: 'x', objects: [] });
      const raw = await client.send(
        new GetItemCommand({ TableName: tableName, Key: targetRecordKey(unknown) }),
      );
      expect(raw.Item).toBeUndefined();
      const sweepItem = await client.send(
        new GetItemCommand({ TableName: tableName, Key: sweepTargetKey(unknown) }),
      );
      expect(sweepItem.Item).toBeUndefined();
    });
  });

  describe('status', () => {
    it('stores a 1000-resource status (over 400 KB as JSON) compressed, and reads it back', async () => {
      const t = { app: 'huge', cluster: 'eu' };
      const big = status(t, 1000);
      const json = Buffer.byteLength(JSON.stringify(big));
      expect(json).toBeGreaterThan(400 * 1024);
      const { capacity: used } = await measure(() => catalog.putTargetStatus(big, 1));
      expect(await catalog.getTargetStatus(t)).toEqual(big);
      const raw = await client.send(
        new GetItemCommand({ TableName: tableName, Key: targetStatusKey(t) }),
      );
      const stored = raw.Item?.[ATTR.status]?.B?.byteLength ?? 0;
      expect(stored).toBeGreaterThan(0);
      expect(stored).toBeLessThan(MAX_STATUS_BYTES);
      const put = used.find((u) => u.estimate.bytes > stored);
      expect(put?.estimate.writeUnits).toBe(Math.ceil((put?.estimate.bytes ?? 0) / 1024));
      console.log(
        `[aws-catalog] 1000-resource status: ${(json / 1024).toFixed(0)} KB JSON → ${(stored / 1024).toFixed(1)} KB gzip; ` +
          `estimated ${put?.estimate.writeUnits} WCU to write (moto reported ${put?.capacity.CapacityUnits})`,
      );
    });

    it('a check that changes only the timestamps writes the small record, not the blob', async () => {
      const t = { app: 'steady', cluster: 'eu' };
      await catalog.putTargetStatus(status(t, 1000), 1);
      const later = status(t, 1000, {
        lastCheckedAt: '2026-03-01T12:05:00.000Z',
        checkStartedAt: '2026-03-01T12:04:58.000Z',
      });
      const unchanged = await measure(() => catalog.putTargetStatus(later, 2));
      expect(unchanged.commands).toEqual(['UpdateItemCommand']);
      expect(unchanged.capacity.map((c) => c.estimate.writeUnits)).toEqual([1]);
      expect(await catalog.getTargetStatus(t)).toEqual(later);

      const changed = await measure(() =>
        catalog.putTargetStatus({ ...later, health: 'Degraded' }, 2),
      );
      expect(changed.commands).toEqual([
        'UpdateItemCommand', // hash differs
        'UpdateItemCommand', // fence, timestamps, hash cleared
        'PutItemCommand', // the blob
        'UpdateItemCommand', // hash set
      ]);
      expect((await catalog.getTargetStatus(t))?.health).toBe('Degraded');
    });

    it('refuses a status too large for an item, before writing anything', async () => {
      const t = { app: 'enormous', cluster: 'eu' };
      const noise = (i: number) =>
        createHash('sha512').update(String(i)).digest('base64') +
        createHash('sha512').update(`x${i}`).digest('base64');
      const s = status(t, 3000);
      for (const [i, r] of s.resources.entries()) r.reason = noise(i) + noise(i + 1e6);
      await expect(catalog.putTargetStatus(s, 1)).rejects.toMatchObject({
        reason: 'Internal',
        message: expect.stringContaining('split the application'),
      });
      expect(await catalog.getTargetStatus(t)).toBeUndefined();
    });
  });

  describe('history', () => {
    it('trims history on write: no more than historyLimit items stored, each with a TTL', async () => {
      const t = { app: 'historic', cluster: 'eu' };
      for (let i = 1; i <= 13; i++) await catalog.appendHistory(t, operation(i), 1);
      // Trimmed on write: no more than the limit is stored.
      const stored = await client.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :h)',
          ExpressionAttributeValues: {
            ':pk': { S: 'TARGET#historic#eu' },
            ':h': { S: 'HISTORY#' },
          },
        }),
      );
      expect(stored.Count).toBe(10);
      expect(stored.Items?.every((i) => Number(i.ttl?.N) > clock.now() / 1000)).toBe(true);
    });
  });

  it('reports consumed capacity for every request, with an estimate by item size', async () => {
    const t = { app: 'metered', cluster: 'eu' };
    const run = await measure(async () => {
      await catalog.putApplication(application('metered', ['eu']));
      await catalog.getApplication('metered');
      await catalog.putTargetStatus(status(t, 50), 1);
      await catalog.getTargetStatus(t);
      await catalog.appendHistory(t, operation(1), 1);
      await catalog.listHistory(t);
      await catalog.clusterSweepState('eu');
    });
    expect(run.capacity).toHaveLength(run.commands.length);
    for (const c of run.capacity) {
      expect(c.capacity.TableName).toBe(tableName);
      expect(c.capacity.CapacityUnits).toBeGreaterThan(0);
      expect(c.estimate.readUnits + c.estimate.writeUnits).toBeGreaterThan(0);
    }
    const ops = new Set(run.capacity.map((c) => c.op));
    expect([...ops].sort()).toEqual(
      [
        'appendHistory',
        'clusterSweepState',
        'getApplication',
        'getTargetStatus',
        'listHistory',
        'putApplication',
        'putTargetStatus',
      ].sort(),
    );
    const summary = run.capacity.map(
      (c) =>
        `${c.op}: moto ${c.capacity.CapacityUnits}, estimate r${c.estimate.readUnits}/w${c.estimate.writeUnits} (${c.estimate.bytes} B)`,
    );
    console.log(`[aws-catalog] consumed capacity:\n  ${summary.join('\n  ')}`);
  });
});
