// Operations always finish (#12), end to end on the real servers: the
// deployed handlers (webhook, worker, API) on moto's SQS and DynamoDB, Git
// over git http-backend, and the Kubernetes API server with its controllers.
// Each case drives the queues the way Lambda's event source mapping does and
// reads what a user sees through the status API.

import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { CoreV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DataPlane, startDataPlane } from '../support/dataplane.js';
import { testenv, uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { holdingWebhook } from '../support/holding-webhook.js';
import { kubeConfig } from '../support/kube.js';
import { lambdaContext, pollOnce } from '../support/lambda.js';

let plane: DataPlane;
const call: DataPlane['call'] = (...args) => plane.call(...args);

beforeAll(async () => {
  // A short wait budget: a rollout outlasts one invocation, as slow ones do in production.
  plane = await startDataPlane('ops', { waitBudgetMs: 1_000 });
  const local = {
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name: 'local' },
    spec: { kubeconfig: { path: testenv().kube.kubeconfig } },
  };
  expect((await call('PUT', '/clusters/local', local)).status).toBe(201);
});

function appSpec(
  name: string,
  repo: TestRepo,
  ns: string,
  syncPolicy: Record<string, unknown> = {},
) {
  return {
    apiVersion: 'driftless.dev/v1',
    kind: 'Application',
    metadata: { name },
    spec: {
      source: { repoURL: repo.url, revision: 'main', path: '.' },
      destinations: [{ cluster: 'local', namespace: ns }],
      syncPolicy,
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: the status API's JSON, read ad hoc
async function targetOf(app: string): Promise<any> {
  const { status, body } = await call('GET', `/apps/${app}`);
  expect(status).toBe(200);
  return body.targets[0];
}

/**
 * Runs the worker on both queues (jobs and delayed re-checks) until `done`
 * holds, as the event source mapping would; returns how many messages were
 * received. Each invocation gets `timeoutMs` (the Lambda context's remaining time).
 */
async function runUntil(
  done: () => Promise<boolean>,
  opts: { timeoutMs?: number; invocationMs?: number } = {},
): Promise<number> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  let received = 0;
  while (Date.now() < deadline) {
    for (const url of [plane.queueUrl, plane.delayUrl]) {
      received += (await pollOnce(plane.sqs, url, plane.worker, { timeoutMs: opts.invocationMs }))
        .received;
    }
    if (await done()) return received;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not settled after ${(opts.timeoutMs ?? 120_000) / 1000}s`);
}

/** Runs the worker on both queues for `ms`; returns how many messages it received. */
async function runFor(ms: number): Promise<number> {
  const until = Date.now() + ms;
  return runUntil(async () => Date.now() >= until, { timeoutMs: ms + 60_000 });
}

function deployment(ns: string, image: string, minReadySeconds: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ${ns}
  annotations: { argocd.argoproj.io/sync-wave: "0" }
spec:
  replicas: 1
  minReadySeconds: ${minReadySeconds}
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers: [{ name: web, image: "${image}" }]
`;
}

function configMap(ns: string, name: string, data: string, annotations = ''): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
  namespace: ${ns}
  annotations: { ${annotations} }
data: { value: "${data}" }
`;
}

describe('a rollback of a suspended app whose rollout outlasts the wait budget', () => {
  it('reaches Succeeded at the old revision with later waves and PostSync applied, and still prunes', async () => {
    const ns = uniqueName('rollback');
    const app = uniqueName('rb');
    const repo = await TestRepo.create(app);
    const revision = (files: Record<string, string>) => repo.commit(files);
    const base = (image: string, later: string) => ({
      'ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
      'deploy.yaml': deployment(ns, image, 4),
      'later.yaml': configMap(ns, 'later', later, 'argocd.argoproj.io/sync-wave: "1"'),
      'post.yaml': configMap(ns, `post-${later}`, later, 'argocd.argoproj.io/hook: PostSync'),
    });
    const old = await revision(base('web:1', 'v1'));
    expect((await call('PUT', `/apps/${app}`, appSpec(app, repo, ns))).status).toBe(201);
    const synced = (rev: string) => async () => {
      const t = await targetOf(app);
      return t.operation?.phase === 'Succeeded' && t.operation.revision === rev;
    };
    expect((await call('POST', `/apps/${app}/sync`, {})).status).toBe(202);
    await runUntil(synced(old));
    // The new revision adds an object that only it has.
    const newer = await revision({
      ...base('web:2', 'v2'),
      'extra.yaml': configMap(ns, 'only-in-new', 'x'),
    });
    expect((await call('POST', `/apps/${app}/sync`, {})).status).toBe(202);
    await runUntil(synced(newer));

    // Suspend, then roll back with prune: the app's own policy does not prune.
    expect((await call('POST', `/apps/${app}/suspend`)).status).toBe(200);
    const rollback = await call('POST', `/apps/${app}/sync`, { revision: old, prune: true });
    expect(rollback.status, JSON.stringify(rollback.body)).toBe(202);
    const received = await runUntil(synced(old));
    // The rollout outlasted the budget: the operation spanned several invocations.
    expect(received).toBeGreaterThan(1);

    const t = await targetOf(app);
    expect(t.operation).toMatchObject({ phase: 'Succeeded', revision: old });
    const core = kubeConfig().makeApiClient(CoreV1Api);
    // Wave 1 and the PostSync hook of the old revision were applied after wave 0 rolled out.
    expect((await core.readNamespacedConfigMap({ name: 'later', namespace: ns })).data).toEqual({
      value: 'v1',
    });
    await core.readNamespacedConfigMap({ name: 'post-v1', namespace: ns });
    // The prune the rollback allowed happened although the sync yielded first.
    await expect(
      core.readNamespacedConfigMap({ name: 'only-in-new', namespace: ns }),
    ).rejects.toMatchObject({ code: 404 });
    const history = (await call('GET', `/apps/${app}/history`)).body.targets[0].operations;
    expect(history[0]).toMatchObject({
      phase: 'Succeeded',
      revision: old,
      trigger: 'rollback',
      allowPrune: true,
      initiator: 'arn:aws:iam::123456789012:user/ops',
    });
    expect(history[0].pruned).toBe(1);
  });
});

describe('a cluster whose admission webhook hangs every request', () => {
  it('yields before the deadline saying why, then is Degraded and dead-lettered; other targets keep syncing', async () => {
    const ns = uniqueName('hang');
    const core = kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const held = await holdingWebhook(ns, 'held');
    const app = uniqueName('hang');
    const repo = await TestRepo.create(app);
    await repo.commit({
      'cm.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: stuck, labels: { held: "true" } }\ndata: { k: v }\n`,
    });
    const retry = { limit: 1, backoff: { duration: '1s', factor: 1, maxDuration: '1s' } };
    expect((await call('PUT', `/apps/${app}`, appSpec(app, repo, ns, { retry }))).status).toBe(201);
    const okNs = uniqueName('fine');
    const okApp = uniqueName('fine');
    const okRepo = await TestRepo.create(okApp);
    await okRepo.commit({
      'ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${okNs} }\n`,
      'cm.yaml': configMap(okNs, 'fine', 'ok'),
    });
    expect((await call('PUT', `/apps/${okApp}`, appSpec(okApp, okRepo, okNs))).status).toBe(201);
    expect((await call('POST', `/apps/${app}/sync`, {})).status).toBe(202);

    // One invocation with 12 s left: the apply hangs in the webhook (up to 30 s).
    const invocationMs = 12_000;
    const first = await pollOnce(plane.sqs, plane.queueUrl, plane.worker, {
      timeoutMs: invocationMs,
    });
    expect(first.received).toBe(1);
    expect(held.held).toBeGreaterThan(0);
    // It returned before Lambda would have killed it (the invocation's own
    // remaining time, not the poll's), with the status saying why.
    expect(first.remainingMs).toBeGreaterThan(0);
    const yielded = await targetOf(app);
    expect(yielded.conditions.map((c: { reason: string }) => c.reason)).toContain(
      'DeadlineExceeded',
    );
    expect(yielded.operation.message).toMatch(
      /apply of ConfigMap\/.*stuck did not answer before the invocation's deadline/,
    );

    // Meanwhile another target on the same cluster syncs.
    expect((await call('POST', `/apps/${okApp}/sync`, {})).status).toBe(202);
    await runUntil(async () => (await targetOf(okApp)).sync === 'Synced', { invocationMs });

    // The retry limit (1) spent: Degraded and dead-lettered, within a minute.
    await runUntil(async () => (await targetOf(app)).health === 'Degraded', {
      timeoutMs: 60_000,
      invocationMs,
    });
    const degraded = await targetOf(app);
    expect(degraded.healthMessage).toMatch(
      /gave up after 2 attempts: .*did not answer before the invocation's deadline/,
    );
    expect(degraded.operation.phase).toBe('Error');
    const dead = await plane.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: plane.dlqUrl, MaxNumberOfMessages: 10 }),
    );
    expect(dead.Messages?.some((m) => (m.Body ?? '').includes(app))).toBe(true);
    held.release();
  });
});

