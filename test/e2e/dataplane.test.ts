// The whole data plane, end to end, against the real servers: a push to the
// Git server → the webhook function (a real Function URL event, signed) →
// SQS FIFO (moto) → the worker function → the Kubernetes API server → the
// status API function reports it Synced and Healthy at that commit, with the
// operation in its history. DynamoDB, SQS and Secrets Manager are moto's.

import { createHmac, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { CoreV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoCatalog } from '../../lib/aws/catalog/index.js';
import { ATTR, targetStatusKey } from '../../lib/aws/dynamo/schema.js';
import type { TargetStatus } from '../../lib/model/status.js';
import { awsClientConfig } from '../support/aws.js';
import { type DataPlane, startDataPlane } from '../support/dataplane.js';
import { testenv, uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { eventually, kubeConfig } from '../support/kube.js';
import { drain, httpEvent, lambdaContext } from '../support/lambda.js';

let plane: DataPlane;
const call: DataPlane['call'] = (...args) => plane.call(...args);

function pushEvent(
  repo: TestRepo,
  commit: string,
  delivery: string,
  opts: { secret?: string; ref?: string } = {},
) {
  const body = JSON.stringify({
    ref: opts.ref ?? 'refs/heads/main',
    before: '0'.repeat(40),
    after: commit,
    created: false,
    deleted: false,
    forced: false,
    repository: {
      full_name: `test/${repo.name}`,
      clone_url: repo.url,
      html_url: repo.url.replace(/\.git$/, ''),
      default_branch: 'main',
    },
    pusher: { name: 'dev', email: 'dev@example.com' },
    commits: [],
  });
  const signature = `sha256=${createHmac('sha256', opts.secret ?? plane.webhookSecret)
    .update(body)
    .digest('hex')}`;
  return httpEvent('POST', '/', {
    body,
    headers: {
      'X-GitHub-Event': 'push',
      'X-GitHub-Delivery': delivery,
      'X-Hub-Signature-256': signature,
      'User-Agent': 'GitHub-Hookshot/e2e',
    },
  });
}

async function queueDepth(url: string): Promise<number> {
  const a = await plane.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const v = a.Attributes ?? {};
  return (
    Number(v.ApproximateNumberOfMessages) +
    Number(v.ApproximateNumberOfMessagesNotVisible) +
    Number(v.ApproximateNumberOfMessagesDelayed)
  );
}

const manifests = (ns: string, image: string) => ({
  'deploy/namespace.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
  'deploy/app.yaml': `apiVersion: v1
kind: ConfigMap
metadata: { name: web-config }
data: { image: "${image}" }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, image: "${image}" }] }
`,
});

// A repository with its own webhook secret (the others sign with the default).
let tenant: TestRepo;
const TENANT_SECRET = `tenant-${randomUUID()}`;

beforeAll(async () => {
  tenant = await TestRepo.create('e2e-tenant', { owner: 'team-a' });
  plane = await startDataPlane('e2e', {
    webhookSecretValue: (secret) =>
      JSON.stringify({ secrets: [secret], repositories: { [tenant.name]: TENANT_SECRET } }),
  });
  const cluster = {
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name: 'local' },
    spec: { kubeconfig: { path: testenv().kube.kubeconfig } },
  };
  expect((await call('PUT', '/clusters/local', cluster)).status).toBe(201);
});

describe('push to sync, end to end', () => {
  let repo: TestRepo;
  let ns: string;
  let first: string;
  beforeAll(async () => {
    repo = await TestRepo.create('e2e-web');
    ns = uniqueName('e2e');
    first = await repo.commit(manifests(ns, 'web:1'), 'first');
    const app = {
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name: 'web' },
      spec: {
        source: { repoURL: repo.url, revision: 'main', path: 'deploy' },
        destinations: [{ cluster: 'local', namespace: ns }],
        syncPolicy: { prune: true, selfHeal: true },
      },
    };
    expect((await call('PUT', '/apps/web', app)).status).toBe(201);
  });

  it('syncs a pushed commit and reports it Synced and Healthy through the status API', async () => {
    const res = await plane.webhook(
      pushEvent(repo, first, randomUUID()),
      lambdaContext('driftless-webhook'),
    );
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body as string).targets).toEqual([{ app: 'web', cluster: 'local' }]);
    await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker);
    // The operation ends once applied; the delayed health checks report the rollout as it goes.
    const body = await eventually('the app to be reported Healthy', async () => {
      await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker, { quietMs: 500 });
      const res = await call('GET', '/apps/web');
      return res.body.targets[0]?.health === 'Healthy' ? res.body : undefined;
    });
    expect(body.targets[0]).toMatchObject({
      cluster: 'local',
      sync: 'Synced',
      health: 'Healthy',
      syncedRevision: first,
    });
    expect(
      body.targets[0].resources
        .map((r: { kind: string; name: string }) => `${r.kind}/${r.name}`)
        .sort(),
    ).toEqual(['ConfigMap/web-config', 'Deployment/web', `Namespace/${ns}`].sort());
    const history = await call('GET', '/apps/web/history');
    expect(history.body.targets[0].operations[0]).toMatchObject({
      phase: 'Succeeded',
      revision: first,
      trigger: 'webhook',
    });
    const cm = await kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: 'web-config', namespace: ns });
    expect(cm.data?.image).toBe('web:1');
  });

  it('rejects forged and unsigned deliveries, ignores a replayed one, and enqueues nothing for them', async () => {
    const commit = await repo.commit(
      { 'deploy/app.yaml': manifests(ns, 'web:evil')['deploy/app.yaml'] },
      'not via webhook yet',
    );
    const forged = pushEvent(repo, commit, randomUUID(), { secret: 'guessed' });
    expect((await plane.webhook(forged, lambdaContext('driftless-webhook'))).statusCode).toBe(401);
    const unsigned = pushEvent(repo, commit, randomUUID());
    delete unsigned.headers['x-hub-signature-256'];
    expect((await plane.webhook(unsigned, lambdaContext('driftless-webhook'))).statusCode).toBe(
      401,
    );
    expect(await queueDepth(plane.queueUrl)).toBe(0);

    const delivery = randomUUID();
    const firstTime = await plane.webhook(
      pushEvent(repo, commit, delivery),
      lambdaContext('driftless-webhook'),
    );
    expect(firstTime.statusCode).toBe(202);
    expect(await queueDepth(plane.queueUrl)).toBe(1);
    const replay = await plane.webhook(
      pushEvent(repo, commit, delivery),
      lambdaContext('driftless-webhook'),
    );
    expect(replay.statusCode).toBe(202);
    expect(JSON.parse(replay.body as string)).toEqual(JSON.parse(firstTime.body as string));
    expect(await queueDepth(plane.queueUrl)).toBe(1);
    // The same signed body under a fresh delivery id is the same delivery.
    const replayedBody = await plane.webhook(
      pushEvent(repo, commit, randomUUID()),
      lambdaContext('driftless-webhook'),
    );
    expect(replayedBody.statusCode).toBe(202);
    expect(await queueDepth(plane.queueUrl)).toBe(1);
    await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker);
    expect((await call('GET', '/apps/web')).body.targets[0].syncedRevision).toBe(commit);
  });

  it("rejects a push signed with another repository's secret, naming neither, and routes one signed with its own", async () => {
    const tenantNs = uniqueName('e2e-tenant');
    const commit = await tenant.commit({
      'deploy/namespace.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${tenantNs} }\n`,
      'deploy/cm.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: tenant }\ndata: { v: "1" }\n`,
    });
    const app = {
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name: 'tenant' },
      spec: {
        source: { repoURL: tenant.url, revision: 'main', path: 'deploy' },
        destinations: [{ cluster: 'local', namespace: tenantNs }],
      },
    };
    expect((await call('PUT', '/apps/tenant', app)).status).toBe(201);
    // web's repository is not the tenant's: the tenant's secret does not sign for it.
    const webBefore = (await call('GET', '/apps/web')).body.targets[0];
    const crossSigned = await plane.webhook(
      pushEvent(repo, first, randomUUID(), { secret: TENANT_SECRET }),
      lambdaContext('driftless-webhook'),
    );
    expect(crossSigned.statusCode).toBe(401);
    expect(JSON.parse(crossSigned.body as string)).toMatchObject({
      code: 'BadSignature',
      message: expect.stringContaining(`repository test/${repo.name}`),
    });
    expect(crossSigned.body).not.toContain(TENANT_SECRET);
    expect(crossSigned.body).not.toContain(plane.webhookSecret);
    expect(await queueDepth(plane.queueUrl)).toBe(0);

    const own = await plane.webhook(
      pushEvent(tenant, commit, randomUUID(), { secret: TENANT_SECRET }),
      lambdaContext('driftless-webhook'),
    );
    expect(own.statusCode).toBe(202);
    expect(JSON.parse(own.body as string).targets).toEqual([{ app: 'tenant', cluster: 'local' }]);
    expect(await queueDepth(plane.queueUrl)).toBe(1);
    await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker);
    const status = await eventually('the tenant app to sync its commit', async () => {
      const res = await call('GET', '/apps/tenant');
      return res.body.targets?.[0]?.syncedRevision === commit ? res.body.targets[0] : undefined;
    });
    expect(status.sync).toBe('Synced');
    // web was not moved back by the borrowed signature.
    expect((await call('GET', '/apps/web')).body.targets[0]).toMatchObject({
      syncedRevision: webBefore.syncedRevision,
      wantedRevision: webBefore.wantedRevision,
    });
  });

  it('rolls back through POST /apps/{name}/sync with an older revision, recorded in history', async () => {
    // An automated app refuses: its next sync would undo the rollback.
    expect((await call('POST', '/apps/web/sync', { revision: first })).status).toBe(409);
    expect((await call('POST', '/apps/web/suspend')).status).toBe(200);
    const res = await call('POST', '/apps/web/sync', { revision: first });
    expect(res.status).toBe(202);
    await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker);
    const { body } = await call('GET', '/apps/web');
    expect(body.targets[0]).toMatchObject({ sync: 'Synced', syncedRevision: first });
    const cm = await kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: 'web-config', namespace: ns });
    expect(cm.data?.image).toBe('web:1');
    const ops = (await call('GET', '/apps/web/history')).body.targets[0].operations;
    expect(ops[0]).toMatchObject({ trigger: 'rollback', revision: first, phase: 'Succeeded' });
  });
});

