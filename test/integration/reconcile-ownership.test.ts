// Ownership and prune against the real API server (workloads profile: the
// endpoints controller is running). Driftless prunes only what it applied —
// in the previous inventory, still labelled for the app, with a `driftless`
// Apply entry — never a labelled copy made with another client nor the
// Endpoints the endpoints controller labels like their Service; the app's
// policy holds for prunes; an object another app manages is SharedResource
// and not applied unless the manifest allows adoption; an automated sync
// that would empty the app is refused unless allowEmpty; and the prune
// annotations (Prune=confirm, PruneLast, IgnoreExtraneous, Flux's reconcile:
// disabled) mean what Argo CD and Flux document.

import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { SHARED_LOOKUP_GET_LIMIT } from '../../lib/diff/index.js';
import { type KubeObject, LABEL_APP } from '../../lib/model/object.js';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';
import {
  configMapNames,
  eventually,
  kubeConfig,
  testNamespace,
  unlessNotFound,
} from '../support/kube.js';

const core = () => kubeConfig().makeApiClient(CoreV1Api);

function cm(name: string, opts: { namespace?: string; annotations?: Record<string, string> } = {}) {
  const ann = Object.entries(opts.annotations ?? {});
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
${opts.namespace ? `  namespace: ${opts.namespace}\n` : ''}${ann.length ? `  annotations:\n${ann.map(([k, v]) => `    ${k}: "${v}"`).join('\n')}\n` : ''}data: { name: ${name} }
`;
}

async function labelOf(ns: string, name: string): Promise<string | undefined> {
  const c = await core().readNamespacedConfigMap({ namespace: ns, name });
  return c.metadata?.labels?.[LABEL_APP];
}

describe('prune only what Driftless applied', () => {
  it('never prunes nor reports the Endpoints the endpoints controller labels from a Service', async () => {
    const ns = await testNamespace('own-ep');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      // A Service with a selector: the endpoints controller makes Endpoints/web
      // and copies the Service's labels, ours included.
      'web.yaml': `apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80 }]
`,
      // A selector-less Service with its Endpoints in Git: the app lists Endpoints.
      'db.yaml': `apiVersion: v1
kind: Service
metadata: { name: db }
spec:
  ports: [{ port: 5432 }]
---
apiVersion: v1
kind: Endpoints
metadata: { name: db }
subsets:
  - addresses: [{ ip: 10.1.2.3 }]
    ports: [{ port: 5432 }]
