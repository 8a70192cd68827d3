// Protecting clusters, end to end on the real servers: the worker
// (lib/worker.processJob) with the AWS adapters on moto (catalog, leases, the
// DynamoDB cluster guard; DynamoDB requests applied one at a time as DynamoDB
// applies conditional writes to one item), the Git server, and the test API
// server through ClusterRouter, as the Lambda wires it.
//
// - API Priority and Fairness throttles Driftless's service account: the
//   reconcile completes after backing off, the 429s are counted in the guard,
//   and the breaker stays closed (a 429 is not an outage).
// - A stopped API server (a loopback proxy in front of the shared one,
//   stopped and restarted) opens the breaker after the threshold; a job while
//   it is open is deferred without a failed attempt; after the cool-down the
//   probe finds the restarted server and closes it.
// - A cluster with concurrency 2 and five targets' jobs processed at once:
//   at most two reconciles run at the same time, the others come back and finish.

import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterListResponse, ClusterResponse } from '../../lib/api/contract.js';
import { handleApiRequest } from '../../lib/api/index.js';
import { DynamoCatalog } from '../../lib/aws/catalog/index.js';
import { DynamoClusterGuard } from '../../lib/aws/cluster-guard.js';
import { DynamoLeaseManager } from '../../lib/aws/lease.js';
import { ClusterRouter } from '../../lib/kube/connector.js';
import { ApplicationSchema, ClusterSchema } from '../../lib/model/application.js';
import type { Clock } from '../../lib/ports/clock.js';
import type { ClusterConnector } from '../../lib/ports/cluster.js';
import {
  type ClusterGuard,
  DEFAULT_BREAKER_COOL_DOWN_MS,
  DEFAULT_BREAKER_THRESHOLD,
} from '../../lib/ports/cluster-guard.js';
import type { ReconcileJob } from '../../lib/ports/queue.js';
import type { ReconcileEvent } from '../../lib/reconcile/index.js';
import { IsomorphicGitSource, SourceCache } from '../../lib/source/index.js';
import { type JobOutcome, processJob, type WorkerDeps } from '../../lib/worker.js';
import { starvedAccount } from '../support/apf.js';
import { awsClientConfig } from '../support/aws.js';
import { createDriftlessTable, serializingProxy } from '../support/dynamo.js';
import { testenv, uniqueName } from '../support/env.js';
import { flakyProxy } from '../support/flaky-proxy.js';
import { TestRepo } from '../support/git.js';
import { eventually, kubeConfig, testNamespace } from '../support/kube.js';
import { RecordingQueue } from '../support/recording-queue.js';

let catalog: DynamoCatalog;
let leases: DynamoLeaseManager;
let dynamo: DynamoDBClient;
let tableName: string;
let gitCache: string;
let closeProxy: () => Promise<void>;
const queue = new RecordingQueue();
const routers: ClusterRouter[] = [];

beforeAll(async () => {
  const proxy = await serializingProxy(testenv().aws.endpoint);
  closeProxy = proxy.close;
  ({ tableName } = await createDriftlessTable('guard-e2e'));
  dynamo = new DynamoDBClient({ ...awsClientConfig(), endpoint: proxy.endpoint });
  catalog = new DynamoCatalog({ client: dynamo, tableName });
  leases = new DynamoLeaseManager({ client: dynamo, tableName });
  gitCache = await mkdtemp(path.join(os.tmpdir(), 'driftless-guard-git-'));
});

afterAll(async () => {
  for (const r of routers) r.close();
  await closeProxy?.();
});

function newRouter(): ClusterRouter {
  const r = new ClusterRouter();
  routers.push(r);
  return r;
}

function guardWith(clock?: Clock): DynamoClusterGuard {
  return new DynamoClusterGuard({ client: dynamo, tableName, clock });
}

function workerDeps(
  guard: ClusterGuard,
  clusters: ClusterConnector,
  onEvent?: (e: ReconcileEvent) => void,
): WorkerDeps {
  return {
    catalog,
    leases,
    queue,
    guard,
    git: new IsomorphicGitSource({ cacheRoot: gitCache }),
    renderer: new SourceCache(),
    clusters,
    reporter: { report: async () => {} },
    onEvent,
  };
}

/** The shared test kubeconfig with another server and, optionally, a bearer token as the user. */
async function kubeconfigFile(opts: { server?: string; token?: string }): Promise<string> {
  let text = await readFile(testenv().kube.kubeconfig, 'utf8');
  if (opts.server)
    text = text.replace(/server: https:\/\/127\.0\.0\.1:\d+/, `server: ${opts.server}`);
  if (opts.token) {
    text = text.replace(
      /( {4}user:\n)(?: {6}client-[a-z-]+: .*\n)+/,
      `$1      token: ${opts.token}\n`,
    );
    expect(text).toContain(`token: ${opts.token}`);
  }
  const file = path.join(
    await mkdtemp(path.join(os.tmpdir(), 'driftless-guard-kc-')),
    'kubeconfig',
  );
  await writeFile(file, text);
  return file;
}

