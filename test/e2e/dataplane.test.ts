// The whole data plane, end to end, against the real servers: a push to the
// Git server → the webhook function (a real Function URL event, signed) →
// SQS FIFO (moto) → the worker function → the Kubernetes API server → the
// status API function reports it Synced and Healthy at that commit, with the
// operation in its history. DynamoDB, SQS and Secrets Manager are moto's.

import { createHmac, randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { CoreV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
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

beforeAll(async () => {
  plane = await startDataPlane('e2e');
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
    await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker);
    expect((await call('GET', '/apps/web')).body.targets[0].syncedRevision).toBe(commit);
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

describe('a message that is not a job', () => {
  it('goes to the dead-letter queue at once instead of coming back', async () => {
    const { SendMessageCommand, ReceiveMessageCommand } = await import('@aws-sdk/client-sqs');
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
      new ReceiveMessageCommand({ QueueUrl: plane.dlqUrl, MaxNumberOfMessages: 10 }),
    );
    const bodies = (dead.Messages ?? []).map((m) => JSON.parse(m.Body as string));
    expect(bodies).toContainEqual(
      expect.objectContaining({
        job: expect.objectContaining({ raw: '{"app": 42}' }),
        error: expect.objectContaining({ reason: 'InvalidSpec' }),
      }),
    );
  });
});
