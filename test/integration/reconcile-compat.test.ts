// Annotations and options of repositories written for Argo CD and Flux, and
// Driftless's own names for them, against the real API server (workloads
// profile: the Deployment and Job controllers run): each does what the tool
// documents, not only parses. Argo CD: docs/user-guide/sync-options.md,
// resource_hooks.md, compare-options.md, diffing.md; Flux: the
// kustomize-controller's Kustomization spec ("Controlling the apply
// behavior of resources").

import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';
import {
  configMapNames,
  eventually,
  failJobPod,
  kubeConfig,
  testNamespace,
  unlessNotFound,
} from '../support/kube.js';

const core = () => kubeConfig().makeApiClient(CoreV1Api);

function annotated(annotations: Record<string, string>): string {
  const entries = Object.entries(annotations);
  if (!entries.length) return '';
  return `  annotations:\n${entries.map(([k, v]) => `    ${k}: "${v}"`).join('\n')}\n`;
}

function cm(name: string, data: Record<string, string>, annotations: Record<string, string> = {}) {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${annotated(annotations)}data: ${JSON.stringify(data)}\n`;
}

function deployment(name: string, selector: string, annotations: Record<string, string>): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
${annotated(annotations)}spec:
  replicas: 1
  selector:
    matchLabels: { app: ${selector} }
  template:
    metadata:
      labels: { app: ${selector} }
    spec:
      containers: [{ name: web, image: "nginx:1.27" }]
`;
}

function job(name: string, image: string, annotations: Record<string, string>, fail = false) {
  return `apiVersion: batch/v1
kind: Job
metadata:
  name: ${name}
${annotated(annotations)}spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: ${fail ? '{ kwok.x-k8s.io/status: custom }' : '{}'}
    spec:
      restartPolicy: Never
      containers: [{ name: main, image: "${image}" }]
`;
}

const readCm = (ns: string, name: string) =>
  unlessNotFound(core().readNamespacedConfigMap({ namespace: ns, name }));