async function registerCluster(name: string, kubeconfig: string, concurrency?: number) {
  await catalog.putCluster(
    ClusterSchema.parse({
      apiVersion: 'driftless.dev/v1',
      kind: 'Cluster',
      metadata: { name },
      spec: { kubeconfig: { path: kubeconfig }, ...(concurrency ? { concurrency } : {}) },
    }),
  );
}

async function registerApp(name: string, repo: TestRepo, cluster: string, namespace: string) {
  await catalog.putApplication(
    ApplicationSchema.parse({
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name },
      spec: {
        source: { repoURL: repo.url, revision: 'main', path: '.' },
        destinations: [{ cluster, namespace }],
        syncPolicy: { retry: { limit: 10 } },
      },
    }),
  );
}

function configMaps(ns: string, count: number, withNamespace: boolean): Record<string, string> {
  const files: Record<string, string> = {};
  if (withNamespace)
    files['ns.yaml'] = `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`;
  for (let i = 0; i < count; i++) {
    files[`cm-${i}.yaml`] =
      `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings-${i}, namespace: ${ns} }\ndata: { value: "v${i}" }\n`;
  }
  return files;
}

function job(app: string, cluster: string): ReconcileJob {
  return {
    app,
    cluster,
    trigger: 'manual',
    deliveryId: randomUUID(),
    enqueuedAt: new Date().toISOString(),
  };
}

async function apiGuard(guard: ClusterGuard, cluster: string) {
  const res = await handleApiRequest(
    { catalog, queue, guard },
    { method: 'GET', path: `/clusters/${cluster}` },
  );
  expect(res.status).toBe(200);
  return (res.body as ClusterResponse).guard;
}

describe('API Priority and Fairness throttling Driftless', () => {
  it('completes the reconcile with backoff, counts the 429s, and keeps the breaker closed', async () => {
    const apf = await starvedAccount('guard-apf');
    const cluster = uniqueName('throttled');
    await registerCluster(cluster, await kubeconfigFile({ token: apf.token }));
    const repo = await TestRepo.create('guard-apf');
    await repo.commit(configMaps(apf.namespace, 5, false));
    const app = uniqueName('apf-app');
    await registerApp(app, repo, cluster, apf.namespace);
    const guard = guardWith();
    const router = newRouter();
    // Every request of the account is turned away with 429 until the seat is free.
    const seat = await apf.occupySeat();
    const running = processJob(workerDeps(guard, router), job(app, cluster), 1);
    await eventually('a 429 answered to the reconcile', async () =>
      router.throttles.for(cluster).count > 0 ? true : undefined,
    );
    await seat.release();
    const outcome = await running;
    expect(outcome.kind, JSON.stringify(outcome)).toBe('done');
    expect((outcome as Extract<JobOutcome, { kind: 'done' }>).status?.operation?.phase).toBe(
      'Succeeded',
    );
    const core = kubeConfig().makeApiClient(CoreV1Api);
    for (let i = 0; i < 5; i++) {
      const cm = await core.readNamespacedConfigMap({
        name: `settings-${i}`,
        namespace: apf.namespace,
      });
      expect(cm.data?.value).toBe(`v${i}`);
    }
    const state = await apiGuard(guard, cluster);
    expect(state).toMatchObject({ breaker: 'closed', failures: 0, slotsInUse: 0 });
    expect(state?.throttled).toBeGreaterThanOrEqual(1);
    expect(state?.throttled).toBe(router.throttles.for(cluster).count);
    // The listing shows the same guard.
    const list = await handleApiRequest(
      { catalog, queue, guard },
      { method: 'GET', path: '/clusters' },
    );
    expect((list.body as ClusterListResponse).guards?.[cluster]).toMatchObject({
      breaker: 'closed',
      throttled: state?.throttled,
    });
  });
});

