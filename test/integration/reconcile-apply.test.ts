// How objects are applied and compared, against the real API server: one
// LIST per group/version/kind in use (two apiVersions of one kind compare in
// their own shapes), immutable fields (a precise error, or delete and create
// when the object opts in), fail fast within a wave, apply policies from
// annotations (Flux's ssa, reconcile: disabled, Argo CD's sync options), and
// custom resources whose CRD arrives in the same revision.

import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { KubeClient } from '../../lib/kube/client.js';
import { KubeconfigConnector, kubeconfigAccess } from '../../lib/kube/kubeconfig.js';
import type { KubeObject } from '../../lib/model/object.js';
import { EngineHarness, type HarnessConnector } from '../support/engine.js';
import { testenv, uniqueName } from '../support/env.js';
import { rejection } from '../support/errors.js';
import { holdingWebhook } from '../support/holding-webhook.js';
import { eventually, kubeConfig } from '../support/kube.js';
import { laggingDiscovery } from '../support/lagging-discovery.js';

function configMap(name: string, data: Record<string, string>, annotations = ''): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${annotations}data: ${JSON.stringify(data)}\n`;
}

async function labelledConfigMaps(app: string): Promise<string[]> {
  const list = await kubeConfig()
    .makeApiClient(CoreV1Api)
    .listConfigMapForAllNamespaces({ labelSelector: `driftless.dev/app=${app}` });
  return list.items.map((c) => c.metadata?.name as string).sort();
}

function ns(name: string): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
}

describe('one LIST per group/version/kind', () => {
  it('compares two apiVersions of one kind each in its own shape: Synced after a sync, not OutOfSync forever', async () => {
    const namespace = uniqueName('gvk');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'ns.yaml': ns(namespace),
      'hpa-v1.yaml': `apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: old-style
spec:
  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: nothing }
  minReplicas: 1
  maxReplicas: 3
  targetCPUUtilizationPercentage: 60
`,
      'hpa-v2.yaml': `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: new-style
spec:
  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: nothing }
  minReplicas: 1
  maxReplicas: 3
  metrics:
    - type: Resource
      resource: { name: memory, target: { type: Utilization, averageUtilization: 70 } }
`,
    });
    await h.setApp({ namespace });
    // Without a metrics source the HPAs are Degraded (health); both are applied all the same.
    const first = await h.reconcile();
    expect(first.error?.describe()).toBeUndefined();
    expect(first.status.operation?.applied).toBe(3);

    // Another writer touches both (new resourceVersions): the check compares them for real.
    const client = await h.client();
    for (const [version, name] of [
      ['v1', 'old-style'],
      ['v2', 'new-style'],
    ]) {
      await client.requestJson(
        'PATCH',
        `/apis/autoscaling/${version}/namespaces/${namespace}/horizontalpodautoscalers/${name}?fieldManager=someone`,
        { metadata: { annotations: { touched: 'yes' } } },
        { contentType: 'application/merge-patch+json' },
      );
    }
    client.resetStats();
    const again = await h.reconcile();
    expect(again.status.sync).toBe('Synced');
    expect(again.status.resources.map((r) => [r.name, r.sync])).toEqual(
      expect.arrayContaining([
        ['old-style', 'Synced'],
        ['new-style', 'Synced'],
      ]),
    );
    // Namespace, HPA in autoscaling/v1, HPA in autoscaling/v2: three LISTs, nothing else.
    expect(client.stats.byVerb).toEqual({ list: 3 });
  });
});

function deployment(selector: string, annotations = ''): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
${annotations}spec:
  replicas: 1
  selector:
    matchLabels: { app: ${selector} }
  template:
    metadata:
      labels: { app: ${selector} }
    spec:
      containers:
        - name: web
          image: nginx:1.27
`;
}

function job(image: string, annotations = ''): string {
  return `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
${annotations}spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: ${image}
`;
}

