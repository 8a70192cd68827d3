// Ignore rules against the real API server (workloads profile: the real
// kube-controller-manager runs the HPA controller): a rule never removes a
// field Driftless owns, jq path expressions, the README's examples as written,
// a real HPA scaling a Deployment, and the fast path re-evaluating objects
// when only the rules change.

import { readFile } from 'node:fs/promises';
import {
  AppsV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { IgnoreDifferenceInput } from '../../lib/model/application.js';
import { parseYamlDocuments } from '../../lib/model/yaml.js';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';
import { eventually, kubeConfig } from '../support/kube.js';

/** The ignoreDifferences of the README's Application example, as users copy it. */
async function readmeIgnoreRules(): Promise<IgnoreDifferenceInput[]> {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  for (const block of readme.matchAll(/```yaml\n([\s\S]*?)```/g)) {
    for (const doc of parseYamlDocuments(block[1] ?? '', 'README.md')) {
      const spec = (doc.value as { kind?: string; spec?: { ignoreDifferences?: unknown } }) ?? {};
      if (spec.kind === 'Application' && spec.spec?.ignoreDifferences) {
        return spec.spec.ignoreDifferences as IgnoreDifferenceInput[];
      }
    }
  }
  throw new Error('README has no Application example with ignoreDifferences');
}

function namespace(ns: string): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n`;
}

function deployment(name: string, replicas: number, image: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: { app: ${name} }
  template:
    metadata:
      labels: { app: ${name} }
    spec:
      containers:
        - name: app
          image: ${image}
        - name: sidecar
          image: proxy:1
`;
}

/** Every value of spec.replicas the Deployment takes while recording (watch events, none missed). */
async function recordReplicas(ns: string, name: string) {
  const seen: number[] = [];
  const controller = await new Watch(kubeConfig()).watch(
    `/apis/apps/v1/namespaces/${ns}/deployments`,
    { fieldSelector: `metadata.name=${name}` },
    (_type, obj: { spec?: { replicas?: number } }) => {
      seen.push(obj.spec?.replicas ?? -1);
    },
    () => {},
  );
  return { seen, stop: () => controller.abort() };
}

function appliedCount(h: EngineHarness): number {
  return h.events.filter((e) => e.type === 'applied').length;
}