async function handEdit(ns: string, name: string, body: object, fieldManager = 'kubectl-edit') {
  await core().patchNamespacedConfigMap(
    { namespace: ns, name, body, fieldManager },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

describe('recreation: Force=true and Replace=true under every name', () => {
  it("Argo CD's Force=true, driftless.dev/sync-options Force=true and driftless.dev/force: Enabled recreate a Deployment whose selector changes; driftless.dev/sync-options Replace=true a Job whose template changes", async () => {
    const ns = await testNamespace('recreate');
    const h = await EngineHarness.create(uniqueName('app'));
    const forced = {
      'argo-force': { 'argocd.argoproj.io/sync-options': 'Force=true' },
      'dl-force': { 'driftless.dev/sync-options': 'Force=true' },
      'dl-force-enabled': { 'driftless.dev/force': 'Enabled' },
    };
    const replace = { 'driftless.dev/sync-options': 'Replace=true' };
    const files = (v: string) => ({
      ...Object.fromEntries(
        Object.entries(forced).map(([name, a]) => [
          `${name}.yaml`,
          deployment(name, `${name}-${v}`, a),
        ]),
      ),
      'seed.yaml': job('seed', `busybox:1.3${v}`, replace),
    });
    await h.repo.commit(files('6'));
    await h.setApp({ namespace: ns });
    // The Job runs on kwok and does not finish: the operation yields, which is fine here.
    expect((await h.reconcile({}, { waitBudgetMs: 500 })).error).toBeUndefined();
    const client = await h.client();
    const uids = async () =>
      Object.fromEntries(
        await Promise.all(
          [
            ...Object.keys(forced).map((n) => ['apps/v1', 'Deployment', n]),
            ['batch/v1', 'Job', 'seed'],
          ].map(async ([apiVersion, kind, name]) => [
            name,
            (await client.get(apiVersion as string, kind as string, ns, name as string))?.metadata
              .uid,
          ]),
        ),
      ) as Record<string, string | undefined>;
    const before = await uids();
    for (const uid of Object.values(before)) expect(uid).toMatch(/^[0-9a-f-]{36}$/);

    await h.repo.commit(files('7'));
    const second = await h.reconcile({}, { waitBudgetMs: 500 });
    expect(second.error).toBeUndefined();
    const after = await uids();
    for (const name of Object.keys(before)) {
      expect(after[name], name).toMatch(/^[0-9a-f-]{36}$/);
      expect(after[name], name).not.toBe(before[name]);
    }
    for (const name of Object.keys(forced)) {
      const d = (await client.get('apps/v1', 'Deployment', ns, name)) as {
        spec?: { selector?: { matchLabels?: Record<string, string> } };
      };
      expect(d.spec?.selector?.matchLabels).toEqual({ app: `${name}-7` });
    }
    const seed = (await client.get('batch/v1', 'Job', ns, 'seed')) as {
      spec?: { template?: { spec?: { containers?: { image?: string }[] } } };
    };
    expect(seed.spec?.template?.spec?.containers?.[0]?.image).toBe('busybox:1.37');
  });
});

describe("Driftless's own names for Flux's and Argo CD's options", () => {
  it('driftless.dev/ssa IfNotPresent, Ignore and Merge, driftless.dev/reconcile: disabled, as Flux documents them', async () => {
    const ns = await testNamespace('dlssa');
    const h = await EngineHarness.create(uniqueName('app'));
    const files = (v: string) => ({
      'if-not-present.yaml': cm('if-not-present', { v }, { 'driftless.dev/ssa': 'IfNotPresent' }),
      'ignored.yaml': cm('ignored', { v }, { 'driftless.dev/ssa': 'Ignore' }),
      'disabled.yaml': cm('disabled', { v }, { 'driftless.dev/reconcile': 'disabled' }),
      'merge.yaml': cm('merge', { v }, { 'driftless.dev/ssa': 'Merge' }),
    });
    await h.repo.commit(files('1'));
    await h.setApp({ namespace: ns, syncPolicy: { selfHeal: true } });
    expect((await h.reconcileUntilSettled()).error).toBeUndefined();
    // Ignore and reconcile: disabled in Git: never created.
    expect(await configMapNames(ns)).toEqual(['if-not-present', 'merge']);

    await handEdit(ns, 'if-not-present', { data: { v: 'theirs' } });
    await handEdit(ns, 'merge', { metadata: { labels: { added: 'by-someone' } } });
    await h.repo.commit(files('2'));
    const second = await h.reconcileUntilSettled();
    expect(second.error).toBeUndefined();
    expect(second.status.sync).toBe('Synced');
    expect((await readCm(ns, 'if-not-present'))?.data).toEqual({ v: 'theirs' });
    const merged = await readCm(ns, 'merge');
    expect(merged?.data).toEqual({ v: '2' });
    expect(merged?.metadata?.labels?.added).toBe('by-someone');
    expect(await configMapNames(ns)).toEqual(['if-not-present', 'merge']);
    const reasons = new Map(second.status.resources.map((r) => [r.name, r.reason]));
    expect(reasons.get('if-not-present')).toMatch(/driftless\.dev\/ssa: IfNotPresent/);
    expect(reasons.get('ignored')).toMatch(/driftless\.dev\/ssa: Ignore/);
    expect(reasons.get('disabled')).toMatch(/driftless\.dev\/reconcile: disabled/);
  });

  it('driftless.dev/sync-options Prune=false (OutOfSync, as Argo CD shows it), PruneLast=true, and driftless.dev/compare-options IgnoreExtraneous', async () => {
    const ns = await testNamespace('dlprune');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'stay.yaml': cm('stay', { k: 'v' }),
      'a-last.yaml': cm('a-last', { k: 'v' }, { 'driftless.dev/sync-options': 'PruneLast=true' }),
      'b.yaml': cm('b', { k: 'v' }),
      'quiet.yaml': cm(
        'quiet',
        { k: 'v' },
        {
          'driftless.dev/sync-options': 'Prune=false',
          'driftless.dev/compare-options': 'IgnoreExtraneous',
        },
      ),
      'keep.yaml': cm('keep', { k: 'v' }, { 'driftless.dev/sync-options': 'Prune=false' }),
    });
    await h.setApp({ namespace: ns, syncPolicy: { prune: true } });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');

    // PruneLast: after the rest (a-last sorts first, yet goes last); the
    // Prune=false object with IgnoreExtraneous stays and leaves the app Synced.
    await h.repo.commit({ 'a-last.yaml': null, 'b.yaml': null, 'quiet.yaml': null });
    h.events.length = 0;
    const first = await h.reconcile();
    expect(first.status.operation).toMatchObject({ phase: 'Succeeded', pruned: 2 });
    expect(h.events.flatMap((e) => (e.type === 'pruned' ? [e.key] : []))).toEqual([
      `/ConfigMap/${ns}/b`,
      `/ConfigMap/${ns}/a-last`,
    ]);
    expect(await configMapNames(ns)).toEqual(['keep', 'quiet', 'stay']);
    expect(first.status.sync).toBe('Synced');

    // Prune=false alone: kept, and the app is OutOfSync saying pruning was skipped, and why.
    await h.repo.commit({ 'keep.yaml': null });
    const second = await h.reconcile();
    expect(second.error).toBeUndefined();
    expect(await configMapNames(ns)).toEqual(['keep', 'quiet', 'stay']);
    expect(second.status.sync).toBe('OutOfSync');
    expect(second.status.resources.find((r) => r.name === 'keep')).toMatchObject({
      sync: 'Extra',
      pruneSkipped: 'annotated driftless.dev/sync-options: "Prune=false"',
    });
  });
});