/** A StatefulSet with one volumeClaimTemplate of `storage` (immutable once created). */
function statefulSet(storage: string): string {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 1
  selector:
    matchLabels: { app: db }
  template:
    metadata:
      labels: { app: db }
    spec:
      containers:
        - name: db
          image: postgres:16
          volumeMounts: [{ name: data, mountPath: /data }]
  volumeClaimTemplates:
    - metadata: { name: data }
      spec:
        accessModes: [ReadWriteOnce]
        resources: { requests: { storage: ${storage} } }
`;
}

/** A ClusterIP Service; `spec` lines are added under spec (e.g. a clusterIP). */
function service(spec: string, annotations = ''): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: web
${annotations}spec:
${spec}  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080 }]
`;
}

describe('immutable fields', () => {
  it('fails the object alone with the field, file:line and the way out; the rest is applied and keeps its status', async () => {
    const namespace = uniqueName('immutable');
    const h = await EngineHarness.create(uniqueName('app'));
    const config = (v: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: { v: "${v}" }\n`;
    await h.repo.commit({
      'ns.yaml': ns(namespace),
      'config.yaml': config('one'),
      'deploy.yaml': deployment('web'),
    });
    await h.setApp({ namespace });
    const first = await h.reconcileUntilSettled();
    expect(first.error).toBeUndefined();
    const client = await h.client();
    const before = await client.get('apps/v1', 'Deployment', namespace, 'web');

    await h.repo.commit({ 'config.yaml': config('two'), 'deploy.yaml': deployment('web-v2') });
    const outcome = await h.reconcile();
    expect(outcome.error?.reason).toBe('ApplyRejected');
    expect(outcome.error?.describe()).toMatch(
      new RegExp(
        `^deploy\\.yaml:1: Deployment/${namespace}/web: spec\\.selector: cannot change an immutable field .*Replace=true or Force=true`,
      ),
    );
    const byName = new Map(outcome.status.resources.map((r) => [r.name, r]));
    expect(byName.get('web')).toMatchObject({ sync: 'OutOfSync' });
    expect(byName.get('web')?.reason).toMatch(/deploy\.yaml:1: .*immutable/);
    // The ConfigMap (a prerequisite, applied a step ahead) went through and says so.
    expect(byName.get('settings')).toMatchObject({ sync: 'Synced' });
    expect((await client.get('v1', 'ConfigMap', namespace, 'settings'))?.data).toEqual({
      v: 'two',
    });
    const after = await client.get('apps/v1', 'Deployment', namespace, 'web');
    expect(after?.metadata.uid).toBe(before?.metadata.uid);
  });

  it("names a StatefulSet's volumeClaimTemplates per object in the check and the sync; the rest keeps its diff and is applied", async () => {
    const namespace = uniqueName('immsts');
    const h = await EngineHarness.create(uniqueName('app'));
    const config = (v: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: { v: "${v}" }\n`;
    await h.repo.commit({
      'ns.yaml': ns(namespace),
      'config.yaml': config('one'),
      'db.yaml': statefulSet('1Gi'),
    });
    await h.setApp({ namespace });
    const first = await h.reconcile();
    expect(first.error?.describe()).toBeUndefined();
    const client = await h.client();
    const before = await client.get('apps/v1', 'StatefulSet', namespace, 'db');

    await h.repo.commit({ 'config.yaml': config('two'), 'db.yaml': statefulSet('2Gi') });
    // The check compares everything: the StatefulSet is OutOfSync with the
    // server's reason, the ConfigMap's change is shown as a diff.
    const preview = await h.reconcile({ preview: true });
    expect(preview.error?.describe()).toBeUndefined();
    const drift = new Map((preview.drift ?? []).map((d) => [d.key, d]));
    const db = drift.get(`apps/StatefulSet/${namespace}/db`);
    expect(db?.state).toBe('OutOfSync');
    // The server names only `spec`; the field that changed is named from the comparison.
    expect(db?.reason).toMatch(
      /^spec\.volumeClaimTemplates\[0\]\.spec\.resources\.requests\.storage: .*updates to statefulset spec for fields other than/,
    );
    const settings = drift.get(`/ConfigMap/${namespace}/settings`);
    expect(settings?.state).toBe('OutOfSync');
    expect(settings?.diff).toMatch(/^-\s+v: one$/m);
    expect(settings?.diff).toMatch(/^\+\s+v: two$/m);

    // The sync fails on the StatefulSet alone, naming it, the field, the file and the way out.
    const outcome = await h.reconcile();
    expect(outcome.error?.reason).toBe('ApplyRejected');
    expect(outcome.error?.describe()).toMatch(
      new RegExp(
        `^db\\.yaml:1: StatefulSet/${namespace}/db: spec\\.volumeClaimTemplates\\[0\\]\\.spec\\.resources\\.requests\\.storage: cannot change an immutable field \\(.*\\); .*Replace=true or Force=true`,
      ),
    );
    const byName = new Map(outcome.status.resources.map((r) => [`${r.kind}/${r.name}`, r]));
    expect(byName.get('StatefulSet/db')).toMatchObject({ sync: 'OutOfSync' });
    expect(byName.get('StatefulSet/db')?.reason).toMatch(/^db\.yaml:1: .*immutable/);
    expect(byName.get('ConfigMap/settings')).toMatchObject({ sync: 'Synced' });
    expect((await client.get('v1', 'ConfigMap', namespace, 'settings'))?.data).toEqual({
      v: 'two',
    });
    const after = (await client.get('apps/v1', 'StatefulSet', namespace, 'db')) as KubeObject & {
      spec: { volumeClaimTemplates: { spec: { resources: { requests: { storage: string } } } }[] };
    };
    expect(after.metadata.uid).toBe(before?.metadata.uid);
    expect(after.spec.volumeClaimTemplates[0]?.spec.resources.requests.storage).toBe('1Gi');
  });

  it("names a Service's clusterIP per object; with Argo CD's Force=true the Service is recreated", async () => {
    const namespace = uniqueName('immsvc');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({ 'ns.yaml': ns(namespace), 'svc.yaml': service('') });
    // No retries: the refused commit's operation ends, so the next commit syncs at once.
    await h.setApp({ namespace, syncPolicy: { retry: { limit: 0 } } });
    expect((await h.reconcile()).error?.describe()).toBeUndefined();
    const client = await h.client();
    const before = (await client.get('v1', 'Service', namespace, 'web')) as KubeObject & {
      spec: { clusterIP: string };
    };
    // The server allocated one: an IPv4 address, not None.
    expect(before.spec.clusterIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    // Headless from now on: the allocated clusterIP may not change.
    await h.repo.commit({ 'svc.yaml': service('  clusterIP: None\n') });
    const refused = await h.reconcile();
    expect(refused.error?.reason).toBe('ApplyRejected');
    expect(refused.error?.describe()).toMatch(
      new RegExp(
        `^svc\\.yaml:1: Service/${namespace}/web: spec\\.clusterIPs?(\\[0\\])?.*: cannot change an immutable field \\(.*may not change once set.*\\); .*Replace=true or Force=true`,
      ),
    );
    const kept = (await client.get('v1', 'Service', namespace, 'web')) as typeof before;
    expect(kept.metadata.uid).toBe(before.metadata.uid);
    expect(kept.spec.clusterIP).toBe(before.spec.clusterIP);

    // Opted in (Argo CD's Force=true): deleted and created again as written.
    const force = '  annotations:\n    argocd.argoproj.io/sync-options: Force=true\n';
    await h.repo.commit({ 'svc.yaml': service('  clusterIP: None\n', force) });
    const forced = await h.reconcile();
    expect(forced.error?.describe()).toBeUndefined();
    expect(forced.status.sync).toBe('Synced');
    const now = (await client.get('v1', 'Service', namespace, 'web')) as typeof before;
    expect(now.metadata.uid).not.toBe(before.metadata.uid);
    expect(now.spec.clusterIP).toBe('None');
  });

  it('Replace=true deletes and creates a Job whose template changes, after the old one is gone', async () => {
    const namespace = uniqueName('replace');
    const h = await EngineHarness.create(uniqueName('app'));
    const replace = '  annotations:\n    argocd.argoproj.io/sync-options: Replace=true\n';
    await h.repo.commit({ 'ns.yaml': ns(namespace), 'job.yaml': job('busybox:1.36', replace) });
    await h.setApp({ namespace });
    // The Job runs on kwok and does not finish: the operation yields, which is fine here.
    const first = await h.reconcile({}, { waitBudgetMs: 500 });
    expect(first.error).toBeUndefined();
    const client = await h.client();
    const old = await client.get('batch/v1', 'Job', namespace, 'migrate');
    expect(old?.metadata.uid).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );

    await h.repo.commit({ 'job.yaml': job('busybox:1.37', replace) });
    const second = await h.reconcile({}, { waitBudgetMs: 500 });
    expect(second.error).toBeUndefined();
    const now = (await client.get('batch/v1', 'Job', namespace, 'migrate')) as {
      metadata: { uid?: string };
      spec?: { template?: { spec?: { containers?: { image?: string }[] } } };
    };
    expect(now.metadata.uid).not.toBe(old?.metadata.uid);
    expect(now.spec?.template?.spec?.containers?.[0]?.image).toBe('busybox:1.37');
  });

  it("Flux's force: Enabled recreates a Deployment whose selector changes", async () => {
    const namespace = uniqueName('force');
    const h = await EngineHarness.create(uniqueName('app'));
    const force = '  annotations:\n    kustomize.toolkit.fluxcd.io/force: Enabled\n';
    await h.repo.commit({ 'ns.yaml': ns(namespace), 'deploy.yaml': deployment('web', force) });
    await h.setApp({ namespace });
    expect((await h.reconcileUntilSettled()).error).toBeUndefined();
    const client = await h.client();
    const old = await client.get('apps/v1', 'Deployment', namespace, 'web');

    await h.repo.commit({ 'deploy.yaml': deployment('web-v2', force) });
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.sync).toBe('Synced');
    const now = (await client.get('apps/v1', 'Deployment', namespace, 'web')) as {
      metadata: { uid?: string };
      spec?: { selector?: { matchLabels?: Record<string, string> } };
    };
    expect(now.metadata.uid).not.toBe(old?.metadata.uid);
    expect(now.spec?.selector?.matchLabels).toEqual({ app: 'web-v2' });
  });
});