describe('a large app through the status API', () => {
  const RESOURCES = 3000;
  /** Far below Lambda's 6 MB response limit, whatever the app's size. */
  const RESPONSE_BOUND = 1.5 * 1024 * 1024;
  const target = { app: 'big', cluster: 'local' };
  let catalog: DynamoCatalog;
  let written: TargetStatus;
  beforeAll(async () => {
    const app = {
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name: 'big' },
      spec: {
        source: { repoURL: 'https://git.example.com/big.git', revision: 'main', path: '.' },
        destinations: [{ cluster: 'local', namespace: 'big' }],
        suspended: true,
      },
    };
    expect((await call('PUT', '/apps/big', app)).status).toBe(201);
    catalog = new DynamoCatalog({
      client: new DynamoDBClient(awsClientConfig()),
      tableName: plane.tableName,
    });
    // Long, repetitive health messages: ~6 MB as JSON, a small blob compressed.
    written = {
      ...target,
      sync: 'OutOfSync',
      health: 'Progressing',
      syncedRevision: 'a'.repeat(40),
      resources: Array.from({ length: RESOURCES }, (_, i) => ({
        key: `apps/Deployment/big/web-${i}`,
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'big',
        name: `web-${i}`,
        sync: i % 10 ? ('Synced' as const) : ('OutOfSync' as const),
        health: {
          status: 'Progressing' as const,
          message: `web-${i}: ${'waiting for the rollout to finish: 1 of 3 updated replicas are available; '.repeat(30)}`,
        },
      })),
      inventory: [],
      conditions: [],
      operation: {
        id: 'op-big',
        trigger: 'manual',
        revision: 'a'.repeat(40),
        phase: 'Running',
        message: 'waiting for wave 0',
        startedAt: '2026-03-01T12:00:00.000Z',
        attempt: 1,
        applied: RESOURCES,
        pruned: 0,
        drifted: 0,
      },
      lastCheckedAt: '2026-03-01T12:00:00.000Z',
    };
    expect(JSON.stringify(written.resources).length).toBeGreaterThan(6 * 1024 * 1024);
    await catalog.putTargetStatus(written, 1);
  });

  it('pages the resources of GET /apps/{name}: each response under a bound, all pages every resource', async () => {
    const keys: string[] = [];
    const sizes: number[] = [];
    let next: string | undefined;
    let pages = 0;
    do {
      const res = await call('GET', '/apps/big', undefined, next ? { next } : undefined);
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
      sizes.push(JSON.stringify(res.body).length);
      if (pages === 0) {
        expect(res.body.targets[0]).toMatchObject({
          cluster: 'local',
          sync: 'OutOfSync',
          health: 'Progressing',
          operation: { id: 'op-big', phase: 'Running' },
        });
      }
      for (const t of res.body.targets)
        keys.push(...t.resources.map((r: { key: string }) => r.key));
      next = res.body.next;
      pages++;
    } while (next && pages < 100);
    expect(Math.max(...sizes)).toBeLessThan(RESPONSE_BOUND);
    expect(keys).toEqual(written.resources.map((r) => r.key));
    console.log(
      `[dataplane] GET /apps/big: ${RESOURCES} resources in ${pages} pages, largest ${(Math.max(...sizes) / 1024).toFixed(0)} KB`,
    );
    // A smaller page on request; bad input named.
    const small = await call('GET', '/apps/big', undefined, { resources: '7' });
    expect(small.body.targets[0].resources).toHaveLength(7);
    expect((await call('GET', '/apps/big', undefined, { resources: 'all' })).body).toMatchObject({
      code: 'InvalidSpec',
      field: 'resources',
    });
    expect((await call('GET', '/apps/big', undefined, { next: 'bm9wZQ' })).body).toMatchObject({
      code: 'InvalidSpec',
      field: 'next',
    });
  });

  it('lists apps from the target records, without reading a status', async () => {
    // A status blob no reader can decode: a list that read it would fail.
    await new DynamoDBClient(awsClientConfig()).send(
      new PutItemCommand({
        TableName: plane.tableName,
        Item: {
          ...targetStatusKey(target),
          [ATTR.status]: { B: Buffer.from('not gzip at all') },
          [ATTR.fence]: { N: '1' },
        },
      }),
    );
    expect((await call('GET', '/apps/big')).status).toBeGreaterThanOrEqual(500);
    const list = await call('GET', '/apps', undefined, { limit: '500' });
    expect(list.status).toBe(200);
    const row = list.body.items.find((a: { name: string }) => a.name === 'big');
    expect(row.targets).toEqual([
      {
        cluster: 'local',
        sync: 'OutOfSync',
        health: 'Progressing',
        syncedRevision: 'a'.repeat(40),
        lastCheckedAt: '2026-03-01T12:00:00.000Z',
        operationPhase: 'Running',
      },
    ]);
    expect(JSON.stringify(list.body).length).toBeLessThan(64 * 1024);
  });
});

