// The data plane under load and faults, against the real servers: two workers
// racing on one target, a burst of fifty pushes, a poison target that keeps
// failing, and the drift sweep. DynamoDB and SQS are moto's; requests to
// DynamoDB go through a proxy that applies them one at a time, as DynamoDB
// applies conditional writes to one item (moto's threaded server does not).

import { createHmac, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoCatalog } from '../../lib/aws/catalog/index.js';
import { targetRecordKey } from '../../lib/aws/dynamo/schema.js';
import { DynamoLeaseManager } from '../../lib/aws/lease.js';
import { DriftlessError } from '../../lib/errors.js';
import { KubeconfigConnector } from '../../lib/kube/kubeconfig.js';
import type { ReconcileEvent } from '../../lib/reconcile/index.js';
import { reconcile } from '../../lib/reconcile/index.js';
import { IsomorphicGitSource, SourceCache } from '../../lib/source/index.js';
import { awsClientConfig } from '../support/aws.js';
import { type DataPlane, startDataPlane } from '../support/dataplane.js';
import { serializingProxy } from '../support/dynamo.js';
import { testenv, uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { eventually, kubeConfig } from '../support/kube.js';
import { drain, httpEvent, lambdaContext, pollOnce } from '../support/lambda.js';

let plane: DataPlane;
let ddb: DynamoDBClient;
let closeProxy: () => Promise<void>;
const call: DataPlane['call'] = (...args) => plane.call(...args);

function appSpec(
  name: string,
  repo: TestRepo,
  cluster: string,
  ns: string,
  syncPolicy: Record<string, unknown> = {},
  extra = {},
) {
  return {
    apiVersion: 'driftless.dev/v1',
    kind: 'Application',
    metadata: { name },
    spec: {
      source: { repoURL: repo.url, revision: 'main', path: '.' },
      destinations: [{ cluster, namespace: ns }],
      syncPolicy,
      ...extra,
    },
  };
}

function configMaps(ns: string, value: string): Record<string, string> {
  return {
    'ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
    'cm.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings }\ndata: { value: "${value}" }\n`,
  };
}

function push(repo: TestRepo, commit: string) {
  const body = JSON.stringify({
    ref: 'refs/heads/main',
    after: commit,
    repository: { clone_url: repo.url, default_branch: 'main' },
  });
  return httpEvent('POST', '/', {
    body,
    headers: {
      'X-GitHub-Event': 'push',
      'X-GitHub-Delivery': randomUUID(),
      'X-Hub-Signature-256': `sha256=${createHmac('sha256', plane.webhookSecret).update(body).digest('hex')}`,
    },
  });
}

/** The lease token only grows, once per reconcile that took the lease. */
async function leaseToken(app: string, cluster: string): Promise<number> {
  const out = await ddb.send(
    new GetItemCommand({
      TableName: plane.tableName,
      Key: targetRecordKey({ app, cluster }),
      ConsistentRead: true,
    }),
  );
  return Number(out.Item?.leaseToken?.N ?? 0);
}

beforeAll(async () => {
  const aws = awsClientConfig();
  const proxy = await serializingProxy(aws.endpoint);
  closeProxy = proxy.close;
  ddb = new DynamoDBClient(aws);
  plane = await startDataPlane('faults', { dynamoEndpoint: proxy.endpoint, waitBudgetMs: 20_000 });
  const local = {
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name: 'local' },
    spec: { kubeconfig: { path: testenv().kube.kubeconfig } },
  };
  const put = await call('PUT', '/clusters/local', local);
  expect(put, JSON.stringify(put.body)).toMatchObject({ status: 201 });
  // A cluster whose API server is gone: the same credentials, a closed port.
  const dead = path.join(await mkdtemp(path.join(os.tmpdir(), 'driftless-dead-')), 'kubeconfig');
  await writeFile(
    dead,
    (await readFile(testenv().kube.kubeconfig, 'utf8')).replace(
      /server: https:\/\/127\.0\.0\.1:\d+/,
      'server: https://127.0.0.1:1',
    ),
  );
  const deadCluster = {
    ...local,
    metadata: { name: 'gone' },
    spec: { kubeconfig: { path: dead } },
  };
  expect((await call('PUT', '/clusters/gone', deadCluster)).status).toBe(201);
});

afterAll(async () => {
  await closeProxy?.();
});