describe('fail fast', () => {
  it('starts no write after the first failed one: not the rest of the step, the next step, nor later waves', async () => {
    const namespace = uniqueName('failfast');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'ns.yaml': ns(namespace),
      // A key the server refuses (config keys are [-._a-zA-Z0-9]+), which no
      // schema describes: the pre-sync schema check passes, the apply fails.
      'a-bad.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a-bad\ndata:\n  "bad key!": v\n',
      'b.yaml': configMap('b', { k: 'v' }),
      'c.yaml': configMap('c', { k: 'v' }),
      'deploy.yaml': deployment('web'),
      'later.yaml': configMap(
        'later',
        { k: 'v' },
        '  annotations:\n    argocd.argoproj.io/sync-wave: "1"\n',
      ),
    });
    await h.setApp({ namespace });
    const outcome = await h.reconcile({}, { concurrency: 1 });
    expect(outcome.error?.reason).toBe('ApplyRejected');
    expect(outcome.error?.location.file).toBe('a-bad.yaml');
    expect(await labelledConfigMaps(h.appName)).toEqual([]);
    const client = await h.client();
    expect(await client.get('apps/v1', 'Deployment', namespace, 'web')).toBeUndefined();
    expect(
      h.events.filter((e) => e.type === 'applied').map((e) => e.type === 'applied' && e.key),
    ).toEqual([`/Namespace//${namespace}`]);
  });
});

