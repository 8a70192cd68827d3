// DynamoCatalog against moto: every access pattern of lib/aws/table.ts,
// pagination past one page, fencing, the compressed 1000-object status,
// bounded history, and what each request reports as consumed capacity.

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
  DUE_INDEX,
  DUE_SHARDS,
  dueShardIndex,
  LIST_INDEX,
  targetRecordKey,
  targetStatusKey,
} from '../../lib/aws/dynamo/schema.js';
import { DriftlessError } from '../../lib/errors.js';
import {
  type Application,
  type ApplicationInput,
  ApplicationSchema,
  ClusterSchema,
} from '../../lib/model/application.js';
import type { OperationResult, TargetStatus } from '../../lib/model/status.js';
import type { TargetId } from '../../lib/model/target.js';
import { createDriftlessTable, type ManualClock, manualClock } from '../support/dynamo.js';

const REPO = 'https://github.com/Acme/Deploy.git';

function application(
  name: string,
  clusters: string[],
  spec: Partial<ApplicationInput['spec']> = {},
): Application {
  return ApplicationSchema.parse({
    apiVersion: 'driftless.dev/v1',
    kind: 'Application',
    metadata: { name, labels: { team: 'platform' } },
    spec: {
      source: { repoURL: REPO, revision: 'main', path: 'apps/web' },
      destinations: clusters.map((cluster) => ({ cluster, namespace: 'web' })),
      syncPolicy: { interval: '2m', prune: true, retry: { limit: 3, backoff: { duration: '5s' } } },
      ignoreDifferences: [{ group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] }],
      ...spec,
    },
  });
}