describe('dead letters', () => {
  const configMaps = (ns: string) => ({
    'deploy/namespace.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
    'deploy/cm.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings }\ndata: { a: "1" }\n`,
  });
  let deadKubeconfig: string;
  beforeAll(async () => {
    // The same credentials, a closed port: every request fails as unreachable.
    deadKubeconfig = path.join(
      await mkdtemp(path.join(os.tmpdir(), 'driftless-dlq-')),
      'kubeconfig',
    );
    await writeFile(
      deadKubeconfig,
      (await readFile(testenv().kube.kubeconfig, 'utf8')).replace(
        /server: https:\/\/127\.0\.0\.1:\d+/,
        'server: https://127.0.0.1:1',
      ),
    );
  });
  const clusterSpec = (name: string, kubeconfig: string) => ({
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name },
    spec: { kubeconfig: { path: kubeconfig } },
  });

  /** An app on a cluster nothing answers on, with no retries: its first failure is its last. */
  async function deadLetteredApp(name: string, cluster: string) {
    const repo = await TestRepo.create(name);
    const ns = uniqueName(name);
    await repo.commit(configMaps(ns));
    expect(
      (await call('PUT', `/clusters/${cluster}`, clusterSpec(cluster, deadKubeconfig))).status,
    ).toBe(201);
    const app = {
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name },
      spec: {
        source: { repoURL: repo.url, revision: 'main', path: 'deploy' },
        destinations: [{ cluster, namespace: ns }],
        syncPolicy: { retry: { limit: 0 } },
      },
    };
    expect((await call('PUT', `/apps/${name}`, app)).status).toBe(201);
    const sync = await call('POST', `/apps/${name}/sync`, {});
    expect(sync.status).toBe(202);
    await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker, { quietMs: 500 });
    const { body } = await call('GET', `/apps/${name}`);
    expect(body.targets[0], JSON.stringify(body.targets[0])).toMatchObject({ health: 'Degraded' });
    return { ns, operationId: sync.body.operations[0].operationId as string };
  }

  /** Dead letters of `app` as GET /deadletters lists them. */
  async function listed(app: string) {
    const res = await call('GET', '/deadletters', undefined, { limit: '100' });
    expect(res.status).toBe(200);
    return (res.body.items as { id: string; job?: { app: string } }[]).filter(
      (d) => d.job?.app === app,
    );
  }

  it('a message that is not a job goes to the dead-letter queue at once, as it came, and is never redriven', async () => {
    await plane.sqs.send(
      new SendMessageCommand({
        QueueUrl: plane.queueUrl,
        MessageBody: '{"app": 42}',
        MessageGroupId: 'garbage',
        MessageDeduplicationId: randomUUID(),
      }),
    );
    const processed = await drain(plane.sqs, [plane.queueUrl], plane.worker, { quietMs: 500 });
    expect(processed).toBe(1);
    const dead = await plane.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: plane.dlqUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['MessageGroupId', 'MessageDeduplicationId'],
        VisibilityTimeout: 0,
      }),
    );
    expect(
      (dead.Messages ?? []).map((m) => m.Body),
      'the body unchanged',
    ).toContain('{"app": 42}');
    const garbage = (dead.Messages ?? []).find((m) => m.Body === '{"app": 42}');
    expect(garbage?.MessageAttributes?.DriftlessErrorReason?.StringValue).toBe('InvalidSpec');
    expect(garbage?.MessageAttributes?.DriftlessErrorMessage?.StringValue).toMatch(/app/);
    expect(garbage?.Attributes?.MessageGroupId).toBe('garbage');
    expect(garbage?.Attributes?.MessageDeduplicationId).toMatch(/^[0-9a-f]{64}$/);

    const items = (await call('GET', '/deadletters')).body.items as {
      body?: string;
      error?: { reason?: string };
    }[];
    expect(items).toContainEqual(
      expect.objectContaining({
        body: '{"app": 42}',
        error: expect.objectContaining({ reason: 'InvalidSpec' }),
      }),
    );
    const dry = await call('POST', '/deadletters/redrive', { dryRun: true });
    expect(dry.body.skipped).toContainEqual({
      deadLetter: expect.objectContaining({ body: '{"app": 42}' }),
      reason: 'the body is not a reconcile job',
    });
    expect(dry.body.redriven).toEqual([]);
    expect((await call('POST', '/deadletters/redrive', { max: 0 })).body).toMatchObject({
      code: 'InvalidSpec',
      field: 'max',
    });
  });

  it('a job out of retries keeps its body, is listed with why it died, and runs again once redriven', async () => {
    const { ns } = await deadLetteredApp('redriven', 'flaky');
    const [dead] = await listed('redriven');
    expect(dead).toMatchObject({
      job: { app: 'redriven', cluster: 'flaky', trigger: 'manual' },
      error: {
        reason: 'ClusterUnreachable',
        message: expect.stringContaining('flaky'),
        attempts: 1,
        sourceQueue: plane.queueUrl.split('/').pop(),
        deadLetteredAt: expect.any(String),
      },
    });

    // A dry run lists it and moves nothing.
    const dry = await call('POST', '/deadletters/redrive', { dryRun: true, max: 100 });
    expect(dry.body.dryRun).toBe(true);
    expect(dry.body.redriven).toContainEqual(expect.objectContaining({ id: dead?.id }));
    expect(await listed('redriven')).toHaveLength(1);

    // The cluster answers again; the redriven job is processed by the worker.
    expect(
      (await call('PUT', '/clusters/flaky', clusterSpec('flaky', testenv().kube.kubeconfig)))
        .status,
    ).toBe(200);
    const res = await call('POST', '/deadletters/redrive', { max: 100 });
    expect(res.body.redriven).toContainEqual(expect.objectContaining({ id: dead?.id }));
    expect(await listed('redriven')).toEqual([]);
    await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker, { quietMs: 500 });
    const { body } = await call('GET', '/apps/redriven');
    expect(body.targets[0], JSON.stringify(body.targets[0])).toMatchObject({
      sync: 'Synced',
      health: 'Healthy',
    });
    const cm = await kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: 'settings', namespace: ns });
    expect(cm.data?.a).toBe('1');
  });

  it('a console redrive (a message move task: body and attributes as they are) hands the worker the job', async () => {
    const { ns, operationId } = await deadLetteredApp('moved', 'flaky-too');
    // moto has no StartMessageMoveTask: the move is made as SQS documents it,
    // the dead letter's body and attributes sent unchanged to its source queue.
    let moved = false;
    for (let i = 0; i < 10 && !moved; i++) {
      const got = await plane.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: plane.dlqUrl,
          MaxNumberOfMessages: 10,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['MessageGroupId'],
          WaitTimeSeconds: 1,
        }),
      );
      for (const m of got.Messages ?? []) {
        if (m.Attributes?.MessageGroupId !== 'moved#flaky-too') continue;
        expect(JSON.parse(m.Body as string)).toMatchObject({
          app: 'moved',
          cluster: 'flaky-too',
          trigger: 'manual',
          deliveryId: operationId,
        });
        await plane.sqs.send(
          new SendMessageCommand({
            QueueUrl: plane.queueUrl,
            MessageBody: m.Body,
            MessageAttributes: m.MessageAttributes,
            MessageGroupId: m.Attributes.MessageGroupId,
            MessageDeduplicationId: randomUUID(),
          }),
        );
        await plane.sqs.send(
          new DeleteMessageCommand({ QueueUrl: plane.dlqUrl, ReceiptHandle: m.ReceiptHandle }),
        );
        moved = true;
      }
    }
    expect(moved).toBe(true);
    expect(
      (
        await call(
          'PUT',
          '/clusters/flaky-too',
          clusterSpec('flaky-too', testenv().kube.kubeconfig),
        )
      ).status,
    ).toBe(200);
    await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker, { quietMs: 500 });
    const { body } = await call('GET', '/apps/moved');
    expect(body.targets[0], JSON.stringify(body.targets[0])).toMatchObject({ sync: 'Synced' });
    const cm = await kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: 'settings', namespace: ns });
    expect(cm.data?.a).toBe('1');
  });
});