describe('fail fast with writes in flight', () => {
  it('lets a write already in flight finish but starts none after the first failure', async () => {
    const namespace = uniqueName('failfast2');
    await kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: namespace } } });
    // b's create is held by an admission webhook until the test has seen a-bad fail.
    const hold = await holdingWebhook(namespace, 'held');
    let rejected = 0;
    const inner = new KubeconfigConnector();
    const connector: HarnessConnector = {
      async connect(cluster) {
        const client = await inner.connect(cluster);
        // The real client; its rejected applies counted, so the test knows when the failure happened.
        return new Proxy(client, {
          get(target, prop, receiver) {
            if (prop !== 'apply') return Reflect.get(target, prop, receiver);
            return async (...args: Parameters<typeof client.apply>) => {
              try {
                return await target.apply(...args);
              } catch (e) {
                if (!args[1]?.dryRun) rejected++;
                throw e;
              }
            };
          },
        });
      },
      close: () => inner.close(),
    };
    const h = await EngineHarness.create(uniqueName('app'), { connector });
    const files: Record<string, string> = {
      'a-bad.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a-bad\ndata:\n  "bad key!": v\n',
      'b.yaml': configMap('b', { k: 'v' }, '  labels: { held: "true" }\n'),
    };
    for (const name of ['c', 'd', 'e', 'f']) files[`${name}.yaml`] = configMap(name, { k: 'v' });
    await h.repo.commit(files);
    await h.setApp({ namespace });
    // Two at a time: a-bad and b start together; a-bad fails while b is held.
    const outcome = h.reconcile({}, { concurrency: 2 });
    await eventually('a-bad refused while b is held', async () =>
      rejected === 1 && hold.held === 1 ? true : undefined,
    );
    hold.release();
    const done = await outcome;
    expect(done.error?.reason).toBe('ApplyRejected');
    expect(done.error?.location.file).toBe('a-bad.yaml');
    // b was in flight and lands; nothing after the failure starts.
    expect(await labelledConfigMaps(h.appName)).toEqual(['b']);
    expect(
      h.events.filter((e) => e.type === 'applied').map((e) => e.type === 'applied' && e.key),
    ).toEqual([`/ConfigMap/${namespace}/b`]);
    expect(rejected).toBe(1);
  });
});