describe('racing workers', () => {
  it('lets exactly one of two workers apply; a stalled one loses its lease and writes nothing', async () => {
    const repo = await TestRepo.create('race');
    const ns = uniqueName('race');
    await repo.commit(configMaps(ns, 'one'));
    expect((await call('PUT', '/apps/race', appSpec('race', repo, 'local', ns))).status).toBe(201);
    const aws = awsClientConfig();
    const dynamo = new DynamoDBClient({ ...aws, endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB });
    const catalog = new DynamoCatalog({ client: dynamo, tableName: plane.tableName });
    // Lease expiry is judged by the holder's clock: a clock of the test's, so
    // "unexpired" and "expired" do not depend on how loaded the machine is.
    let now = Date.now();
    const clock = { now: () => now };
    const leases = new DynamoLeaseManager({ client: dynamo, tableName: plane.tableName, clock });
    const connector = new KubeconfigConnector();
    const git = new IsomorphicGitSource({
      cacheRoot: await mkdtemp(path.join(os.tmpdir(), 'driftless-race-git-')),
    });
    const applied: Record<string, number> = { A: 0, B: 0 };
    let releaseA: () => void = () => {};
    const stalled = new Promise<void>((r) => {
      releaseA = r;
    });
    const deps = (who: 'A' | 'B') => ({
      store: catalog,
      leases,
      git,
      renderer: new SourceCache(),
      clusters: connector,
      reporter: { report: async () => {} },
      onEvent: (e: ReconcileEvent) => {
        if (e.type === 'applied') applied[who] = (applied[who] ?? 0) + 1;
      },
    });
    const target = { app: 'race', cluster: 'local' };
    // A takes the lease, then stalls (a GC pause, a slow network) past its TTL
    // before it reads the cluster.
    const stallingConnector = {
      connect: async (c: Parameters<KubeconfigConnector['connect']>[0]) => {
        await stalled;
        return connector.connect(c);
      },
    };
    const a = reconcile(
      { ...deps('A'), clusters: stallingConnector },
      { target, trigger: 'webhook' },
      { leaseTtlMs: 1_000, holder: 'worker-a' },
    );
    // While A holds an unexpired lease, B is turned away.
    await eventually('worker A holds the lease', async () => {
      const out = await ddb.send(
        new GetItemCommand({
          TableName: plane.tableName,
          Key: targetRecordKey(target),
          ConsistentRead: true,
        }),
      );
      return out.Item?.leaseHolder?.S === 'worker-a' ? true : undefined;
    });
    const early = await reconcile(
      deps('B'),
      { target, trigger: 'webhook' },
      { holder: 'worker-b' },
    );
    expect(early.error?.reason).toBe('LeaseHeld');
    // After A's lease expired, B takes over and applies.
    now += 1_200;
    const b = await reconcile(deps('B'), { target, trigger: 'webhook' }, { holder: 'worker-b' });
    expect(b.error).toBeUndefined();
    expect(b.status.operation?.phase).toBe('Succeeded');
    releaseA();
    const outcomeA = await a;
    // A found B's work in sync and went to record that: its status write was
    // refused by the fencing token.
    expect(outcomeA.error?.reason).toBe('LeaseLost');
    expect(applied).toEqual({ A: 0, B: 2 });
    const status = await catalog.getTargetStatus(target);
    expect(status?.operation?.id).toBe(b.status.operation?.id);
    await expect(
      catalog.putTargetStatus({ ...(status as NonNullable<typeof status>), sync: 'Unknown' }, 1),
    ).rejects.toSatisfy((e: unknown) => e instanceof DriftlessError && e.reason === 'LeaseLost');
    connector.close();
  });
});

describe('a burst of pushes', () => {
  it('reconciles the newest of fifty pushed commits with at most three reconciles', async () => {
    const repo = await TestRepo.create('burst');
    const ns = uniqueName('burst');
    let commit = await repo.commit(configMaps(ns, 'v0'));
    expect((await call('PUT', '/apps/burst', appSpec('burst', repo, 'local', ns))).status).toBe(
      201,
    );
    const before = await leaseToken('burst', 'local');
    for (let i = 1; i <= 50; i++) {
      commit = await repo.commit(
        { 'cm.yaml': configMaps(ns, `v${i}`)['cm.yaml'] as string },
        `push ${i}`,
      );
      expect((await plane.webhook(push(repo, commit), lambdaContext('webhook'))).statusCode).toBe(
        202,
      );
    }
    await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker);
    const reconciles = (await leaseToken('burst', 'local')) - before;
    expect(reconciles).toBeGreaterThanOrEqual(1);
    expect(reconciles).toBeLessThanOrEqual(3);
    const { body } = await call('GET', '/apps/burst');
    expect(body.targets[0]).toMatchObject({ sync: 'Synced', syncedRevision: commit });
    const cm = await kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: 'settings', namespace: ns });
    expect(cm.data?.value).toBe('v50');
  });
});

