// One cluster's sweep against the real API server (workloads profile: the
// Deployment controller writes status as it does in production) and the real
// Git server: after each app's check, a tick costs one metadata LIST per kind
// for all the apps and one ls-refs for their repository; a hand edit, a
// deletion, a label taken off, a second edit by the same field manager and a
// push each queue exactly the target concerned; status written by the
// controller does not.

import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../lib/kube/client.js';
import { ApplicationSchema } from '../../lib/model/application.js';
import { reconcile } from '../../lib/reconcile/index.js';
import { SourceDispatcher } from '../../lib/source/sources.js';
import { type ClusterSweepResult, sweepCluster } from '../../lib/sweep/index.js';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';
import { eventually, kubeConfig } from '../support/kube.js';
import { RecordingQueue } from '../support/recording-queue.js';

const APPS = ['a', 'b', 'c'] as const;
const MINUTE = 60_000;

function manifests(ns: string, greeting: string): Record<string, string> {
  return {
    'namespace.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
    'config.yaml': `apiVersion: v1
kind: ConfigMap
metadata: { name: settings }
data: { greeting: ${greeting} }
`,
    'deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 1
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          image: nginx:1.27
`,
    'service.yaml': `apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80 }]
`,
  };
}

describe('a cluster sweep against the API server', () => {
  let h: EngineHarness;
  let client: KubeClient;
  const ns: Record<string, string> = {};
  const name = (app: string) => `${h.appName}-${app}`;
  let tick = Date.now();
  let queue: RecordingQueue;

  const sweep = async (): Promise<ClusterSweepResult> => {
    tick += MINUTE;
    queue = new RecordingQueue();
    client.resetStats();
    return sweepCluster(
      {
        catalog: h.store,
        queue,
        clusters: h.connector,
        sources: new SourceDispatcher({ git: h.git }),
      },
      { kind: 'cluster-sweep', cluster: 'local', tick, enqueuedAt: new Date(tick).toISOString() },
    );
  };
  const check = (app: string) =>
    reconcile(
      h.deps(),
      { target: { app: name(app), cluster: 'local' }, trigger: 'sweep' },
      { waitBudgetMs: 20_000 },
    );
  const queued = () => queue.sent.map((j) => j.job.app).sort();

  beforeAll(async () => {
    h = await EngineHarness.create(uniqueName('sweep'));
    const files: Record<string, string> = {};
    for (const app of APPS) {
      ns[app] = uniqueName(`sweep-${app}`);
      for (const [f, text] of Object.entries(manifests(ns[app] as string, 'hello'))) {
        files[`${app}/${f}`] = text;
      }
    }
    await h.repo.commit(files, 'three apps');
    for (const app of APPS) {
      await h.store.putApplication(
        ApplicationSchema.parse({
          apiVersion: 'driftless.dev/v1',
          kind: 'Application',
          metadata: { name: name(app) },
          spec: {
            source: { repoURL: h.repo.url, revision: 'main', path: app },
            destinations: [{ cluster: 'local', namespace: ns[app] }],
            // b: drift is reported, not repaired (automated, selfHeal off).
            syncPolicy: { selfHeal: app !== 'b' },
          },
        }),
      );
    }
    client = await h.client();
    // Each app synced and its rollout finished: the controller's status writes are done.
    for (const app of APPS) {
      await eventually(`${app} synced and healthy`, async () => {
        const out = await check(app);
        return out.status.sync === 'Synced' && out.status.health === 'Healthy' ? out : undefined;
      });
    }
  });

  it('a tick after the checks queues nothing: one metadata LIST per kind for all the apps, one resolve', async () => {
    const { record } = await sweep();
    expect(queued()).toEqual([]);
    expect(record?.counters).toMatchObject({ targets: 3, due: 3, enqueued: 0 });
    // Namespace, ConfigMap, Deployment, Service: one metadata LIST each for all three apps
    // (Deployments whose status moved since their check are fetched once, then confirmed).
    expect(client.stats.byVerb.list).toBe(4);
    expect(client.stats.byVerb.apply ?? 0).toBe(0);
    expect(record?.counters.sourceRequests).toBe(1);
    await sweep();
    expect(queued()).toEqual([]);
    expect(client.stats.byVerb).toEqual({ list: 4 });
  });

  it('a hand edit queues its target alone; after the check, the sweep is quiet again', async () => {
    const core = kubeConfig().makeApiClient(CoreV1Api);
    await core.patchNamespacedConfigMap(
      {
        name: 'settings',
        namespace: ns.a as string,
        body: { data: { greeting: 'edited by hand' } },
        fieldManager: 'kubectl-edit',
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const { enqueued } = await sweep();
    expect(enqueued).toEqual([{ app: name('a'), reason: 'drift' }]);
    const repaired = await check('a');
    expect(repaired.status.sync).toBe('Synced');
    const cm = await core.readNamespacedConfigMap({ name: 'settings', namespace: ns.a as string });
    expect(cm.data?.greeting).toBe('hello');
    await sweep();
    expect(queued()).toEqual([]);
  });

  it('a second edit by the same field manager is seen too (a ConfigMap has no generation)', async () => {
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const edit = (greeting: string) =>
      core.patchNamespacedConfigMap(
        {
          name: 'settings',
          namespace: ns.b as string,
          body: { data: { greeting } },
          fieldManager: 'kubectl-edit',
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    await edit('first');
    expect((await sweep()).enqueued).toEqual([{ app: name('b'), reason: 'drift' }]);
    // selfHeal off: the check reports the drift and leaves it; its view has the edit.
    const reported = await check('b');
    expect(reported.status.sync).toBe('OutOfSync');
    await sweep();
    expect(queued()).toEqual([]);
    await edit('second');
    expect((await sweep()).enqueued).toEqual([{ app: name('b'), reason: 'drift' }]);
  });

  it('a deleted object and a removed tracking label each queue their target', async () => {
    const core = kubeConfig().makeApiClient(CoreV1Api);
    await core.deleteNamespacedService({ name: 'web', namespace: ns.a as string });
    await kubeConfig()
      .makeApiClient(AppsV1Api)
      .patchNamespacedDeployment(
        {
          name: 'web',
          namespace: ns.c as string,
          body: [{ op: 'remove', path: '/metadata/labels/driftless.dev~1app' }],
          fieldManager: 'kubectl-label',
        },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      );
    const { enqueued } = await sweep();
    expect(
      enqueued.filter((e) => e.app !== name('b')).sort((x, y) => x.app.localeCompare(y.app)),
    ).toEqual([
      { app: name('a'), reason: 'drift' },
      { app: name('c'), reason: 'drift' },
    ]);
    for (const app of ['a', 'c']) expect((await check(app)).status.sync).toBe('Synced');
  });

  it('a push queues every target of the repository, with one ls-refs for all of them', async () => {
    const files: Record<string, string> = {};
    for (const app of APPS) {
      files[`${app}/config.yaml`] = manifests(ns[app] as string, 'pushed')['config.yaml'] as string;
    }
    await h.repo.commit(files, 'push');
    const { enqueued, record } = await sweep();
    expect(enqueued.map((e) => e.reason)).toEqual(['source', 'source', 'source']);
    expect(record?.counters.sourceRequests).toBe(1);
    // Nothing in the cluster needed comparing.
    expect(client.stats.total).toBe(0);
  });
});