describe('custom resources and unknown kinds', () => {
  function crd(group: string, kind: string): string {
    const plural = `${kind.toLowerCase()}s`;
    return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${plural}.${group}
spec:
  group: ${group}
  scope: Namespaced
  names: { plural: ${plural}, singular: ${kind.toLowerCase()}, kind: ${kind}, listKind: ${kind}List }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: { type: object, x-kubernetes-preserve-unknown-fields: true }
`;
  }

  it('applies CRDs and their custom resources in one sync, each in the destination namespace', async () => {
    const namespace = uniqueName('crd');
    const group = `${uniqueName('g')}.driftless.test`;
    const h = await EngineHarness.create(uniqueName('app'));
    const files: Record<string, string> = { 'ns.yaml': ns(namespace) };
    for (const kind of ['Widget', 'Gadget', 'Gizmo', 'Doohickey']) {
      files[`${kind}-crd.yaml`] = crd(group, kind);
      files[`${kind}.yaml`] =
        `apiVersion: ${group}/v1\nkind: ${kind}\nmetadata:\n  name: one\nspec: { size: 1 }\n`;
    }
    await h.repo.commit(files);
    await h.setApp({ namespace });
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.operation?.applied).toBe(9);
    const client = await h.client();
    for (const kind of ['Widget', 'Gadget', 'Gizmo', 'Doohickey']) {
      expect((await client.get(`${group}/v1`, kind, namespace, 'one'))?.metadata.namespace).toBe(
        namespace,
      );
      expect(await client.get(`${group}/v1`, kind, 'default', 'one')).toBeUndefined();
    }
  });

  it('retries a kind discovery does not serve yet just after its CRD is Established, then applies it', async () => {
    const namespace = uniqueName('crdlag');
    const group = `${uniqueName('g')}.driftless.test`;
    // The first three discovery answers that list the new group leave it out.
    const proxy = await laggingDiscovery(group, 3);
    const access = await kubeconfigAccess(testenv().kube.kubeconfig);
    let client: KubeClient | undefined;
    const connector: HarnessConnector = {
      async connect() {
        client ??= new KubeClient({ ...access, server: proxy.server }, { clusterName: 'test' });
        return client;
      },
      close: () => client?.close(),
    };
    const h = await EngineHarness.create(uniqueName('app'), { connector });
    await h.repo.commit({
      'ns.yaml': ns(namespace),
      'widget-crd.yaml': crd(group, 'Widget'),
      'widget.yaml': `apiVersion: ${group}/v1\nkind: Widget\nmetadata:\n  name: one\nspec: { size: 1 }\n`,
    });
    await h.setApp({ namespace });
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error?.describe()).toBeUndefined();
    expect(outcome.status.operation?.phase).toBe('Succeeded');
    expect(proxy.hidden).toBe(3);
    const direct = await h.client();
    expect((await direct.get(`${group}/v1`, 'Widget', namespace, 'one'))?.metadata.namespace).toBe(
      namespace,
    );
  });

  it('fails a kind the cluster does not serve and no CRD here defines with UnknownKind, applying nothing', async () => {
    const namespace = uniqueName('unknown');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'ns.yaml': ns(namespace),
      'config.yaml': configMap('settings', { k: 'v' }),
      'thing.yaml': 'apiVersion: nowhere.driftless.test/v1\nkind: Thing\nmetadata:\n  name: one\n',
    });
    await h.setApp({ namespace });
    const outcome = await h.reconcile();
    expect(outcome.error?.reason).toBe('UnknownKind');
    expect(outcome.error?.describe()).toMatch(
      /^thing\.yaml:2: Thing\/one: kind: the cluster does not serve kind Thing in nowhere\.driftless\.test\/v1 .*SkipDryRunOnMissingResource=true/,
    );
    expect(await labelledConfigMaps(h.appName)).toEqual([]);
    expect(h.events.some((e) => e.type === 'applied')).toBe(false);
  });

  it('with SkipDryRunOnMissingResource=true, attempts it after the foundation, and fails on it alone', async () => {
    const namespace = uniqueName('skipdry');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'ns.yaml': ns(namespace),
      'thing.yaml':
        'apiVersion: nowhere.driftless.test/v1\nkind: Thing\nmetadata:\n  name: one\n  namespace: elsewhere\n' +
        '  annotations:\n    argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true\n',
    });
    await h.setApp({ namespace, policy: { clusterScoped: true } });
    const outcome = await h.reconcile({}, { withDiff: true });
    expect(outcome.error?.reason).toBe('UnknownKind');
    expect(outcome.error?.location.file).toBe('thing.yaml');
    const applied = h.events.filter((e) => e.type === 'applied');
    expect(applied.map((e) => e.type === 'applied' && e.key)).toEqual([`/Namespace//${namespace}`]);
  });

  it('never puts an object of a namespaced kind in default when it names no namespace', async () => {
    const h = await EngineHarness.create(uniqueName('app'));
    const client = await h.client();
    const name = uniqueName('nowhere');
    const e = await rejection(
      client.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { k: 'v' } }),
    );
    expect(e.reason).toBe('InvalidManifest');
    expect(e.location.field).toBe('metadata.namespace');
    expect(await client.get('v1', 'ConfigMap', 'default', name)).toBeUndefined();
  });
});