describe('a poison target', () => {
  it('retries with growing delays, then is Degraded and dead-lettered, without blocking other targets', async () => {
    const repo = await TestRepo.create('poison');
    const ns = uniqueName('poison');
    await repo.commit(configMaps(ns, 'x'));
    const retry = { limit: 2, backoff: { duration: '1s', factor: 2, maxDuration: '10s' } };
    expect(
      (await call('PUT', '/apps/poison', appSpec('poison', repo, 'gone', ns, { retry }))).status,
    ).toBe(201);
    const healthyRepo = await TestRepo.create('healthy');
    await healthyRepo.commit(configMaps(`${ns}-ok`, 'y'));
    const healthySpec = appSpec('healthy', healthyRepo, 'local', `${ns}-ok`);
    expect((await call('PUT', '/apps/healthy', healthySpec)).status).toBe(201);
    expect((await call('POST', '/apps/poison/sync', {})).status).toBe(202);
    expect((await call('POST', '/apps/healthy/sync', {})).status).toBe(202);

    // One batch with both targets: the poison one fails alone.
    const firstPollAt = Date.now();
    const first = await pollOnce(plane.sqs, plane.queueUrl, plane.worker);
    expect(first.received).toBe(2);
    expect(first.failed).toHaveLength(1);
    const healthy = (await call('GET', '/apps/healthy')).body.targets[0];
    expect(healthy.sync, JSON.stringify(healthy)).toBe('Synced');

    // When each attempt's poll began: a message deferred during a poll cannot
    // come back before that poll began plus the delay.
    const seen: number[] = [firstPollAt];
    let deadLettered = false;
    const deadline = Date.now() + 30_000;
    while (!deadLettered && Date.now() < deadline) {
      const pollAt = Date.now();
      const r = await pollOnce(plane.sqs, plane.queueUrl, plane.worker);
      if (r.received) {
        seen.push(pollAt);
        deadLettered = r.failed.length === 0;
      } else await new Promise((res) => setTimeout(res, 100));
    }
    expect(deadLettered).toBe(true);
    // Attempts 2 and 3 came back after the app's growing backoff: 1 s, then 2 s.
    const gaps = seen.slice(1).map((t, i) => t - (seen[i] as number));
    expect(gaps).toHaveLength(2);
    expect(gaps[0]).toBeGreaterThanOrEqual(1_000);
    expect(gaps[1]).toBeGreaterThanOrEqual(2_000);

    const { body } = await call('GET', '/apps/poison');
    expect(body.targets[0].health).toBe('Degraded');
    expect(body.targets[0].healthMessage).toMatch(
      /^gave up after 3 attempts: .*cannot reach the API server of cluster gone/,
    );
    const dead = await plane.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: plane.dlqUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
      }),
    );
    expect(dead.Messages).toHaveLength(1);
    // The job as it was queued (a redrive reprocesses it); why it died in attributes.
    const [message] = dead.Messages ?? [];
    expect(JSON.parse(message?.Body as string)).toMatchObject({ app: 'poison', cluster: 'gone' });
    expect(message?.MessageAttributes?.DriftlessErrorReason?.StringValue).toBe(
      'ClusterUnreachable',
    );
    expect(message?.MessageAttributes?.DriftlessAttempts?.StringValue).toBe('3');
  });
});

describe('the drift sweep', () => {
  it('queues new targets and not suspended ones, then heals the drift a later due tick finds', async () => {
    await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker);
    const repo = await TestRepo.create('sweep');
    const ns = uniqueName('sweep');
    await repo.commit(configMaps(ns, 'from-git'));
    expect(
      (
        await call(
          'PUT',
          '/apps/heal',
          appSpec('heal', repo, 'local', ns, { selfHeal: true, interval: '10m' }),
        )
      ).status,
    ).toBe(201);
    expect(
      (
        await call(
          'PUT',
          '/apps/paused',
          appSpec('paused', repo, 'local', `${ns}-p`, {}, { suspended: true }),
        )
      ).status,
    ).toBe(201);
    // The first tick finds the new targets (no check yet): the suspended one is left alone.
    const t0 = Date.now();
    const first = (await plane.sweepAt(t0)).local;
    expect(first?.counters).toMatchObject({ enqueued: 1, reasons: { new: 1 } });
    expect((await call('GET', '/apps/heal')).body.targets[0].sync).toBe('Synced');
    expect((await call('GET', '/apps/paused')).body.targets[0].sync).toBe('Unknown');

    // The next tick: nothing changed (this file's other targets on the cluster neither), nothing queued.
    const quiet = (await plane.sweepAt(t0 + 10 * 60_000)).local;
    expect(quiet?.counters).toMatchObject({ enqueued: 0, reasons: {} });
    expect(quiet?.counters.due).toBeGreaterThanOrEqual(1);
    await kubeConfig()
      .makeApiClient(CoreV1Api)
      .patchNamespacedConfigMap(
        {
          name: 'settings',
          namespace: ns,
          body: { data: { value: 'edited by hand' } },
          fieldManager: 'kubectl-edit',
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    // The app's interval (10m) passes: its next tick sees the edit and queues its repair.
    const due = (await plane.sweepAt(t0 + 20 * 60_000)).local;
    expect(due?.counters).toMatchObject({ enqueued: 1, reasons: { drift: 1 } });
    const cm = await kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: 'settings', namespace: ns });
    expect(cm.data?.value).toBe('from-git');
  });
});