`,
    });
    await h.setApp({ namespace: ns, syncPolicy: { prune: true, selfHeal: true } });
    expect((await h.reconcileUntilSettled()).error).toBeUndefined();
    const made = await eventually('Endpoints/web from the endpoints controller', async () => {
      const ep = await unlessNotFound(
        core().readNamespacedEndpoints({ namespace: ns, name: 'web' }),
      );
      return ep?.metadata?.labels?.[LABEL_APP] === h.appName ? ep : undefined;
    });

    const outcome = await h.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.resources.find((r) => r.kind === 'Endpoints' && r.name === 'web')).toBe(
      undefined,
    );
    expect(outcome.status.sync).toBe('Synced');
    expect(outcome.status.operation?.pruned ?? 0).toBe(0);
    const still = await core().readNamespacedEndpoints({ namespace: ns, name: 'web' });
    expect(still.metadata?.uid).toBe(made.metadata?.uid);
  });

  it('never prunes nor reports a labelled copy made with another client', async () => {
    const ns = await testNamespace('own-copy');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({ 'a.yaml': cm('a') });
    await h.setApp({ namespace: ns, syncPolicy: { prune: true, selfHeal: true } });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    // `kubectl get cm a -o yaml | sed s/a/copy/ | kubectl create -f -`: the label comes along.
    await core().createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'copy', labels: { [LABEL_APP]: h.appName } }, data: { x: '1' } },
    });

    const outcome = await h.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.resources.map((r) => r.name)).toEqual(['a']);
    expect(outcome.status.sync).toBe('Synced');
    expect(await configMapNames(ns)).toEqual(['a', 'copy']);
  });

  it('never prunes nor reports a copy applied under our field manager: not in the inventory, not ours', async () => {
    const ns = await testNamespace('own-mf');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({ 'a.yaml': cm('a') });
    await h.setApp({ namespace: ns, syncPolicy: { prune: true, selfHeal: true } });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    // `kubectl get cm a -o yaml | sed s/a/copy/ | kubectl apply --server-side
    // --field-manager=driftless -f -`: the label and a driftless Apply entry,
    // everything the live object can say — only the inventory tells it apart.
    const client = await h.client();
    const a = (await client.get('v1', 'ConfigMap', ns, 'a')) as KubeObject;
    const copy = await client.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'copy', namespace: ns, labels: a.metadata.labels },
      data: a.data as Record<string, string>,
    });
    expect(copy.metadata.labels?.[LABEL_APP]).toBe(h.appName);
    expect(copy.metadata.managedFields).toContainEqual(
      expect.objectContaining({ manager: 'driftless', operation: 'Apply' }),
    );

    for (let i = 0; i < 2; i++) {
      const outcome = await h.reconcile();
      expect(outcome.error).toBeUndefined();
      expect(outcome.status.resources.map((r) => r.name)).toEqual(['a']);
      expect(outcome.status.sync).toBe('Synced');
      expect(outcome.status.inventory.map((e) => e.key)).toEqual([`/ConfigMap/${ns}/a`]);
    }
    expect(await configMapNames(ns)).toEqual(['a', 'copy']);
  });

  it('refuses to prune an object outside the narrowed policy, and says so', async () => {
    const nsA = await testNamespace('own-pa');
    const nsB = await testNamespace('own-pb');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'a.yaml': cm('a', { namespace: nsA }),
      'b.yaml': cm('b', { namespace: nsB }),
    });
    await h.setApp({ namespace: nsA, syncPolicy: { prune: true } });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');

    await h.repo.commit({ 'b.yaml': null }, 'remove b');
    await h.setApp({ namespace: nsA, syncPolicy: { prune: true }, policy: { namespaces: [nsA] } });
    const outcome = await h.reconcile();
    expect(await configMapNames(nsB)).toEqual(['b']);
    expect(outcome.status.operation).toMatchObject({ phase: 'Failed', reason: 'PruneRefused' });
    expect(outcome.status.operation?.message).toContain(
      `refused to prune ConfigMap/${nsB}/b (namespace ${nsB} is not allowed for application ${h.appName}`,
    );
    expect(outcome.status.conditions.find((c) => c.type === 'PruneRefused')?.message).toMatch(
      /outside the application's policy/,
    );
    expect(outcome.status.resources.find((r) => r.name === 'b')).toMatchObject({
      sync: 'Extra',
      reason: expect.stringMatching(/^prune refused by the application's policy/),
    });
  });
});