describe('apply policies from annotations', () => {
  it("Flux's ssa IfNotPresent, Ignore and Merge, reconcile: disabled, Argo CD's Validate=false and ServerSideApply=true", async () => {
    const namespace = uniqueName('policies');
    const h = await EngineHarness.create(uniqueName('app'));
    const ssa = (v: string) => `  annotations:\n    kustomize.toolkit.fluxcd.io/ssa: ${v}\n`;
    const files = (v: string) => ({
      'ns.yaml': ns(namespace),
      'if-not-present.yaml': configMap('if-not-present', { v }, ssa('IfNotPresent')),
      'ignored.yaml': configMap('ignored', { v }, ssa('Ignore')),
      'disabled.yaml': configMap(
        'disabled',
        { v },
        '  annotations:\n    kustomize.toolkit.fluxcd.io/reconcile: disabled\n',
      ),
      'merge.yaml': configMap('merge', { v }, ssa('Merge')),
      'argo.yaml': configMap(
        'argo',
        { v },
        '  annotations:\n    argocd.argoproj.io/sync-options: Validate=false,ServerSideApply=true\n',
      ),
    });
    await h.repo.commit(files('1'));
    await h.setApp({ namespace });
    const first = await h.reconcileUntilSettled();
    expect(first.error).toBeUndefined();
    expect(await labelledConfigMaps(h.appName)).toEqual(['argo', 'if-not-present', 'merge']);

    // Another tool edits the IfNotPresent object and adds a field to the Merge one.
    const client = await h.client();
    for (const [name, patch] of [
      ['if-not-present', { data: { v: 'theirs' } }],
      ['merge', { metadata: { labels: { added: 'by-someone' } } }],
    ] as const) {
      await client.requestJson(
        'PATCH',
        `/api/v1/namespaces/${namespace}/configmaps/${name}?fieldManager=someone`,
        patch,
        { contentType: 'application/merge-patch+json' },
      );
    }
    await h.repo.commit(files('2'));
    const second = await h.reconcileUntilSettled();
    expect(second.error).toBeUndefined();
    expect(second.status.sync).toBe('Synced');
    const get = (name: string) => client.get('v1', 'ConfigMap', namespace, name);
    expect((await get('if-not-present'))?.data).toEqual({ v: 'theirs' });
    expect(await get('ignored')).toBeUndefined();
    expect(await get('disabled')).toBeUndefined();
    const merged = await get('merge');
    expect(merged?.data).toEqual({ v: '2' });
    expect(merged?.metadata.labels?.added).toBe('by-someone');
    expect((await get('argo'))?.data).toEqual({ v: '2' });
    const byName = new Map(second.status.resources.map((r) => [r.name, r]));
    expect(byName.get('if-not-present')?.reason).toMatch(/IfNotPresent/);
    expect(byName.get('ignored')?.reason).toMatch(/Ignore/);
    expect(byName.get('disabled')?.reason).toMatch(/reconcile: disabled/);
    expect(second.status.health).toBe('Healthy');
  });
});