describe('IgnoreExtraneous', () => {
  it('an object left behind neither makes the app OutOfSync nor starts a sync, and a sync that prunes deletes it (only Prune=false keeps it, as in Argo CD)', async () => {
    const ns = await testNamespace('extraneous');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'stay.yaml': cm('stay', { k: 'v' }),
      'b.yaml': cm('b', { k: 'v' }),
      'gen.yaml': cm('gen', { k: 'v' }, { 'driftless.dev/compare-options': 'IgnoreExtraneous' }),
    });
    await h.setApp({ namespace: ns, syncPolicy: { prune: true } });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');

    await h.repo.commit({ 'gen.yaml': null });
    const client = await h.client();
    client.resetStats();
    const idle = await h.reconcile();
    expect(idle.status.sync).toBe('Synced');
    expect(Object.keys(client.stats.byVerb).filter((v) => v !== 'list' && v !== 'get')).toEqual([]);
    expect(await configMapNames(ns)).toEqual(['b', 'gen', 'stay']);

    await h.repo.commit({ 'b.yaml': null });
    const synced = await h.reconcile();
    expect(synced.status.operation).toMatchObject({ phase: 'Succeeded', pruned: 2 });
    expect(await configMapNames(ns)).toEqual(['stay']);
    expect(synced.status.sync).toBe('Synced');
  });
});

