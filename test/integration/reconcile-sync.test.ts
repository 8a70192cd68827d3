// The reconcile engine against the real API server (workloads profile) and the
// real Git server: initial sync, the cost of a no-op drift check, server
// defaulting, drift and self-heal, and ignore rules for other field managers.

import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';
import { eventually, kubeConfig } from '../support/kube.js';

function manifests(ns: string, image = 'nginx:1.27', replicas = 2): Record<string, string> {
  return {
    'web/namespace.yaml': `apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
`,
    'web/config.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  greeting: hello
---
apiVersion: v1
kind: Secret
metadata:
  name: web-secret
stringData:
  password: hunter2
`,
    // No strategy, no protocol, no terminationMessagePath, CPU as 0.5: all defaulted
    // or canonicalized by the server, none of it drift.
    'web/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ${replicas}
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: ${image}
          ports:
            - containerPort: 8080
          resources:
            requests: { cpu: 0.5, memory: 64Mi }
            limits: { cpu: "1", memory: 0.125Gi }
`,
    'web/service.json': JSON.stringify({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
    }),
  };
}

describe('sync and drift', () => {
  let h: EngineHarness;
  let ns: string;
  beforeAll(async () => {
    ns = uniqueName('web');
    h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit(manifests(ns), 'initial');
    await h.setApp({ namespace: ns, syncPolicy: { prune: true } });
  });

  it('syncs an application from Git and reports it Synced and Healthy', async () => {
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.sync).toBe('Synced');
    expect(outcome.status.health).toBe('Healthy');
    expect(outcome.status.operation?.phase).toBe('Succeeded');
    expect(outcome.status.operation?.applied).toBe(5);
    const apps = kubeConfig().makeApiClient(AppsV1Api);
    const deploy = await apps.readNamespacedDeployment({ name: 'web', namespace: ns });
    expect(deploy.metadata?.labels?.['driftless.dev/app']).toBe(h.appName);
    expect(deploy.status?.availableReplicas).toBe(2);
    const history = await h.store.listHistory(h.target);
    expect(history[0]?.phase).toBe('Succeeded');
    expect(h.reporter.reports.map((r) => r.state)).toEqual(['pending', 'success']);
  });

  it('checks a synced app with one LIST per kind, no writes and no dry runs, despite server defaulting', async () => {
    // Let the controllers churn the Deployment's status (resourceVersion moves on).
    await eventually('Deployment rolled out', async () => {
      const d = await kubeConfig()
        .makeApiClient(AppsV1Api)
        .readNamespacedDeployment({ name: 'web', namespace: ns });
      return d.status?.readyReplicas === 2 ? d : undefined;
    });
    const client = await h.client();
    client.resetStats();
    const outcome = await h.reconcile();
    expect(outcome.status.sync).toBe('Synced');
    expect(outcome.status.resources.every((r) => r.sync === 'Synced')).toBe(true);
    // Namespace, ConfigMap, Secret, Deployment, Service: five kinds, five LISTs.
    expect(client.stats.byVerb).toEqual({ list: 5 });
    expect(client.stats.total).toBe(5);
    expect(outcome.status.operation?.phase).toBe('Succeeded'); // the last operation stands
  });

  it('reports a manual scale and ConfigMap edit as drift, with a diff, and leaves them when selfHeal is off', async () => {
    const apps = kubeConfig().makeApiClient(AppsV1Api);
    const core = kubeConfig().makeApiClient(CoreV1Api);
    await apps.patchNamespacedDeploymentScale(
      {
        name: 'web',
        namespace: ns,
        body: { spec: { replicas: 5 } },
        fieldManager: 'kubectl-scale',
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await core.patchNamespacedConfigMap(
      {
        name: 'web-config',
        namespace: ns,
        body: { data: { greeting: 'edited by hand' } },
        fieldManager: 'kubectl-edit',
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const outcome = await h.reconcile({}, { withDiff: true });
    expect(outcome.status.sync).toBe('OutOfSync');
    const byName = Object.fromEntries(
      outcome.status.resources.map((r) => [`${r.kind}/${r.name}`, r]),
    );
    expect(byName['Deployment/web']?.sync).toBe('OutOfSync');
    expect(byName['Deployment/web']?.reason).toContain('spec.replicas');
    expect(byName['ConfigMap/web-config']?.sync).toBe('OutOfSync');
    expect(byName['ConfigMap/web-config']?.reason).toContain('data.greeting');
    const cmDiff =
      outcome.drift?.find((d) => d.key.endsWith(`/ConfigMap/${ns}/web-config`))?.diff ?? '';
    expect(cmDiff).toContain('-  greeting: edited by hand');
    expect(cmDiff).toContain('+  greeting: hello');
    expect(outcome.status.conditions.map((c) => c.message).join()).toMatch(
      /2 objects differ from Git \(selfHeal is off\)/,
    );
    // Nothing was reverted.
    const d = await apps.readNamespacedDeployment({ name: 'web', namespace: ns });
    expect(d.spec?.replicas).toBe(5);
  });

  it('reverts the drift when selfHeal is on', async () => {
    await h.setApp({ namespace: ns, syncPolicy: { prune: true, selfHeal: true } });
    const outcome = await h.reconcile();
    expect(outcome.status.operation?.phase).toBe('Succeeded');
    expect(outcome.status.operation?.applied).toBe(2);
    expect(outcome.status.sync).toBe('Synced');
    const d = await kubeConfig()
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: 'web', namespace: ns });
    expect(d.spec?.replicas).toBe(2);
    const cm = await kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: 'web-config', namespace: ns });
    expect(cm.data?.greeting).toBe('hello');
  });

  it('masks Secret values in diffs', async () => {
    await kubeConfig()
      .makeApiClient(CoreV1Api)
      .patchNamespacedSecret(
        {
          name: 'web-secret',
          namespace: ns,
          body: { stringData: { password: 'changed-by-hand' } },
          fieldManager: 'kubectl-edit',
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    await h.setApp({ namespace: ns, syncPolicy: { prune: true, selfHeal: false } });
    const outcome = await h.reconcile({}, { withDiff: true });
    const diff = outcome.drift?.find((d) => d.key.endsWith(`/Secret/${ns}/web-secret`))?.diff ?? '';
    expect(diff).toMatch(/-\s+password: \++/);
    expect(diff).toMatch(/\+\s+password: \++/);
    expect(diff).not.toContain(Buffer.from('hunter2').toString('base64'));
    expect(diff).not.toContain('hunter2');
    expect(diff).not.toContain(Buffer.from('changed-by-hand').toString('base64'));
  });
});

describe('ignoreDifferences', () => {
  // spec.replicas and a real HPA: test/integration/reconcile-ignore.test.ts.
  it('ignores a JSON pointer', async () => {
    const ns = uniqueName('ptr');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit(manifests(ns), 'initial');
    await h.setApp({
      namespace: ns,
      syncPolicy: { selfHeal: true },
      ignoreDifferences: [
        { kind: 'ConfigMap', name: 'web-config', jsonPointers: ['/data/greeting'] },
      ],
    });
    await h.reconcileUntilSettled();
    await kubeConfig()
      .makeApiClient(CoreV1Api)
      .patchNamespacedConfigMap(
        {
          name: 'web-config',
          namespace: ns,
          body: { data: { greeting: 'tuned live' } },
          fieldManager: 'operator',
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    const outcome = await h.reconcile();
    expect(outcome.status.sync).toBe('Synced');
    const cm = await kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: 'web-config', namespace: ns });
    expect(cm.data?.greeting).toBe('tuned live');
  });
});

describe('rollouts', () => {
  it('does not block on a rollout: the operation ends once the last wave is applied, health is reported Progressing with a recheck, then Healthy when asked again', async () => {
    const ns = uniqueName('roll');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit(manifests(ns));
    await h.setApp({ namespace: ns });
    // As Argo CD: with no PostSync hook and no later wave, nothing waits for health.
    const first = await h.reconcile({}, { waitBudgetMs: 0 });
    expect(first.error).toBeUndefined();
    expect(first.requeueAfterMs).toBeGreaterThan(0);
    expect(first.status.operation?.phase).toBe('Succeeded');
    expect(first.status.sync).toBe('Synced');
    expect(first.status.health).toBe('Progressing');
    const deployment = first.status.resources.find((r) => r.kind === 'Deployment');
    expect(deployment?.health?.status).toBe('Progressing');
    // The delayed health check reports the health as it moves; the operation stands.
    await new Promise((r) => setTimeout(r, first.requeueAfterMs));
    const done = await h.reconcileUntilSettled({ trigger: 'health-check' }, { waitBudgetMs: 0 });
    expect(done.status.operation?.id).toBe(first.status.operation?.id);
    expect(done.status.operation?.phase).toBe('Succeeded');
    expect(done.status.health).toBe('Healthy');
    expect(h.reporter.reports.map((r) => r.state)).toEqual(['pending', 'success']);
  });
});
