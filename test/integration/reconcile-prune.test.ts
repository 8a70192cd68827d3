// Pruning against the real API server: removed files are deleted, an object
// annotated driftless.dev/prune: "false" is kept and reported, the guard
// refuses a Namespace deletion until a manual sync allows it, and nothing is
// deleted while the app's prune policy is off.

import { CoreV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';
import { configMapNames, kubeConfig, unlessNotFound } from '../support/kube.js';

function cm(name: string, annotations: Record<string, string> = {}): string {
  const ann = Object.entries(annotations);
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
${ann.length ? `  annotations:\n${ann.map(([k, v]) => `    ${k}: "${v}"`).join('\n')}\n` : ''}data: { name: ${name} }
`;
}

async function namespaceExists(name: string): Promise<boolean> {
  const ns = await unlessNotFound(kubeConfig().makeApiClient(CoreV1Api).readNamespace({ name }));
  return ns !== undefined && !ns.metadata?.deletionTimestamp;
}

describe('prune', () => {
  let h: EngineHarness;
  let ns: string;
  beforeAll(async () => {
    ns = uniqueName('prune');
    h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
      'a.yaml': cm('a'),
      'b.yaml': cm('b'),
      'keep.yaml': cm('keep', { 'driftless.dev/prune': 'false' }),
    });
    await h.setApp({ namespace: ns, syncPolicy: { prune: true } });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    expect(await configMapNames(ns)).toEqual(['a', 'b', 'keep']);
  });

  it('deletes the objects of removed files and keeps one annotated prune: "false", reporting it', async () => {
    await h.repo.commit({ 'a.yaml': null, 'keep.yaml': null }, 'remove a and keep');
    const outcome = await h.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.operation).toMatchObject({ phase: 'Succeeded', pruned: 1 });
    expect(await configMapNames(ns)).toEqual(['b', 'keep']);
    const kept = outcome.status.resources.find((r) => r.name === 'keep');
    expect(kept).toMatchObject({
      sync: 'Extra',
      pruneSkipped: 'annotated driftless.dev/prune: "false"',
    });
    // Kept on purpose: the app is in sync.
    expect(outcome.status.sync).toBe('Synced');
    expect((await h.reconcile()).status.sync).toBe('Synced');
  });

  it('refuses to prune a Namespace, says why, and prunes it once a manual sync allows it', async () => {
    // Something stays in Git: an empty render is refused by its own guard (reconcile-ownership).
    await h.repo.commit(
      { 'ns.yaml': null, 'b.yaml': null, 'other.yaml': cm('other') },
      'remove the namespace',
    );
    const outcome = await h.reconcile();
    expect(outcome.status.operation?.phase).toBe('Failed');
    expect(outcome.status.operation?.reason).toBe('PruneRefused');
    expect(outcome.status.operation?.message).toMatch(
      new RegExp(`refused to prune Namespace/${ns}: deleting a Namespace.*allowPruneOf`),
    );
    expect(outcome.status.conditions.find((c) => c.type === 'PruneRefused')?.message).toBe(
      outcome.status.operation?.message,
    );
    expect(outcome.status.sync).toBe('OutOfSync');
    expect(await namespaceExists(ns)).toBe(true);
    // The unguarded part of the prune went ahead.
    expect(await configMapNames(ns)).toEqual(['keep', 'other']);

    const allowed = await h.reconcile({ trigger: 'manual', allowPrune: true });
    expect(allowed.status.operation?.phase).toBe('Succeeded');
    expect(allowed.status.operation?.pruned).toBe(1);
    expect(await namespaceExists(ns)).toBe(false);
  });
});

describe('prune guard and policy', () => {
  it('deletes nothing while prune is off, and reports what would be pruned', async () => {
    const ns = uniqueName('noprune');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({ 'a.yaml': cm('a'), 'b.yaml': cm('b') });
    await h.setApp({ namespace: ns });
    await kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: ns } } });
    await h.reconcileUntilSettled();
    await h.repo.commit({ 'b.yaml': null });
    const outcome = await h.reconcile();
    expect(await configMapNames(ns)).toEqual(['a', 'b']);
    expect(outcome.status.sync).toBe('OutOfSync');
    expect(outcome.status.resources.find((r) => r.name === 'b')).toMatchObject({
      sync: 'Extra',
      reason: 'no longer in the desired state',
    });
  });

  it('refuses a prune larger than the pruneLimit', async () => {
    const ns = uniqueName('limit');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'a.yaml': cm('a'),
      'b.yaml': cm('b'),
      'c.yaml': cm('c'),
      'd.yaml': cm('d'),
    });
    await h.setApp({ namespace: ns, syncPolicy: { prune: true, pruneLimit: 2 } });
    await kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: ns } } });
    await h.reconcileUntilSettled();
    await h.repo.commit({ 'a.yaml': null, 'b.yaml': null, 'c.yaml': null });
    const outcome = await h.reconcile();
    expect(outcome.status.operation?.reason).toBe('PruneRefused');
    expect(outcome.status.operation?.message).toContain(
      "refused to prune 3 objects: more than the application's pruneLimit of 2",
    );
    expect(await configMapNames(ns)).toEqual(['a', 'b', 'c', 'd']);
  });
});
