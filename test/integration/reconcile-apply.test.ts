// How objects are applied and compared, against the real API server: one
// LIST per group/version/kind in use (two apiVersions of one kind compare in
// their own shapes), immutable fields (a precise error, or delete and create
// when the object opts in), fail fast within a wave, apply policies from
// annotations (Flux's ssa, reconcile: disabled, Argo CD's sync options), and
// custom resources whose CRD arrives in the same revision.

import { describe, expect, it } from 'vitest';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';

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
    expect(old?.metadata.uid).toBeTruthy();

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