describe('Validate=false', () => {
  // An object the schema check refuses: a field ConfigMap does not have.
  const invalid = (annotations: Record<string, string>) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: odd\n${annotated({ 'argocd.argoproj.io/sync-wave': '1', ...annotations })}data: { k: v }\nbogus: 1\n`;

  it('without it, the revision is refused before anything is applied, naming the file and field', async () => {
    const ns = await testNamespace('validate');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({ 'good.yaml': cm('good', { k: 'v' }), 'odd.yaml': invalid({}) });
    await h.setApp({ namespace: ns });
    const outcome = await h.reconcile();
    expect(outcome.error?.location.file).toBe('odd.yaml');
    expect(outcome.error?.describe()).toMatch(/bogus/);
    expect(await configMapNames(ns)).toEqual([]);
  });

  it('with it, the object skips the schema check: the rest is applied and the API server judges the object alone', async () => {
    const ns = await testNamespace('novalidate');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'good.yaml': cm('good', { k: 'v' }),
      'odd.yaml': invalid({ 'argocd.argoproj.io/sync-options': 'Validate=false' }),
    });
    await h.setApp({ namespace: ns, syncPolicy: { retry: { limit: 0 } } });
    const outcome = await h.reconcile();
    expect(await configMapNames(ns)).toEqual(['good']);
    // Server-side apply refuses an undeclared field whatever fieldValidation says.
    expect(outcome.error?.reason).toBe('ApplyRejected');
    expect(outcome.error?.describe()).toMatch(
      /^odd\.yaml:1: ConfigMap\/.*\/odd: .*bogus: field not declared in schema/,
    );
  });
});

describe('hook-delete-policy HookFailed', () => {
  it('deletes a hook once it failed, and keeps one that succeeded', async () => {
    const ns = await testNamespace('hookfailed');
    const h = await EngineHarness.create(uniqueName('app'));
    const policy = { 'argocd.argoproj.io/hook-delete-policy': 'HookFailed' };
    await h.repo.commit({
      'cm.yaml': cm('app-config', { k: 'v' }),
      'pre.yaml': job('pre', 'busybox', { 'argocd.argoproj.io/hook': 'PreSync', ...policy }),
      'post.yaml': job(
        'post',
        'busybox',
        { 'argocd.argoproj.io/hook': 'PostSync', ...policy },
        true,
      ),
    });
    await h.setApp({ namespace: ns, syncPolicy: { retry: { limit: 0 } } });
    const [outcome] = await Promise.all([
      h.reconcileUntilSettled(),
      failJobPod(ns, 'post', 'smoke test failed'),
    ]);
    expect(outcome.status.operation).toMatchObject({ phase: 'Failed', reason: 'HookFailed' });
    const client = await h.client();
    await eventually('the failed PostSync hook to be deleted', async () =>
      (await client.get('batch/v1', 'Job', ns, 'post')) === undefined ? true : undefined,
    );
    const pre = await client.get('batch/v1', 'Job', ns, 'pre');
    expect(pre?.metadata.annotations?.['argocd.argoproj.io/hook']).toBe('PreSync');
    expect(pre?.metadata.deletionTimestamp).toBeUndefined();
  });
});

describe("ignoreDifferences' selectors", () => {
  it('a rule applies only to the group, kind, name and namespace it names', async () => {
    const ns = await testNamespace('selectors');
    const h = await EngineHarness.create(uniqueName('app'));
    const names = ['tuning', 'other-ns', 'other-group', 'other-name'];
    await h.repo.commit(
      Object.fromEntries(names.map((n) => [`${n}.yaml`, cm(n, { threads: '4' })])),
    );
    const ptr = { jsonPointers: ['/data/threads'] };
    await h.setApp({
      namespace: ns,
      syncPolicy: { selfHeal: true },
      ignoreDifferences: [
        { group: '', kind: 'ConfigMap', name: 'tuning', namespace: ns, ...ptr },
        { kind: 'ConfigMap', name: 'other-ns', namespace: 'elsewhere', ...ptr },
        { group: 'apps', kind: 'ConfigMap', name: 'other-group', ...ptr },
      ],
    });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    for (const n of names) await handEdit(ns, n, { data: { threads: '16' } });
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.sync).toBe('Synced');
    const threads = Object.fromEntries(
      await Promise.all(names.map(async (n) => [n, (await readCm(ns, n))?.data?.threads])),
    );
    expect(threads).toEqual({
      tuning: '16',
      'other-ns': '4',
      'other-group': '4',
      'other-name': '4',
    });
  });
});