describe('a PVC that stays Pending', () => {
  it('re-checks back off and stop at healthTimeout, in one chain however many pushes arrive', async () => {
    const ns = uniqueName('pvc');
    const app = uniqueName('pvc');
    const repo = await TestRepo.create(app);
    const files = (n: number) => ({
      'ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
      // No storage class serves it: it stays Pending (Progressing) for good.
      'pvc.yaml': `apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: data, namespace: ${ns} }
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: none-here
  resources: { requests: { storage: 1Gi } }
`,
      'cm.yaml': configMap(ns, 'settings', `v${n}`),
    });
    await repo.commit(files(0));
    const policy = { automated: true, healthTimeout: '15s' };
    expect((await call('PUT', `/apps/${app}`, appSpec(app, repo, ns, policy))).status).toBe(201);
    // Three pushes, each synced, each asking for a re-check of the Pending PVC.
    for (let n = 1; n <= 3; n++) {
      const commit = await repo.commit(files(n));
      expect((await call('POST', `/apps/${app}/sync`, {})).status).toBe(202);
      await runUntil(async () => (await targetOf(app)).syncedRevision === commit);
    }
    const stopped = async () => {
      const t = await targetOf(app);
      return t.conditions.some((c: { type: string }) => c.type === 'HealthCheckStopped');
    };
    const checks = await runUntil(stopped, { timeoutMs: 60_000 });
    const at = (await targetOf(app)).lastCheckedAt;
    expect(checks).toBeGreaterThan(0);
    // Stopped, and the chains of the earlier pushes were dropped: whatever
    // re-checks were still queued (delays of up to 10 s), none looks again.
    await runFor(15_000);
    expect((await targetOf(app)).lastCheckedAt).toBe(at);
    expect((await targetOf(app)).health).toBe('Progressing');
  });
});