describe('shared objects', () => {
  it('reports an object another app manages as SharedResource and leaves it, until a manifest allows adoption', async () => {
    const ns = await testNamespace('shared');
    const first = await EngineHarness.create(uniqueName('first'));
    const second = await EngineHarness.create(uniqueName('second'));
    await first.repo.commit({ 'shared.yaml': cm('shared') });
    await second.repo.commit({ 'shared.yaml': cm('shared'), 'own.yaml': cm('own') });
    await first.setApp({ namespace: ns, syncPolicy: { selfHeal: true } });
    await second.setApp({ namespace: ns, syncPolicy: { selfHeal: true } });
    expect((await first.reconcileUntilSettled()).status.sync).toBe('Synced');

    for (let i = 0; i < 2; i++) {
      const outcome = await second.reconcile();
      expect(outcome.error).toBeUndefined();
      expect(await labelOf(ns, 'shared')).toBe(first.appName);
      expect(outcome.status.sync).toBe('OutOfSync');
      expect(outcome.status.resources.find((r) => r.name === 'shared')?.reason).toMatch(
        new RegExp(`^SharedResource: managed by application ${first.appName}`),
      );
      expect(outcome.status.conditions.find((c) => c.type === 'SharedResource')?.message).toContain(
        `ConfigMap/${ns}/shared (application ${first.appName})`,
      );
      // The first app keeps it, unchanged: no flip-flop.
      expect((await first.reconcile()).status.sync).toBe('Synced');
    }
    expect(await configMapNames(ns)).toEqual(['own', 'shared']);

    await second.repo.commit(
      {
        'shared.yaml': cm('shared', {
          annotations: { 'driftless.dev/sync-options': 'AllowAdoption=true' },
        }),
      },
      'adopt shared',
    );
    const adopted = await second.reconcile();
    expect(adopted.status.sync).toBe('Synced');
    expect(await labelOf(ns, 'shared')).toBe(second.appName);
    // Now the first app sees it as the second's, and leaves it.
    const left = await first.reconcile();
    expect(left.status.conditions.find((c) => c.type === 'SharedResource')?.message).toContain(
      `ConfigMap/${ns}/shared (application ${second.appName})`,
    );
    expect(await labelOf(ns, 'shared')).toBe(second.appName);
  });
});

describe('shared objects, many of a kind', () => {
  it('finds them with one LIST of the kind past SHARED_LOOKUP_GET_LIMIT', async () => {
    const ns = await testNamespace('shared-many');
    const first = await EngineHarness.create(uniqueName('first'));
    const second = await EngineHarness.create(uniqueName('second'));
    const files = Object.fromEntries(
      Array.from({ length: SHARED_LOOKUP_GET_LIMIT + 2 }, (_, i) => [`c${i}.yaml`, cm(`c${i}`)]),
    );
    await first.repo.commit(files);
    await second.repo.commit(files);
    await first.setApp({ namespace: ns });
    await second.setApp({ namespace: ns });
    expect((await first.reconcileUntilSettled()).status.sync).toBe('Synced');
    const outcome = await second.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.resources.map((r) => r.reason?.split(':')[0])).toEqual(
      Object.keys(files).map(() => 'SharedResource'),
    );
    expect(outcome.status.operation?.applied ?? 0).toBe(0);
    expect(await labelOf(ns, 'c0')).toBe(first.appName);
  });
});

describe('empty render guard', () => {
  it('refuses an automated sync that would prune everything unless allowEmpty, and lets a manual sync with prune proceed', async () => {
    const ns = await testNamespace('empty');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({ 'a.yaml': cm('a'), 'b.yaml': cm('b'), 'keep.txt': 'not a manifest' });
    await h.setApp({ namespace: ns, syncPolicy: { prune: true } });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');

    await h.repo.commit({ 'a.yaml': null, 'b.yaml': null }, 'remove everything');
    const refused = await h.reconcile({ trigger: 'webhook' });
    expect(refused.error).toBeUndefined();
    expect(await configMapNames(ns)).toEqual(['a', 'b']);
    expect(refused.status.sync).toBe('OutOfSync');
    expect(refused.status.conditions.find((c) => c.type === 'SyncRefused')).toMatchObject({
      reason: 'EmptyRender',
      message: expect.stringMatching(/renders no objects.*allowEmpty/),
    });

    // A manual sync that allows the prune proceeds.
    const manual = await h.reconcile({ trigger: 'manual', allowPrune: true });
    expect(manual.status.operation).toMatchObject({ phase: 'Succeeded', pruned: 2 });
    expect(await configMapNames(ns)).toEqual([]);
  });

  it('refuses an automated sync whose render is only hooks: it would prune every managed object', async () => {
    const ns = await testNamespace('hooks-only');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({ 'a.yaml': cm('a'), 'b.yaml': cm('b') });
    await h.setApp({ namespace: ns, syncPolicy: { prune: true } });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');

    await h.repo.commit(
      {
        'a.yaml': null,
        'b.yaml': null,
        'hook.yaml': cm('notify', { annotations: { 'argocd.argoproj.io/hook': 'PostSync' } }),
      },
      'only a hook left',
    );
    const refused = await h.reconcile({ trigger: 'webhook' });
    expect(refused.error).toBeUndefined();
    expect(refused.status.conditions.find((c) => c.type === 'SyncRefused')).toMatchObject({
      reason: 'WouldPruneAll',
      message: expect.stringMatching(
        /renders only hooks, and the sync would prune every object the application manages \(2\).*allowEmpty/,
      ),
    });
    // Nothing pruned, and the hook did not run.
    expect(await configMapNames(ns)).toEqual(['a', 'b']);
    expect(refused.status.sync).toBe('OutOfSync');
  });

  it('lets an automated sync empty the app when allowEmpty is set', async () => {
    const ns = await testNamespace('allowempty');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({ 'a.yaml': cm('a'), 'keep.txt': 'not a manifest' });
    await h.setApp({ namespace: ns, syncPolicy: { prune: true, allowEmpty: true } });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    await h.repo.commit({ 'a.yaml': null }, 'remove everything');
    const outcome = await h.reconcile({ trigger: 'webhook' });
    expect(outcome.status.operation).toMatchObject({ phase: 'Succeeded', pruned: 1 });
    expect(await configMapNames(ns)).toEqual([]);
  });
});

