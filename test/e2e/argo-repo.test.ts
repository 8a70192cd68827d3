// A repository written for Argo CD, synced by Driftless as it stands, on the
// workloads control plane (the Deployment and Job controllers, the scheduler
// and kwok's kubelets move the objects along): sync waves; PreSync and
// PostSync Jobs written with generateName and delete policies
// (BeforeHookCreation, HookSucceeded); `Prune=false`; `hook: Skip`; a Job
// with `Replace=true`. It ends in the state Argo CD documents
// (docs/user-guide/resource_hooks.md, sync-waves.md, sync-options.md), and
// a reconcile with nothing to do sends nothing but reads (no apply, dry run,
// create or delete). A kept Prune=false object leaves the app OutOfSync, as
// Argo CD documents.

import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../lib/model/object.js';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';
import { eventually, objectApi, testNamespace } from '../support/kube.js';

function deployment(image: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 1
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, image: "${image}" }] }
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080 }]
`;
}

function seedJob(image: string): string {
  return `apiVersion: batch/v1
kind: Job
metadata:
  name: seed
  annotations:
    argocd.argoproj.io/sync-wave: "1"
    argocd.argoproj.io/sync-options: Replace=true
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{ name: seed, image: "${image}" }]
`;
}

function hookJob(generateName: string, hook: string, deletePolicy: string): string {
  return `apiVersion: batch/v1
kind: Job
metadata:
  generateName: ${generateName}
  annotations:
    argocd.argoproj.io/hook: ${hook}
    argocd.argoproj.io/hook-delete-policy: ${deletePolicy}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{ name: main, image: "busybox" }]
`;
}

const configMap = (name: string, annotations: Record<string, string> = {}) =>
  `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
  annotations: ${JSON.stringify(annotations)}