describe('ignore rules never remove a field Driftless owns', () => {
  it("the README /data/threads rule keeps the key at the next sync, at Git's value or a tuned one", async () => {
    const ns = uniqueName('threads');
    const h = await EngineHarness.create(uniqueName('app'));
    const tuning = (mode: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: tuning
data:
  threads: "4"
  mode: ${mode}
`;
    await h.repo.commit({ 'ns.yaml': namespace(ns), 'tuning.yaml': tuning('safe') }, 'initial');
    const rules = (await readmeIgnoreRules()).filter((r) => r.kind === 'ConfigMap');
    expect(rules).toEqual([{ kind: 'ConfigMap', name: 'tuning', jsonPointers: ['/data/threads'] }]);
    await h.setApp({ namespace: ns, syncPolicy: { selfHeal: true }, ignoreDifferences: rules });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const data = async () =>
      (await core.readNamespacedConfigMap({ name: 'tuning', namespace: ns })).data;

    // Another key changes in Git: the ConfigMap is applied, threads stays.
    await h.repo.commit({ 'tuning.yaml': tuning('fast') }, 'mode: fast');
    const synced = await h.reconcileUntilSettled();
    expect(synced.status.sync).toBe('Synced');
    expect(await data()).toEqual({ threads: '4', mode: 'fast' });

    // Tuned live: not drift, and kept by the next sync.
    await core.patchNamespacedConfigMap(
      {
        name: 'tuning',
        namespace: ns,
        body: { data: { threads: '16' } },
        fieldManager: 'kubectl-edit',
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect((await h.reconcile()).status.sync).toBe('Synced');
    await h.repo.commit({ 'tuning.yaml': tuning('safe') }, 'mode: safe');
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    expect(await data()).toEqual({ threads: '16', mode: 'safe' });
    expect((await h.reconcile()).status.sync).toBe('Synced');
  });

  it("a jq path expression ignores one container's image and keeps its live value", async () => {
    const ns = uniqueName('jq');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({ 'ns.yaml': namespace(ns), 'web.yaml': deployment('web', 1, 'app:1') });
    await h.setApp({
      namespace: ns,
      syncPolicy: { selfHeal: true },
      ignoreDifferences: [
        {
          group: 'apps',
          kind: 'Deployment',
          jqPathExpressions: [
            '.spec.template.spec.containers[] | select(.name == "sidecar") | .image',
          ],
        },
      ],
    });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    const apps = kubeConfig().makeApiClient(AppsV1Api);
    // A mesh operator bumps the sidecar (a JSON patch by index, as operators write it).
    await apps.patchNamespacedDeployment(
      {
        name: 'web',
        namespace: ns,
        fieldManager: 'mesh-operator',
        body: [{ op: 'replace', path: '/spec/template/spec/containers/1/image', value: 'proxy:2' }],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    expect((await h.reconcile()).status.sync).toBe('Synced');
    await h.repo.commit({ 'web.yaml': deployment('web', 1, 'app:2') }, 'app:2');
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    const images = (
      await apps.readNamespacedDeployment({ name: 'web', namespace: ns })
    ).spec?.template.spec?.containers.map((c) => `${c.name}=${c.image}`);
    expect(images).toEqual(['app=app:2', 'sidecar=proxy:2']);
  });
});

describe('a real HPA scaling a Deployment through kube-controller-manager', () => {
  async function withHpa(rules: IgnoreDifferenceInput[], gitReplicas: number, minReplicas: number) {
    const ns = uniqueName('hpa');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'ns.yaml': namespace(ns),
      'web.yaml': deployment('web', gitReplicas, 'app:1'),
    });
    await h.setApp({ namespace: ns, syncPolicy: { selfHeal: true }, ignoreDifferences: rules });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    // The HPA is the cluster's (no metrics source: the controller still enforces minReplicas).
    await kubeConfig()
      .makeApiClient(AutoscalingV2Api)
      .createNamespacedHorizontalPodAutoscaler({
        namespace: ns,
        body: {
          metadata: { name: 'web' },
          spec: {
            scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
            minReplicas,
            maxReplicas: minReplicas + 2,
          },
        },
      });
    const apps = kubeConfig().makeApiClient(AppsV1Api);
    const read = () => apps.readNamespacedDeployment({ name: 'web', namespace: ns });
    return { h, ns, apps, read };
  }

  it('the README managedFieldsManagers rule names the manager that really writes replicas: no fight, Synced', async () => {
    const rules = (await readmeIgnoreRules()).filter((r) => r.kind === 'Deployment');
    const { h, ns, read } = await withHpa(rules, 2, 3);
    const scaled = await eventually('the HPA controller to scale to minReplicas', async () => {
      const d = await read();
      return d.spec?.replicas === 3 ? d : undefined;
    });
    const writer = scaled.metadata?.managedFields?.find(
      (m) => (m.fieldsV1 as { 'f:spec'?: { 'f:replicas'?: unknown } })?.['f:spec']?.['f:replicas'],
    );
    expect(writer?.manager).toBe('kube-controller-manager');
    expect(writer?.subresource).toBe('scale');

    const replicas = await recordReplicas(ns, 'web');
    const before = appliedCount(h);
    for (let i = 0; i < 2; i++) {
      const check = await h.reconcile();
      expect(check.status.sync).toBe('Synced');
    }
    expect(appliedCount(h)).toBe(before);
    await h.repo.commit({ 'web.yaml': deployment('web', 2, 'app:2') }, 'app:2');
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    expect((await h.reconcile()).status.sync).toBe('Synced');
    replicas.stop();
    const d = await read();
    expect(d.spec?.template.spec?.containers[0]?.image).toBe('app:2');
    expect(d.spec?.replicas).toBe(3);
    expect(replicas.seen.length).toBeGreaterThan(0);
    expect(replicas.seen.every((r) => r === 3)).toBe(true);
  });

  it('jsonPointer /spec/replicas: an apply never resets replicas, whoever owns them', async () => {
    const rules = [{ group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] }];
    // Git and the HPA agree (3): the HPA never writes, Driftless alone owns replicas.
    const { h, ns, apps, read } = await withHpa(rules, 3, 3);
    const replicas = await recordReplicas(ns, 'web');
    await h.repo.commit({ 'web.yaml': deployment('web', 3, 'app:2') }, 'app:2');
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    expect((await read()).spec?.template.spec?.containers[0]?.image).toBe('app:2');
    expect(replicas.seen.length).toBeGreaterThan(0);
    expect(replicas.seen.every((r) => r === 3)).toBe(true);

    // Now the HPA wants more: it scales for real, and Driftless does not fight it.
    await kubeConfig()
      .makeApiClient(AutoscalingV2Api)
      .patchNamespacedHorizontalPodAutoscaler(
        { name: 'web', namespace: ns, body: { spec: { minReplicas: 4 } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    await eventually('the HPA controller to scale to 4', async () =>
      (await read()).spec?.replicas === 4 ? true : undefined,
    );
    replicas.seen.length = 0;
    const before = appliedCount(h);
    for (let i = 0; i < 2; i++) expect((await h.reconcile()).status.sync).toBe('Synced');
    expect(appliedCount(h)).toBe(before);
    await h.repo.commit({ 'web.yaml': deployment('web', 3, 'app:3') }, 'app:3');
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    expect((await h.reconcile()).status.sync).toBe('Synced');
    replicas.stop();
    expect(replicas.seen.every((r) => r === 4)).toBe(true);
    const d = await apps.readNamespacedDeployment({ name: 'web', namespace: ns });
    expect(d.spec?.template.spec?.containers[0]?.image).toBe('app:3');
    expect(d.spec?.replicas).toBe(4);
  });
});

describe('the fast path and the rules', () => {
  it('changing only ignoreDifferences re-evaluates the object (full comparison) and applies accordingly', async () => {
    const ns = uniqueName('fast');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'ns.yaml': namespace(ns),
      'cm.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tuning\ndata:\n  threads: "4"\n`,
    });
    const rule = { kind: 'ConfigMap', name: 'tuning', jsonPointers: ['/data/threads'] };
    await h.setApp({ namespace: ns, syncPolicy: { selfHeal: true }, ignoreDifferences: [rule] });
    await h.reconcileUntilSettled();
    const core = kubeConfig().makeApiClient(CoreV1Api);
    await core.patchNamespacedConfigMap(
      {
        name: 'tuning',
        namespace: ns,
        body: { data: { threads: '8' } },
        fieldManager: 'kubectl-edit',
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    // Ignored: Synced, and the inventory now holds the edited resourceVersion.
    expect((await h.reconcile()).status.sync).toBe('Synced');
    const client = await h.client();
    client.resetStats();
    const quiet = await h.reconcile();
    expect(quiet.drift?.find((d) => d.key.includes('/ConfigMap/'))?.fastPath).toBe(true);
    expect(client.stats.byVerb).toEqual({ list: 2 });

    // Only the rules change: the ConfigMap is compared in full, found OutOfSync and healed.
    await h.setApp({ namespace: ns, syncPolicy: { selfHeal: true }, ignoreDifferences: [] });
    client.resetStats();
    const healed = await h.reconcile();
    const cm = healed.drift?.find((d) => d.key.includes('/ConfigMap/'));
    expect(cm?.fastPath).toBeUndefined();
    expect(client.stats.byVerb['apply-dry-run']).toBe(1);
    expect(client.stats.byVerb.apply).toBe(1);
    expect(healed.status.sync).toBe('Synced');
    expect((await core.readNamespacedConfigMap({ name: 'tuning', namespace: ns })).data).toEqual({
      threads: '4',
    });
  });
});