function cluster(name: string) {
  return ClusterSchema.parse({
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name },
    spec: { eks: { name: `eks-${name}`, region: 'eu-west-1' }, concurrency: 8 },
  });
}

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
    expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort()).toEqual(
      [DUE_INDEX, LIST_INDEX].sort(),
    );
    expect(
      Table?.GlobalSecondaryIndexes?.every((i) => i.Projection?.ProjectionType === 'INCLUDE'),
    ).toBe(true);
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    expect(ttl.TimeToLiveDescription).toEqual({
      TimeToLiveStatus: 'ENABLED',
      AttributeName: 'ttl',
    });
  });

  describe('applications and clusters', () => {
    it('round-trips an Application through its schema (durations, defaults, labels)', async () => {
      const app = application('web', ['prod', 'staging']);
      await catalog.putApplication(app);
      expect(await catalog.getApplication('web')).toEqual(app);
      expect(app.spec.syncPolicy.interval).toBe(120_000);
      expect(await catalog.getApplication('absent')).toBeUndefined();
    });

    it('round-trips a Cluster and deletes it without touching targets', async () => {
      const c = cluster('prod');
      await catalog.putCluster(c);
      expect(await catalog.getCluster('prod')).toEqual(c);
      await catalog.putApplication(application('uses-prod', ['prod']));
      await catalog.deleteCluster('prod');
      expect(await catalog.getCluster('prod')).toBeUndefined();
      expect(await catalog.getTargetRecord({ app: 'uses-prod', cluster: 'prod' })).toBeDefined();
    });

    it('pages through more applications than fit on one page, sorted, next absent at the end', async () => {
      const table = await createDriftlessTable('catalog-apps');
      const own = new DynamoCatalog(table);
      const names = Array.from({ length: 23 }, (_, i) => `app-${String(i).padStart(2, '0')}`);
      await Promise.all(names.map((n) => own.putApplication(application(n, ['prod']))));
      const pages: string[][] = [];
      let next: string | undefined;
      do {
        const page = await own.listApplications(10, next);
        pages.push(page.items.map((a) => a.metadata.name));
        next = page.next;
      } while (next);
      expect(pages.map((p) => p.length)).toEqual([10, 10, 3]);
      expect(pages.flat()).toEqual(names);
      // Exactly a page's worth: no empty page after it.
      expect((await own.listApplications(23)).next).toBeUndefined();
      expect((await own.listApplications(22)).next).toBeDefined();
    });

    it('pages through clusters', async () => {
      const table = await createDriftlessTable('catalog-clusters');
      const own = new DynamoCatalog(table);
      const names = Array.from({ length: 7 }, (_, i) => `c${i}`);
      for (const n of names) await own.putCluster(cluster(n));
      const first = await own.listClusters(3);
      const second = await own.listClusters(3, first.next);
      const third = await own.listClusters(3, second.next);
      expect([first, second, third].flatMap((p) => p.items.map((c) => c.metadata.name))).toEqual(
        names,
      );
      expect(third.next).toBeUndefined();
      expect((await own.listClusters()).items).toHaveLength(7);
    });

    it('rejects a page token it did not issue', async () => {
      await expect(catalog.listApplications(10, 'bm90LWEtdG9rZW4')).rejects.toMatchObject({
        reason: 'InvalidSpec',
        location: { field: 'next' },
      });
      const forged = Buffer.from(JSON.stringify({ pk: { S: 'APP#x' }, evil: { S: '1' } })).toString(
        'base64url',
      );
      await expect(catalog.listClusters(10, forged)).rejects.toBeInstanceOf(DriftlessError);
    });
  });

  describe('target records', () => {
    it('keeps one record per destination, found by repository however its URL is written', async () => {
      await catalog.putApplication(application('routed', ['eu', 'us']));
      const prod = await catalog.getTargetRecord({ app: 'routed', cluster: 'eu' });
      expect(prod).toEqual({
        app: 'routed',
        cluster: 'eu',
        repoURL: REPO,
        revision: 'main',
        suspended: false,
        intervalMs: 120_000,
        nextDueAt: 0,
      });
      for (const url of [
        'https://github.com/acme/deploy',
        'git@github.com:ACME/deploy.git',
        'ssh://git@github.com/acme/deploy/',
      ]) {
        const found = await catalog.targetsForRepo(url);
        expect(
          found
            .filter((t) => t.app === 'routed')
            .map((t) => t.cluster)
            .sort(),
        ).toEqual(['eu', 'us']);
      }
      expect(await catalog.targetsForRepo('https://github.com/acme/other')).toEqual([]);
    });

    it('an update keeps status, wanted revision and schedule, and drops removed destinations', async () => {
      const eu = { app: 'evolving', cluster: 'eu' };
      const us = { app: 'evolving', cluster: 'us' };
      await catalog.putApplication(application('evolving', ['eu', 'us']));
      await catalog.recordWantedRevision(eu, 'abc123', 1_000);
      await catalog.setNextDue(eu, 5_000);
      await catalog.putTargetStatus(status(eu), 1);
      await catalog.putTargetStatus(status(us), 1);
      await catalog.appendHistory(us, operation(1), 1);

      await catalog.putApplication(
        application('evolving', ['eu'], {
          source: { repoURL: REPO, revision: 'release', path: 'apps/web' },
          suspended: true,
        }),
      );
      expect(await catalog.getTargetRecord(eu)).toMatchObject({
        revision: 'release',
        suspended: true,
        wantedRevision: 'abc123',
        wantedAt: 1_000,
        nextDueAt: 5_000,
      });
      expect(await catalog.getTargetStatus(eu)).toEqual(status(eu));
      expect(await catalog.getTargetRecord(us)).toBeUndefined();
      expect(await catalog.getTargetStatus(us)).toBeUndefined();
      expect(await catalog.listHistory(us)).toEqual([]);
    });

    it('deletes an app with its targets, status and history; a late write is fenced out', async () => {
      const t = { app: 'doomed', cluster: 'eu' };
      await catalog.putApplication(application('doomed', ['eu']));
      await catalog.putTargetStatus(status(t), 3);
      await catalog.appendHistory(t, operation(1), 3);
      await catalog.deleteApplication('doomed');
      expect(await catalog.getApplication('doomed')).toBeUndefined();
      expect(await catalog.getTargetRecord(t)).toBeUndefined();
      expect(await catalog.getTargetStatus(t)).toBeUndefined();
      expect(await catalog.listHistory(t)).toEqual([]);
      expect((await catalog.targetsForRepo(REPO)).some((r) => r.app === 'doomed')).toBe(false);
      // A worker that was mid-reconcile cannot bring the target back.
      await expect(catalog.putTargetStatus(status(t), 3)).rejects.toMatchObject({
        reason: 'LeaseLost',
        message: expect.stringContaining('deleted'),
      });
      await expect(catalog.appendHistory(t, operation(2), 3)).rejects.toMatchObject({
        reason: 'LeaseLost',
      });
      // Deleting again is a no-op; registering again revives the target cleanly.
      await catalog.deleteApplication('doomed');
      await catalog.putApplication(application('doomed', ['eu']));
      await catalog.putTargetStatus(status(t), 4);
      expect(await catalog.getTargetStatus(t)).toEqual(status(t));
    });

    it('records the wanted revision, never backwards in time, and never for an unknown target', async () => {
      const t = { app: 'pushed', cluster: 'eu' };
      await catalog.putApplication(application('pushed', ['eu']));
      await catalog.recordWantedRevision(t, 'second', 2_000);
      await catalog.recordWantedRevision(t, 'first', 1_000);
      expect(await catalog.getTargetRecord(t)).toMatchObject({
        wantedRevision: 'second',
        wantedAt: 2_000,
      });
      await catalog.recordWantedRevision(t, 'third', 3_000);
      expect(await catalog.getTargetRecord(t)).toMatchObject({ wantedRevision: 'third' });

      const unknown = { app: 'never-registered', cluster: 'eu' };
      await catalog.recordWantedRevision(unknown, 'x', 1);
      await catalog.setNextDue(unknown, 1);
      const raw = await client.send(
        new GetItemCommand({ TableName: tableName, Key: targetRecordKey(unknown) }),
      );
      expect(raw.Item).toBeUndefined();
    });

    it('a status write does not clobber a wanted revision written at the same time', async () => {
      const t = { app: 'busy', cluster: 'eu' };
      await catalog.putApplication(application('busy', ['eu']));
      await Promise.all([
        catalog.putTargetStatus(status(t, 200), 1),
        catalog.recordWantedRevision(t, 'pushed-meanwhile', 7_000),
        catalog.setNextDue(t, 9_000),
      ]);
      expect(await catalog.getTargetRecord(t)).toMatchObject({
        wantedRevision: 'pushed-meanwhile',
        wantedAt: 7_000,
        nextDueAt: 9_000,
      });
      expect((await catalog.getTargetStatus(t))?.resources).toHaveLength(200);
    });

    it('pages through due targets across shards, skipping suspended and not-yet-due ones', async () => {
      const table = await createDriftlessTable('catalog-due');
      const own = new DynamoCatalog(table);
      const clusters = ['eu', 'us', 'ap'];
      const apps = Array.from({ length: 14 }, (_, i) => `svc-${i}`);
      await Promise.all(
        apps.map((a, i) =>
          own.putApplication(application(a, clusters, { suspended: i % 7 === 6 })),
        ),
      );
      const now = 1_000_000;
      const expected: string[] = [];
      await Promise.all(
        apps.flatMap((a, i) =>
          clusters.map(async (c, j) => {
            const due = (i + j) % 3 !== 0;
            await own.setNextDue(
              { app: a, cluster: c },
              due ? now - 1_000 * (i + 1) : now + 60_000,
            );
            if (due && i % 7 !== 6) expected.push(`${a}#${c}`);
          }),
        ),
      );
      const seen: string[] = [];
      const sizes: number[] = [];
      let next: string | undefined;
      do {
        const page = await own.dueTargets(now, 5, next);
        sizes.push(page.items.length);
        for (const t of page.items) {
          expect(t.suspended).toBe(false);
          expect(t.nextDueAt).toBeLessThanOrEqual(now);
          seen.push(`${t.app}#${t.cluster}`);
        }
        next = page.next;
      } while (next);
      expect(seen.sort()).toEqual(expected.sort());
      expect(expected.length).toBeGreaterThan(15);
      expect(sizes.slice(0, -1).every((n) => n === 5)).toBe(true);
      expect(sizes.at(-1)).toBeGreaterThan(0);
      // A target leaves the due set when the sweep schedules it; unsuspending brings one back.
      const [firstApp, firstCluster] = (expected[0] as string).split('#') as [string, string];
      await own.setNextDue({ app: firstApp, cluster: firstCluster }, now + 1);
      const all = await own.dueTargets(now, 1000);
      expect(all.items).toHaveLength(expected.length - 1);
      expect(all.next).toBeUndefined();
      await own.putApplication(application('svc-6', clusters, { suspended: false }));
      expect((await own.dueTargets(now, 1000)).items.length).toBeGreaterThan(expected.length - 1);
    });

    it('starts at the shard the rotation names, so a cut-short sweep starts elsewhere next time', async () => {
      const table = await createDriftlessTable('catalog-rotation');
      const own = new DynamoCatalog(table);
      const apps = Array.from({ length: 40 }, (_, i) => `rot-${i}`);
      await Promise.all(apps.map((a) => own.putApplication(application(a, ['eu']))));
      const now = 1_000_000;
      await Promise.all(apps.map((a) => own.setNextDue({ app: a, cluster: 'eu' }, now - 1)));
      const shardOf = (app: string) => dueShardIndex({ app, cluster: 'eu' });
      const firstShards = new Set<number>();
      for (const rotation of [0, 1, 5, 16 + 5, -1]) {
        const seen: string[] = [];
        let next: string | undefined;
        let first: number | undefined;
        do {
          const page = await own.dueTargets(now, 3, next, rotation);
          first ??= shardOf(page.items[0]?.app as string);
          seen.push(...page.items.map((t) => t.app));
          next = page.next;
        } while (next);
        // Every due target once, whatever the rotation; the first one from the
        // first non-empty shard at or after the rotation.
        expect(seen.sort()).toEqual([...apps].sort());
        const occupied = new Set(apps.map(shardOf));
        const start = ((rotation % DUE_SHARDS) + DUE_SHARDS) % DUE_SHARDS;
        let expected = start;
        while (!occupied.has(expected)) expected = (expected + 1) % DUE_SHARDS;
        expect(first).toBe(expected);
        firstShards.add(first as number);
      }
      expect(firstShards.size).toBeGreaterThan(1);
    });
  });

  describe('status', () => {
    it('round-trips a status and overlays the per-check timestamps from the record', async () => {
      const t = { app: 'status-rt', cluster: 'eu' };
      expect(await catalog.getTargetStatus(t)).toBeUndefined();
      const s = status(t, 5, {
        conditions: [
          { type: 'OutOfSync', reason: 'DriftDetected', message: 'x', lastTransitionTime: 'y' },
        ],
        operation: operation(3),
      });
      await catalog.putTargetStatus(s, 1);
      expect(await catalog.getTargetStatus(t)).toEqual(s);
      const { lastCheckedAt: _a, checkStartedAt: _b, ...withoutStamps } = s;
      await catalog.putTargetStatus(withoutStamps, 1);
      expect(await catalog.getTargetStatus(t)).toEqual(withoutStamps);
    });

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

    it('is fenced: an older token is rejected with LeaseLost, the same or a newer one writes', async () => {
      const t = { app: 'fenced', cluster: 'eu' };
      await catalog.putApplication(application('fenced', ['eu']));
      await catalog.putTargetStatus(status(t, 1, { health: 'Progressing' }), 5);
      // The status item carries its writer's token: an older one cannot overwrite it.
      await expect(
        catalog.putTargetStatus(status(t, 1, { health: 'Degraded' }), 4),
      ).rejects.toMatchObject({ reason: 'LeaseLost', message: expect.stringContaining('4') });
      expect((await catalog.getTargetStatus(t))?.health).toBe('Progressing');
      await catalog.putTargetStatus(status(t, 1, { health: 'Healthy' }), 5);
      await catalog.putTargetStatus(status(t, 1, { health: 'Suspended' }), 6);
      expect((await catalog.getTargetStatus(t))?.health).toBe('Suspended');
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
    it('lists newest first, keeps at most historyLimit items, honours a smaller limit', async () => {
      const t = { app: 'historic', cluster: 'eu' };
      for (let i = 1; i <= 13; i++) await catalog.appendHistory(t, operation(i), 1);
      const all = await catalog.listHistory(t);
      expect(all.map((o) => o.id)).toEqual(Array.from({ length: 10 }, (_, i) => `op-${13 - i}`));
      expect(all[0]).toEqual(operation(13));
      expect((await catalog.listHistory(t, 3)).map((o) => o.id)).toEqual([
        'op-13',
        'op-12',
        'op-11',
      ]);
      expect(await catalog.listHistory(t, 0)).toEqual([]);
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

    it('collapses a repeated failure into one entry with a count, and keeps successes apart from failures', async () => {
      const t = { app: 'historic-failing', cluster: 'eu' };
      const failure = (n: number, revision = 'rev-bad'): OperationResult => ({
        ...operation(100 + n),
        revision,
        phase: 'Failed',
        reason: 'HookFailed',
        message: `attempt ${n}`,
      });
      await catalog.appendHistory(t, operation(1), 1);
      await catalog.appendHistory(t, operation(2), 1);
      // Far more failures than the limit (10), of a few commits, each repeated.
      for (let i = 0; i < 30; i++)
        await catalog.appendHistory(t, failure(i, `rev-bad-${i % 15}`), 1);
      for (let i = 0; i < 5; i++) await catalog.appendHistory(t, failure(40 + i, 'rev-worse'), 1);
      const all = await catalog.listHistory(t);
      expect(all[0]).toMatchObject({ revision: 'rev-worse', count: 5, message: 'attempt 44' });
      expect(all[0]?.startedAt).toBe(failure(40).startedAt);
      // The successful syncs a rollback needs were not pushed out.
      const ok = await catalog.listHistory(t, 10, { succeeded: true });
      expect(ok.map((o) => o.id)).toEqual(['op-2', 'op-1']);
    });

    it('is fenced like the status', async () => {
      const t = { app: 'historic-fenced', cluster: 'eu' };
      await catalog.putTargetStatus(status(t), 2);
      await catalog.appendHistory(t, operation(1), 2);
      await expect(catalog.appendHistory(t, operation(2), 1)).rejects.toMatchObject({
        reason: 'LeaseLost',
      });
      expect((await catalog.listHistory(t)).map((o) => o.id)).toEqual(['op-1']);
    });

    it('skips entries past their TTL (DynamoDB deletes them lazily)', async () => {
      const t = { app: 'expiring', cluster: 'eu' };
      const local = manualClock();
      const own = new DynamoCatalog({ client, tableName, clock: local, historyTtlDays: 1 });
      await own.appendHistory(t, operation(1), 1);
      local.advance(12 * 3600_000);
      await own.appendHistory(t, operation(2), 1);
      local.advance(13 * 3600_000);
      expect((await own.listHistory(t)).map((o) => o.id)).toEqual(['op-2']);
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
      await catalog.dueTargets(Date.now(), 5);
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
        'dueTargets',
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