data: { name: ${name} }
`;

const FIRST = {
  'config.yaml': configMap('app-config', { 'argocd.argoproj.io/sync-wave': '-1' }),
  'web.yaml': deployment('web:1'),
  'seed.yaml': seedJob('seed:1'),
  'keep.yaml': configMap('keep-me', { 'argocd.argoproj.io/sync-options': 'Prune=false' }),
  'obsolete.yaml': configMap('obsolete'),
  'skipped.yaml': configMap('skipped', { 'argocd.argoproj.io/hook': 'Skip' }),
  'migrate.yaml': hookJob('db-migrate-', 'PreSync', 'BeforeHookCreation'),
  'smoke.yaml': hookJob('smoke-', 'PostSync', 'HookSucceeded'),
};

async function read(kind: string, apiVersion: string, ns: string, name: string) {
  return (await objectApi()
    .read({ apiVersion, kind, metadata: { name, namespace: ns } })
    .catch((e: { code?: number }) => {
      if (e.code === 404) return undefined;
      throw e;
    })) as unknown as KubeObject | undefined;
}

async function jobs(ns: string, prefix: string): Promise<KubeObject[]> {
  const list = await objectApi().list('batch/v1', 'Job', ns);
  return (list.items as unknown as KubeObject[]).filter((j) => j.metadata.name?.startsWith(prefix));
}

const complete = (job: KubeObject) =>
  ((job.status as { conditions?: { type: string; status: string }[] })?.conditions ?? []).some(
    (c) => c.type === 'Complete' && c.status === 'True',
  );

/** Reconciles and asserts that nothing was written to the cluster. */
async function expectNoOp(h: EngineHarness) {
  const client = await h.client();
  client.resetStats();
  const outcome = await h.reconcile();
  expect(outcome.error).toBeUndefined();
  // Reads only: no apply, dry run, create, patch or delete.
  const requests = Object.keys(client.stats.byVerb).sort();
  expect(requests.filter((verb) => verb !== 'list' && verb !== 'get')).toEqual([]);
  expect(client.stats.byVerb.list).toBeGreaterThan(0);
  return outcome;
}

async function syncFirst() {
  const ns = await testNamespace('argo');
  const h = await EngineHarness.create(uniqueName('argo'));
  await h.repo.commit(FIRST);
  await h.setApp({ namespace: ns, syncPolicy: { prune: true } });
  const outcome = await h.reconcileUntilSettled();
  expect(outcome.error).toBeUndefined();
  expect(outcome.status.operation?.phase).toBe('Succeeded');
  return { h, ns, outcome };
}

describe('a repository written for Argo CD', () => {
  it('syncs in waves with its hooks, keeps Prune=false objects, skips Skip, and then has nothing to do', async () => {
    const { h, ns, outcome } = await syncFirst();
    expect(outcome.status.sync).toBe('Synced');

    // Order: the PreSync hook, then wave -1, wave 0, wave 1, then the PostSync hook.
    const at = (pred: (e: (typeof h.events)[number]) => boolean) => h.events.findIndex(pred);
    const applied = (name: string) =>
      at((e) => e.type === 'applied' && e.key.split('/').at(-1) === name);
    const hook = (phase: string, action: string) =>
      at((e) => e.type === 'hook' && e.phase === phase && e.action === action);
    const order = [
      hook('PreSync', 'succeeded'),
      applied('app-config'),
      applied('web'),
      applied('seed'),
      hook('PostSync', 'created'),
    ];
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);

    // PreSync: one Job named from generateName, complete, kept (BeforeHookCreation).
    const migrations = await jobs(ns, 'db-migrate-');
    expect(migrations).toHaveLength(1);
    expect(complete(migrations[0] as KubeObject)).toBe(true);
    // PostSync: ran, then deleted once it succeeded (HookSucceeded).
    const smokeEvents = h.events.filter((e) => e.type === 'hook' && e.phase === 'PostSync');
    expect(smokeEvents.map((e) => (e as { action: string }).action)).toEqual([
      'created',
      'succeeded',
      'deleted',
    ]);
    await eventually('the PostSync Job to be gone', async () =>
      (await jobs(ns, 'smoke-')).length === 0 ? true : undefined,
    );
    // Skip: in the repository, never applied.
    expect(await read('ConfigMap', 'v1', ns, 'skipped')).toBeUndefined();
    expect(h.events.some((e) => e.type === 'applied' && e.key.endsWith('/skipped'))).toBe(false);
    // Hooks are neither resources nor drift.
    expect(outcome.status.resources.map((r) => r.name).sort()).toEqual(
      ['app-config', 'keep-me', 'obsolete', 'seed', 'web', 'web'].sort(),
    );

    const idle = await expectNoOp(h);
    expect(idle.status.sync).toBe('Synced');
    expect(idle.status.health).toBe('Healthy');
    expect(idle.status.operation?.id).toBe(outcome.status.operation?.id);

    // The next commit: a new image; two objects leave the repository.
    await h.repo.commit({
      'web.yaml': deployment('web:2'),
      'keep.yaml': null,
      'obsolete.yaml': null,
    });
    const second = await h.reconcileUntilSettled({ trigger: 'webhook' });
    expect(second.error).toBeUndefined();
    expect(second.status.operation?.phase).toBe('Succeeded');
    expect(second.status.operation?.id).not.toBe(outcome.status.operation?.id);
    const web = (await read('Deployment', 'apps/v1', ns, 'web')) as KubeObject & {
      spec: { template: { spec: { containers: { image: string }[] } } };
    };
    expect(web.spec.template.spec.containers[0]?.image).toBe('web:2');
    // Pruned, except what says Prune=false.
    expect(await read('ConfigMap', 'v1', ns, 'obsolete')).toBeUndefined();
    const kept = await read('ConfigMap', 'v1', ns, 'keep-me');
    expect(kept?.metadata.annotations?.['argocd.argoproj.io/sync-options']).toBe('Prune=false');
    expect(kept?.metadata.deletionTimestamp).toBeUndefined();
    // As Argo CD documents Prune=false: "the app will be out of sync if Argo CD
    // expects a resource to be pruned", and the status says pruning was skipped, and why.
    expect(second.status.sync).toBe('OutOfSync');
    expect(second.status.resources.find((r) => r.name === 'keep-me')).toMatchObject({
      sync: 'Extra',
      pruneSkipped: 'annotated argocd.argoproj.io/sync-options: "Prune=false"',
    });
    // A generateName hook is named per operation: a second Job, the first kept.
    const after = await jobs(ns, 'db-migrate-');
    expect(after).toHaveLength(2);
    expect(after.every(complete)).toBe(true);

    // Nothing to do all the same: the kept object is left alone, every reconcile.
    const idleAfter = await expectNoOp(h);
    expect(idleAfter.status.sync).toBe('OutOfSync');
    expect(idleAfter.status.resources.find((r) => r.name === 'keep-me')?.pruneSkipped).toBe(
      'annotated argocd.argoproj.io/sync-options: "Prune=false"',
    );
  });

  // `Replace=true`: a changed Job template (immutable) is deleted and created again.
  it('replaces a Replace=true Job whose template changes, then has nothing to do', async () => {
    const { h, ns } = await syncFirst();
    const before = await read('Job', 'batch/v1', ns, 'seed');
    await h.repo.commit({ 'seed.yaml': seedJob('seed:2') });
    const outcome = await h.reconcileUntilSettled({ trigger: 'webhook' });
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.operation?.phase).toBe('Succeeded');
    const after = (await read('Job', 'batch/v1', ns, 'seed')) as KubeObject & {
      spec: { template: { spec: { containers: { image: string }[] } } };
    };
    expect(after.metadata.uid).not.toBe(before?.metadata.uid);
    expect(after.spec.template.spec.containers[0]?.image).toBe('seed:2');
    await expectNoOp(h);
  });
});