describe('prune with a UID precondition', () => {
  /**
   * Deletes and recreates a ConfigMap as another tool would, blocking until
   * done: called from an engine event, it lands between the drift check and
   * the prune, deterministically.
   */
  function recreateBlocking(namespace: string, name: string, label: string): void {
    const pki = path.dirname(testenv().kube.caCert);
    const script = `
      import https from 'node:https';
      import { readFileSync } from 'node:fs';
      const opts = { ca: readFileSync(${JSON.stringify(testenv().kube.caCert)}),
        cert: readFileSync(${JSON.stringify(path.join(pki, 'admin.crt'))}),
        key: readFileSync(${JSON.stringify(path.join(pki, 'admin.key'))}) };
      const base = ${JSON.stringify(`${testenv().kube.server}/api/v1/namespaces/${namespace}/configmaps`)};
      const call = (method, url, body) => new Promise((resolve, reject) => {
        const req = https.request(url, { ...opts, method, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume(); res.on('end', () => res.statusCode < 300 ? resolve() : reject(new Error(method + ' ' + res.statusCode)));
        });
        req.on('error', reject); req.end(body ? JSON.stringify(body) : undefined);
      });
      await call('DELETE', base + '/${name}');
      await call('POST', base, { metadata: { name: '${name}', labels: { 'driftless.dev/app': '${label}' } }, data: { k: 'someone else' } });
    `;
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { stdio: 'pipe' });
  }

  it('treats a 409 on the precondition as already gone: no error, and the new object stays', async () => {
    const namespace = uniqueName('prune409');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'ns.yaml': ns(namespace),
      'keep.yaml': configMap('keep', { k: 'v' }),
      'gone.yaml': configMap('gone', { k: 'v' }),
    });
    await h.setApp({ namespace, syncPolicy: { prune: true } });
    expect((await h.reconcileUntilSettled()).error).toBeUndefined();

    await h.repo.commit(
      { 'keep.yaml': configMap('keep', { k: 'v2' }), 'gone.yaml': null },
      'drop gone',
    );
    let replaced = false;
    h.listener = (e) => {
      // The last object is applied: the prune comes next, with the UID the drift check saw.
      if (!replaced && e.type === 'applied' && e.key.endsWith('/keep')) {
        replaced = true;
        recreateBlocking(namespace, 'gone', h.appName);
      }
    };
    const outcome = await h.reconcile();
    h.listener = undefined;
    expect(replaced).toBe(true);
    expect(outcome.error).toBeUndefined();
    const client = await h.client();
    expect((await client.get('v1', 'ConfigMap', namespace, 'gone'))?.data).toEqual({
      k: 'someone else',
    });
  });
});