describe('prune annotations', () => {
  it('Prune=confirm waits for a sync that allows the prune; PruneLast goes after the rest; IgnoreExtraneous and reconcile: disabled keep the app Synced', async () => {
    const ns = await testNamespace('pruneann');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'stay.yaml': cm('stay'),
      'a-last.yaml': cm('a-last', {
        annotations: { 'argocd.argoproj.io/sync-options': 'PruneLast=true' },
      }),
      'b.yaml': cm('b'),
      'confirm.yaml': cm('confirm', {
        annotations: { 'argocd.argoproj.io/sync-options': 'Prune=confirm' },
      }),
      'flux.yaml': cm('flux'),
    });
    await h.setApp({ namespace: ns, syncPolicy: { prune: true } });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    // Disabled on the object in the cluster (an object carrying it in Git is
    // never created: Flux's ssa skips it whether the desired or the live
    // object carries the annotation).
    await core().patchNamespacedConfigMap(
      {
        name: 'flux',
        namespace: ns,
        body: {
          metadata: { annotations: { 'kustomize.toolkit.fluxcd.io/reconcile': 'disabled' } },
        },
        fieldManager: 'kubectl-annotate',
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );

    await h.repo.commit(
      { 'a-last.yaml': null, 'b.yaml': null, 'confirm.yaml': null, 'flux.yaml': null },
      'remove four',
    );
    h.events.length = 0;
    const outcome = await h.reconcile();
    expect(outcome.status.operation).toMatchObject({ phase: 'Succeeded', pruned: 2 });
    const pruned = h.events.flatMap((e) => (e.type === 'pruned' ? [e.key] : []));
    expect(pruned).toEqual([`/ConfigMap/${ns}/b`, `/ConfigMap/${ns}/a-last`]);
    expect(await configMapNames(ns)).toEqual(['confirm', 'flux', 'stay']);
    expect(outcome.status.resources.find((r) => r.name === 'confirm')?.reason).toMatch(
      /waiting for confirmation to prune/,
    );
    expect(
      outcome.status.conditions.find((c) => c.type === 'PruneConfirmationRequired'),
    ).toMatchObject({
      reason: 'AwaitingConfirmation',
      message: `1 objects annotated Prune=confirm wait for a manual sync that allows the prune: ConfigMap/${ns}/confirm`,
    });
    expect(outcome.status.sync).toBe('OutOfSync');

    const confirmed = await h.reconcile({ trigger: 'manual', allowPrune: true });
    expect(confirmed.status.operation).toMatchObject({ phase: 'Succeeded', pruned: 1 });
    expect(await configMapNames(ns)).toEqual(['flux', 'stay']);
    expect(confirmed.status.sync).toBe('Synced');
  });

  it('IgnoreExtraneous: an object left behind does not make the app OutOfSync', async () => {
    const ns = await testNamespace('extraneous');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'stay.yaml': cm('stay'),
      'gen.yaml': cm('gen', {
        annotations: { 'argocd.argoproj.io/compare-options': 'IgnoreExtraneous' },
      }),
    });
    await h.setApp({ namespace: ns });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    await h.repo.commit({ 'gen.yaml': null }, 'remove gen');
    const outcome = await h.reconcile();
    expect(await configMapNames(ns)).toEqual(['gen', 'stay']);
    expect(outcome.status.sync).toBe('Synced');
  });

  it('IgnoreExtraneous counts for health: a Degraded object left behind degrades the app, which stays Synced', async () => {
    // Argo CD's compare options: "This only affects the sync status. If the
    // resource's health is degraded, then the app will also be degraded."
    const ns = await testNamespace('extrahealth');
    const group = `${uniqueName('g')}.driftless.test`;
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'crd.yaml': `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: probes.${group} }
spec:
  group: ${group}
  scope: Namespaced
  names: { plural: probes, singular: probe, kind: Probe, listKind: ProbeList }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true }
`,
      'stay.yaml': cm('stay'),
      'probe.yaml': `apiVersion: ${group}/v1
kind: Probe
metadata:
  name: gen
  annotations: { argocd.argoproj.io/compare-options: IgnoreExtraneous }
spec: { target: db }
`,
    });
    await h.setApp({ namespace: ns });
    expect((await h.reconcileUntilSettled()).status.health).toBe('Healthy');
    await h.repo.commit({ 'probe.yaml': null }, 'remove the probe');
    // Its controller gives up on it (no status subresource: status is written with the object).
    const custom = kubeConfig().makeApiClient(CustomObjectsApi);
    await custom.patchNamespacedCustomObject(
      {
        group,
        version: 'v1',
        namespace: ns,
        plural: 'probes',
        name: 'gen',
        body: {
          status: {
            conditions: [
              { type: 'Stalled', status: 'True', reason: 'Unreachable', message: 'db unreachable' },
            ],
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const outcome = await h.reconcile();
    expect(outcome.status.sync).toBe('Synced');
    expect(outcome.status.health).toBe('Degraded');
    const probe = outcome.status.resources.find((r) => r.kind === 'Probe');
    expect(probe).toMatchObject({ sync: 'Extra', health: { status: 'Degraded' } });
    expect(probe?.health?.message).toMatch(/db unreachable/);
  });

  it("Flux's reconcile: disabled on the live object: neither compared nor reverted, until it goes", async () => {
    const ns = await testNamespace('noreconcile');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({ 'a.yaml': cm('a') });
    await h.setApp({ namespace: ns, syncPolicy: { selfHeal: true } });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    // Someone takes it over by hand, as Flux documents.
    await core().patchNamespacedConfigMap(
      {
        namespace: ns,
        name: 'a',
        body: {
          metadata: { annotations: { 'kustomize.toolkit.fluxcd.io/reconcile': 'disabled' } },
          data: { name: 'by hand' },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const outcome = await h.reconcile();
    expect(outcome.status.sync).toBe('Synced');
    expect(outcome.status.resources.find((r) => r.name === 'a')?.reason).toBe(
      'not reconciled: the live object is annotated kustomize.toolkit.fluxcd.io/reconcile: disabled',
    );
    const live = await core().readNamespacedConfigMap({ namespace: ns, name: 'a' });
    expect(live.data).toEqual({ name: 'by hand' });

    // The annotation removed: selfHeal reverts the change.
    await core().patchNamespacedConfigMap(
      {
        namespace: ns,
        name: 'a',
        body: { metadata: { annotations: { 'kustomize.toolkit.fluxcd.io/reconcile': null } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect((await h.reconcile()).status.operation?.applied).toBe(1);
    const healed = await core().readNamespacedConfigMap({ namespace: ns, name: 'a' });
    expect(healed.data).toEqual({ name: 'a' });
  });
});