describe('a stopped API server', () => {
  it('opens the breaker, defers jobs while open without a failed attempt, and closes once the server is back', async () => {
    const proxy = await flakyProxy(() => 'pass');
    const cluster = uniqueName('flaky');
    await registerCluster(cluster, await kubeconfigFile({ server: proxy.server }));
    const ns = uniqueName('guard-flaky');
    const repo = await TestRepo.create('guard-flaky');
    await repo.commit(configMaps(ns, 2, true));
    const app = uniqueName('flaky-app');
    await registerApp(app, repo, cluster, ns);
    // The guard's own clock, so the cool-down passes when the test says.
    let now = Date.now();
    const guard = guardWith({ now: () => now });
    const deps = workerDeps(guard, newRouter());

    const first = await processJob(deps, job(app, cluster), 1);
    expect(first.kind, JSON.stringify(first)).toBe('done');
    expect((await apiGuard(guard, cluster))?.breaker).toBe('closed');

    await proxy.stop();
    for (let attempt = 1; attempt <= DEFAULT_BREAKER_THRESHOLD; attempt++) {
      const failed = await processJob(deps, job(app, cluster), attempt);
      // A real failure: a retry, which counts toward the retry limit.
      expect(failed).toMatchObject({ kind: 'retry', error: { reason: 'ClusterUnreachable' } });
    }
    const open = await apiGuard(guard, cluster);
    expect(open).toMatchObject({ breaker: 'open', failures: DEFAULT_BREAKER_THRESHOLD });
    expect(open?.lastError).toMatch(/cannot reach the API server/);
    expect(Date.parse(open?.probeAt as string)).toBe(now + DEFAULT_BREAKER_COOL_DOWN_MS);

    // While open: deferred until the probe time, not a failed attempt, nothing run.
    const before = await catalog.getTargetStatus({ app, cluster });
    const deferred = await processJob(deps, job(app, cluster), 4);
    // Sent again delayed, carrying its attempts: not a failed attempt.
    expect(deferred).toMatchObject({ kind: 'deferred' });
    const why = (deferred as { reason: string }).reason;
    expect(why).toMatch(/circuit breaker .* is open/);
    // Until the probe time (the delay itself is the unit tests' business: it
    // mixes the guard's clock with the worker's).
    expect(why).toContain(
      `next probe at ${new Date(now + DEFAULT_BREAKER_COOL_DOWN_MS).toISOString()}`,
    );
    expect(await catalog.getTargetStatus({ app, cluster })).toEqual(before);

    // The server is back and the cool-down over: the probe closes the breaker.
    await proxy.start();
    now += DEFAULT_BREAKER_COOL_DOWN_MS;
    const probe = await processJob(deps, job(app, cluster), 1);
    expect(probe.kind, JSON.stringify(probe)).toBe('done');
    expect(await apiGuard(guard, cluster)).toMatchObject({ breaker: 'closed', failures: 0 });
  });
});

describe("a cluster's concurrency", () => {
  it('runs at most spec.concurrency reconciles at once across workers; the others come back and finish', async () => {
    const cluster = uniqueName('narrow');
    await registerCluster(cluster, testenv().kube.kubeconfig, 2);
    const apps: string[] = [];
    for (let i = 0; i < 5; i++) {
      const ns = await testNamespace(`guard-narrow-${i}`);
      const repo = await TestRepo.create(`guard-narrow-${i}`);
      await repo.commit(configMaps(ns, 1, false));
      const app = uniqueName(`narrow-${i}`);
      await registerApp(app, repo, cluster, ns);
      apps.push(app);
    }
    // Reconciles inside the cluster: from connecting to done. Each waits at
    // connect until the test opens the gate, so every job that could run at
    // once is running when the test counts.
    let inside = 0;
    let most = 0;
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const router = newRouter();
    const instrumented: ClusterConnector = {
      connect: async (c) => {
        inside++;
        most = Math.max(most, inside);
        await gate;
        return router.connect(c);
      },
      takeThrottling: (c) => router.takeThrottling(c),
    };
    const onEvent = (e: ReconcileEvent) => {
      if (e.type === 'done' && e.target.cluster === cluster) inside--;
    };
    // Five workers, each with its own guard client (as five Lambdas).
    const deps = () => workerDeps(guardWith(), instrumented, onEvent);
    const returned: JobOutcome[] = [];
    const first = apps.map((app) =>
      processJob(deps(), job(app, cluster), 1).then((o) => {
        returned.push(o);
        return { app, outcome: o };
      }),
    );
    await eventually('every job running or turned away', async () =>
      inside + returned.length === apps.length ? true : undefined,
    );
    expect(inside).toBe(2);
    expect(returned).toHaveLength(3);
    for (const o of returned) {
      expect(o).toMatchObject({ kind: 'deferred' });
      expect((o as { reason: string }).reason).toMatch(/at its concurrency \(2 of 2/);
    }
    open();
    let pending = (await Promise.all(first)).filter((r) => r.outcome.kind === 'deferred');
    expect(pending).toHaveLength(3);
    let rounds = 0;
    while (pending.length && rounds++ < 50) {
      const again = await Promise.all(
        pending.map(async ({ app }) => ({
          app,
          outcome: await processJob(deps(), job(app, cluster), 1),
        })),
      );
      pending = again.filter((r) => r.outcome.kind === 'deferred');
      if (pending.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(pending).toEqual([]);
    expect(most).toBeLessThanOrEqual(2);
    for (const app of apps) {
      const s = await catalog.getTargetStatus({ app, cluster });
      expect(s?.sync, app).toBe('Synced');
    }
    expect((await guardWith().state(cluster, 2)).slotsInUse).toBe(0);
  });
});