describe('driftless terminate', () => {
  it('ends a running operation: its SyncFail hook runs and it ends Failed, reason Terminated', async () => {
    const ns = uniqueName('term');
    const app = uniqueName('term');
    const repo = await TestRepo.create(app);
    await repo.commit({
      'ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
      // A Deployment that takes long to roll out blocks wave 1 and the PostSync hook.
      'deploy.yaml': deployment(ns, 'web:1', 300),
      'later.yaml': configMap(ns, 'later', 'v1', 'argocd.argoproj.io/sync-wave: "1"'),
      'fail.yaml': configMap(ns, 'on-fail', 'x', 'argocd.argoproj.io/hook: SyncFail'),
    });
    expect((await call('PUT', `/apps/${app}`, appSpec(app, repo, ns))).status).toBe(201);
    expect((await call('POST', `/apps/${app}/terminate`)).status).toBe(409);
    expect((await call('POST', `/apps/${app}/sync`, {})).status).toBe(202);
    await runUntil(async () => (await targetOf(app)).operation?.phase === 'Running');
    const running = (await targetOf(app)).operation;

    const res = await call('POST', `/apps/${app}/terminate`);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.terminated).toEqual([{ cluster: 'local', operationId: running.id }]);
    await runUntil(async () => (await targetOf(app)).operation?.phase === 'Failed');
    const t = await targetOf(app);
    expect(t.operation).toMatchObject({ id: running.id, reason: 'Terminated' });
    expect(t.operation.message).toMatch(/terminated by arn:aws:iam::123456789012:user\/ops/);
    const core = kubeConfig().makeApiClient(CoreV1Api);
    await core.readNamespacedConfigMap({ name: 'on-fail', namespace: ns });
    await expect(
      core.readNamespacedConfigMap({ name: 'later', namespace: ns }),
    ).rejects.toMatchObject({ code: 404 });
  });
});

describe('an application with automated: false', () => {
  it('is checked by the sweep and reported OutOfSync with nothing applied, until a manual sync', async () => {
    const ns = uniqueName('manual');
    const app = uniqueName('manual');
    const repo = await TestRepo.create(app);
    await repo.commit({
      'ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
      'cm.yaml': configMap(ns, 'settings', 'v1'),
    });
    const policy = { automated: false };
    expect((await call('PUT', `/apps/${app}`, appSpec(app, repo, ns, policy))).status).toBe(201);
    // The sweep's tick queues the cluster's sweep, which finds the new target and queues its check.
    const swept = await plane.sweep(
      { scheduledTime: new Date().toISOString() },
      lambdaContext('driftless-sweep'),
    );
    expect(swept.clusters).toBe(1);
    // Short invocations: the sweep also queues this file's other targets (one hangs in a webhook).
    await runUntil(async () => (await targetOf(app))?.lastCheckedAt !== undefined, {
      invocationMs: 15_000,
    });
    const checked = await targetOf(app);
    expect(checked.sync).toBe('OutOfSync');
    expect(checked.conditions.map((c: { message: string }) => c.message)).toContainEqual(
      expect.stringMatching(/objects differ from Git \(automated sync is off\)/),
    );
    expect(checked.operation).toBeUndefined();
    const core = kubeConfig().makeApiClient(CoreV1Api);
    await expect(core.readNamespace({ name: ns })).rejects.toMatchObject({ code: 404 });
    // A manual sync applies it.
    expect((await call('POST', `/apps/${app}/sync`, {})).status).toBe(202);
    await runUntil(async () => (await targetOf(app)).operation?.phase === 'Succeeded', {
      invocationMs: 15_000,
    });
    expect((await targetOf(app)).sync).toBe('Synced');
    expect((await core.readNamespacedConfigMap({ name: 'settings', namespace: ns })).data).toEqual({
      value: 'v1',
    });
  });
});
