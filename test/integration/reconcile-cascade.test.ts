// Deleting an app, or removing one of its destinations, with cascade against
// the real API server: the API only marks the destination deleting and queues
// a job (the cluster is untouched until the worker runs it); the worker
// prunes what Driftless applied there in reverse wave order, keeps
// Delete=false objects and what it never applied, refuses a Namespace until
// the cascade allows it, and then forgets the destination and the app.
// Without cascade, the objects stay.

import { CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { AppDeleteResponse, AppPutResponse } from '../../lib/api/contract.js';
import { handleApiRequest } from '../../lib/api/index.js';
import { applicationInput } from '../../lib/model/application.js';
import { LABEL_APP } from '../../lib/model/object.js';
import { ProjectSchema } from '../../lib/model/project.js';
import { reconcile } from '../../lib/reconcile/index.js';
import { processJob } from '../../lib/worker.js';
import { EngineHarness } from '../support/engine.js';
import { testenv, uniqueName } from '../support/env.js';
import { configMapNames, kubeConfig, testNamespace, unlessNotFound } from '../support/kube.js';
import { RecordingQueue } from '../support/recording-queue.js';

const core = () => kubeConfig().makeApiClient(CoreV1Api);

function cm(name: string, annotations: Record<string, string> = {}) {
  const ann = Object.entries(annotations);
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
${ann.length ? `  annotations:\n${ann.map(([k, v]) => `    ${k}: "${v}"`).join('\n')}\n` : ''}data: { name: ${name} }
`;
}

async function namespaceLive(name: string): Promise<boolean> {
  const ns = await unlessNotFound(core().readNamespace({ name }));
  return !!ns && !ns.metadata?.deletionTimestamp;
}

function setup(h: EngineHarness) {
  const queue = new RecordingQueue();
  const api = (method: string, path: string, query?: Record<string, string>, body?: unknown) =>
    handleApiRequest(
      { catalog: h.store, queue },
      { method, path, query, body: body === undefined ? undefined : JSON.stringify(body) },
    );
  const work = async () => {
    const jobs = queue.sent.splice(0);
    const outcomes = [];
    for (const { job } of jobs)
      outcomes.push(await processJob({ ...h.deps(), catalog: h.store, queue }, job, 1));
    return outcomes;
  };
  return { queue, api, work };
}

describe('cascade on delete', () => {
  it('the worker prunes in reverse wave order, keeps Delete=false and what it never applied, refuses a Namespace until allowed, then forgets the app', async () => {
    const ns = await testNamespace('cascade');
    const extraNs = uniqueName('cascade-ns');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'first.yaml': cm('first', { 'argocd.argoproj.io/sync-wave': '-1' }),
      'late.yaml': cm('late', { 'argocd.argoproj.io/sync-wave': '5' }),
      'keep.yaml': cm('keep', { 'argocd.argoproj.io/sync-options': 'Delete=false' }),
      // Driftless's own name for the same option.
      'keep-dl.yaml': cm('keep-dl', { 'driftless.dev/sync-options': 'Delete=false' }),
      // Argo CD's Prune=false governs pruning only: an app's deletion removes it.
      'noprune.yaml': cm('noprune', { 'argocd.argoproj.io/sync-options': 'Prune=false' }),
      'ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${extraNs} }\n`,
    });
    await h.setApp({ namespace: ns });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    await core().createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'copy', labels: { [LABEL_APP]: h.appName } } },
    });
    const { queue, api, work } = setup(h);

    const res = await api('DELETE', `/apps/${h.appName}`, { cascade: 'true' });
    expect(res.status).toBe(202);
    expect((res.body as AppDeleteResponse).targets).toMatchObject([
      { cluster: 'local', cascade: true, objects: 6 },
    ]);
    // The API only queued the job: nothing deleted yet, the target's inventory kept.
    expect(queue.sent.map((q) => q.job)).toMatchObject([{ cluster: 'local', trigger: 'delete' }]);
    expect(await configMapNames(ns)).toEqual([
      'copy',
      'first',
      'keep',
      'keep-dl',
      'late',
      'noprune',
    ]);
    expect((await h.store.getApplication(h.appName))?.spec.destinations[0]?.deleting).toEqual({
      requestedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      allowPrune: false,
    });
    expect((await h.store.getTargetStatus(h.target))?.inventory).toHaveLength(6);

    // The guard refuses the Namespace: the unguarded part goes, the app stays, the status says how.
    h.events.length = 0;
    const [refused] = await work();
    expect(refused?.kind).toBe('done');
    expect(h.events.flatMap((e) => (e.type === 'pruned' ? [e.key] : []))).toEqual([
      `/ConfigMap/${ns}/late`,
      `/ConfigMap/${ns}/noprune`,
      `/ConfigMap/${ns}/first`,
    ]);
    expect(await configMapNames(ns)).toEqual(['copy', 'keep', 'keep-dl']);
    expect(await namespaceLive(extraNs)).toBe(true);
    const status = await h.store.getTargetStatus(h.target);
    expect(status?.operation).toMatchObject({
      trigger: 'delete',
      phase: 'Failed',
      reason: 'PruneRefused',
    });
    expect(status?.conditions.find((c) => c.type === 'PruneRefused')?.message).toMatch(
      new RegExp(`refused to prune Namespace/${extraNs}.*apps delete NAME --cascade --prune`),
    );
    expect((await h.store.getApplication(h.appName))?.metadata.name).toBe(h.appName);

    // Allowed: the Namespace goes, Delete=false and the copy stay, the app is forgotten.
    expect(
      (await api('DELETE', `/apps/${h.appName}`, { cascade: 'true', prune: 'true' })).status,
    ).toBe(202);
    const [allowed] = await work();
    expect(allowed?.kind).toBe('done');
    expect(await namespaceLive(extraNs)).toBe(false);
    expect(await configMapNames(ns)).toEqual(['copy', 'keep', 'keep-dl']);
    expect(await h.store.getApplication(h.appName)).toBeUndefined();
  });

  it.each([
    ['app', 'is not allowed for application'],
    ['project', 'is not allowed by project'],
  ])(
    "holds to the %s's policy: an object outside it stays, the app is kept and the status says why, until it is gone",
    async (narrowed, refusal) => {
      const nsA = await testNamespace('cascade-pa');
      const nsB = await testNamespace('cascade-pb');
      const h = await EngineHarness.create(uniqueName('app'));
      const inNs = (name: string, namespace: string) =>
        cm(name).replace(`name: ${name}\n`, `name: ${name}\n  namespace: ${namespace}\n`);
      await h.repo.commit({ 'a.yaml': inNs('a', nsA), 'b.yaml': inNs('b', nsB) });
      await h.setApp({ namespace: nsA });
      expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
      // The policy narrowed after b was applied: Driftless may no longer touch nsB.
      if (narrowed === 'app') {
        await h.setApp({ namespace: nsA, policy: { namespaces: [nsA] } });
      } else {
        const project = uniqueName('proj');
        await h.store.putProject(
          ProjectSchema.parse({
            apiVersion: 'driftless.dev/v1',
            kind: 'Project',
            metadata: { name: project },
            spec: { sourceRepos: ['*'], destinations: [{ cluster: '*', namespace: nsA }] },
          }),
        );
        await h.setApp({ namespace: nsA, project });
      }
      const { api, work } = setup(h);

      expect((await api('DELETE', `/apps/${h.appName}`, { cascade: 'true' })).status).toBe(202);
      const [refused] = await work();
      expect(refused?.kind).toBe('done');
      expect(await configMapNames(nsA)).toEqual([]);
      expect(await configMapNames(nsB)).toEqual(['b']);
      const status = await h.store.getTargetStatus(h.target);
      expect(status?.operation).toMatchObject({
        trigger: 'delete',
        phase: 'Failed',
        reason: 'PruneRefused',
      });
      expect(status?.conditions.find((c) => c.type === 'PruneRefused')?.message).toContain(
        `refused to prune ConfigMap/${nsB}/b (namespace ${nsB} ${refusal}`,
      );
      // Kept, with the destination and the inventory entry of what is still there.
      expect(
        (await h.store.getApplication(h.appName))?.spec.destinations[0]?.deleting,
      ).toBeTruthy();
      expect(status?.inventory.map((i) => i.key)).toEqual([`/ConfigMap/${nsB}/b`]);

      // Deleted by hand: the cascade completes and the app is forgotten.
      await core().deleteNamespacedConfigMap({ namespace: nsB, name: 'b' });
      expect((await api('DELETE', `/apps/${h.appName}`, { cascade: 'true' })).status).toBe(202);
      const [done] = await work();
      expect(done?.kind).toBe('done');
      expect(await h.store.getApplication(h.appName)).toBeUndefined();
    },
  );

  it('without cascade the app is forgotten and its objects stay', async () => {
    const ns = await testNamespace('orphan');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({ 'a.yaml': cm('a') });
    await h.setApp({ namespace: ns });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    const { queue, api } = setup(h);
    expect((await api('DELETE', `/apps/${h.appName}`)).status).toBe(204);
    expect(queue.sent).toEqual([]);
    expect(await h.store.getApplication(h.appName)).toBeUndefined();
    expect(await configMapNames(ns)).toEqual(['a']);
  });

  it('removing a destination with cascade prunes that target only, then forgets it', async () => {
    const nsKept = await testNamespace('dest-a');
    const nsGone = await testNamespace('dest-b');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.store.putCluster({
      apiVersion: 'driftless.dev/v1',
      kind: 'Cluster',
      metadata: { name: 'second' },
      spec: { kubeconfig: { path: testenv().kube.kubeconfig }, concurrency: 4 },
    });
    await h.repo.commit({ 'a.yaml': cm('a') });
    await h.setApp({ namespace: nsKept });
    const app = await h.store.getApplication(h.appName);
    if (!app) throw new Error('no app');
    app.spec.destinations.push({ cluster: 'second', namespace: nsGone });
    await h.store.putApplication(app);
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    const second = { app: h.appName, cluster: 'second' };
    expect((await reconcile(h.deps(), { target: second, trigger: 'sweep' })).status.sync).toBe(
      'Synced',
    );
    expect(await configMapNames(nsGone)).toEqual(['a']);

    const { api, work } = setup(h);
    const narrowed = applicationInput(app);
    narrowed.spec.destinations = [{ cluster: 'local', namespace: nsKept }];
    const res = await api('PUT', `/apps/${h.appName}`, { cascade: 'true' }, narrowed);
    expect(res.status).toBe(200);
    expect((res.body as AppPutResponse).removed).toMatchObject([
      { cluster: 'second', cascade: true, objects: 1 },
    ]);
    expect(await configMapNames(nsGone)).toEqual(['a']);
    const [outcome] = await work();
    expect(outcome?.kind).toBe('done');
    expect(await configMapNames(nsGone)).toEqual([]);
    expect(await configMapNames(nsKept)).toEqual(['a']);
    expect((await h.store.getApplication(h.appName))?.spec.destinations).toEqual([
      { cluster: 'local', namespace: nsKept },
    ]);
    // The remaining target is untouched and in sync.
    expect((await h.reconcile()).status.sync).toBe('Synced');
  });
});
