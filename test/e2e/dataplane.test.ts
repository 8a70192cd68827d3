// The whole data plane, end to end, against the real servers: a push to the
// Git server → the webhook function (a real Function URL event, signed) →
// SQS FIFO (moto) → the worker function → the Kubernetes API server → the
// status API function reports it Synced and Healthy at that commit, with the
// operation in its history. DynamoDB, SQS and Secrets Manager are moto's.

import { createHmac, randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CoreV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { awsClientConfig } from '../support/aws.js';
import { createDriftlessTable } from '../support/dynamo.js';
import { testenv, uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { kubeConfig } from '../support/kube.js';
import {
  drain,
  type HttpHandler,
  httpEvent,
  lambdaContext,
  type SqsHandler,
} from '../support/lambda.js';

const SECRET = `e2e-${randomUUID()}`;

let sqs: SQSClient;
let queueUrl: string;
let delayUrl: string;
let dlqUrl: string;
let webhook: HttpHandler;
let worker: SqsHandler;
let api: HttpHandler;

async function call(method: string, p: string, body?: unknown, query?: Record<string, string>) {
  const res = await api(
    httpEvent(method, p, {
      body: body === undefined ? undefined : JSON.stringify(body),
      query,
      iamUser: 'arn:aws:iam::123456789012:user/ops',
    }),
    lambdaContext('driftless-api'),
  );
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null };
}

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
  const signature = `sha256=${createHmac('sha256', opts.secret ?? SECRET)
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
  const a = await sqs.send(
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

beforeAll(async () => {
  const aws = awsClientConfig();
  sqs = new SQSClient(aws);
  const { tableName } = await createDriftlessTable('e2e');
  const fifo = { FifoQueue: 'true', VisibilityTimeout: '60' };
  queueUrl = (
    await sqs.send(
      new CreateQueueCommand({ QueueName: `${uniqueName('jobs')}.fifo`, Attributes: fifo }),
    )
  ).QueueUrl as string;
  dlqUrl = (
    await sqs.send(
      new CreateQueueCommand({ QueueName: `${uniqueName('dlq')}.fifo`, Attributes: fifo }),
    )
  ).QueueUrl as string;
  delayUrl = (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: uniqueName('delayed'),
        Attributes: { VisibilityTimeout: '60' },
      }),
    )
  ).QueueUrl as string;
  const secretId = uniqueName('webhook-secret');
  await new SecretsManagerClient(aws).send(
    new CreateSecretCommand({ Name: secretId, SecretString: SECRET }),
  );
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: aws.endpoint,
    AWS_REGION: aws.region,
    AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
    DRIFTLESS_TABLE: tableName,
    DRIFTLESS_QUEUE_URL: queueUrl,
    DRIFTLESS_DELAY_QUEUE_URL: delayUrl,
    DRIFTLESS_DLQ_URL: dlqUrl,
    DRIFTLESS_WEBHOOK_SECRET_ID: secretId,
    DRIFTLESS_WAIT_BUDGET_MS: '30000',
    DRIFTLESS_GIT_CACHE: await mkdtemp(path.join(os.tmpdir(), 'driftless-e2e-git-')),
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_NAMESPACE: 'DriftlessE2E',
    POWERTOOLS_DEV: 'false',
  });
  webhook = (await import('../../functions/webhook.js')).handler as unknown as HttpHandler;
  worker = (await import('../../functions/worker.js')).handler as unknown as SqsHandler;
  api = (await import('../../functions/api.js')).handler as unknown as HttpHandler;
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
    const res = await webhook(
      pushEvent(repo, first, randomUUID()),
      lambdaContext('driftless-webhook'),
    );
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body as string).targets).toEqual([{ app: 'web', cluster: 'local' }]);
    await drain(sqs, [queueUrl, delayUrl], worker);

    const { body } = await call('GET', '/apps/web');
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
    expect((await webhook(forged, lambdaContext('driftless-webhook'))).statusCode).toBe(401);
    const unsigned = pushEvent(repo, commit, randomUUID());
    delete unsigned.headers['x-hub-signature-256'];
    expect((await webhook(unsigned, lambdaContext('driftless-webhook'))).statusCode).toBe(401);
    expect(await queueDepth(queueUrl)).toBe(0);

    const delivery = randomUUID();
    const firstTime = await webhook(
      pushEvent(repo, commit, delivery),
      lambdaContext('driftless-webhook'),
    );
    expect(firstTime.statusCode).toBe(202);
    expect(await queueDepth(queueUrl)).toBe(1);
    const replay = await webhook(
      pushEvent(repo, commit, delivery),
      lambdaContext('driftless-webhook'),
    );
    expect(replay.statusCode).toBe(202);
    expect(JSON.parse(replay.body as string)).toEqual(JSON.parse(firstTime.body as string));
    expect(await queueDepth(queueUrl)).toBe(1);
    await drain(sqs, [queueUrl, delayUrl], worker);
    expect((await call('GET', '/apps/web')).body.targets[0].syncedRevision).toBe(commit);
  });

  it('rolls back through POST /apps/{name}/sync with an older revision, recorded in history', async () => {
    // An automated app refuses: its next sync would undo the rollback.
    expect((await call('POST', '/apps/web/sync', { revision: first })).status).toBe(409);
    expect((await call('POST', '/apps/web/suspend')).status).toBe(200);
    const res = await call('POST', '/apps/web/sync', { revision: first });
    expect(res.status).toBe(202);
    await drain(sqs, [queueUrl, delayUrl], worker);
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
