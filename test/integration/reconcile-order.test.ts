// Ordering, observed on the API server itself (watch events, ordered by the
// etcd revision each change got): Namespaces and CRDs first, waves lowest
// first and each healthy before the next, hooks around them, and a failed
// PreSync hook that stops the sync and runs the SyncFail hooks.

import { Watch } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';
import { eventually, failJobPod, kubeConfig, objectApi } from '../support/kube.js';

interface Seen {
  type: string;
  kind: string;
  name: string;
  rv: number;
  available?: boolean;
}

/** Records watch events for some kinds in a namespace (and cluster-scoped kinds). */
async function recordEvents(
  paths: { kind: string; path: string }[],
): Promise<{ events: Seen[]; stop: () => void }> {
  const events: Seen[] = [];
  const watch = new Watch(kubeConfig());
  const controllers = await Promise.all(
    paths.map(({ kind, path }) =>
      watch.watch(
        path,
        { allowWatchBookmarks: false },
        (
          type,
          obj: {
            metadata: { name: string; resourceVersion: string };
            status?: { availableReplicas?: number };
          },
        ) => {
          events.push({
            type,
            kind,
            name: obj.metadata.name,
            rv: Number(obj.metadata.resourceVersion),
            available:
              kind === 'Deployment' ? (obj.status?.availableReplicas ?? 0) >= 1 : undefined,
          });
        },
        () => {},
      ),
    ),
  );
  const stop = () => {
    for (const c of controllers) c.abort();
  };
  return { events, stop };
}

function job(
  name: string,
  annotations: Record<string, string>,
  opts: { fail?: boolean } = {},
): string {
  return `apiVersion: batch/v1
kind: Job
metadata:
  name: ${name}
  annotations:
${Object.entries(annotations)
  .map(([k, v]) => `    ${k}: "${v}"`)
  .join('\n')}
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: ${opts.fail ? `{ kwok.x-k8s.io/status: custom }` : '{}'}
    spec:
      restartPolicy: Never
      containers: [{ name: ${name}, image: "busybox" }]
`;
}

function configMap(name: string, wave?: number): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
${wave === undefined ? '' : `  annotations: { driftless.dev/sync-wave: "${wave}" }\n`}data: { wave: "${wave ?? 0}" }
`;
}

describe('sync order', () => {
  it('runs PreSync hooks, then waves lowest first (each healthy before the next), then PostSync hooks', async () => {
    const ns = uniqueName('order');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
      'pre.yaml': job('pre', { 'driftless.dev/hook': 'PreSync' }),
      'post.yaml': job('post', {
        'driftless.dev/hook': 'PostSync',
        'driftless.dev/hook-delete-policy': 'HookSucceeded',
      }),
      'wave-1.yaml': configMap('cm-wave-1', 1),
      'wave-0.yaml': configMap('cm-wave-0'),
      'wave-minus-1.yaml': configMap('cm-wave-minus-1', -1),
      'deploy.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: { name: api }
spec:
  replicas: 1
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec: { containers: [{ name: api, image: "api:1" }] }
`,
    });
    await h.setApp({ namespace: ns });
    const { events, stop } = await recordEvents([
      { kind: 'Namespace', path: '/api/v1/namespaces' },
      { kind: 'ConfigMap', path: `/api/v1/namespaces/${ns}/configmaps` },
      { kind: 'Job', path: `/apis/batch/v1/namespaces/${ns}/jobs` },
      { kind: 'Deployment', path: `/apis/apps/v1/namespaces/${ns}/deployments` },
    ]);
    afterAll(stop);
    // A PreSync hook in a namespace the same sync creates: the Namespace goes first.
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.operation?.phase).toBe('Succeeded');
    const added = (kind: string, name: string) =>
      events.find((e) => e.type === 'ADDED' && e.kind === kind && e.name === name)?.rv ??
      Number.NaN;
    // Watch events trail the writes: wait until the last one (the PostSync
    // hook's deletion) has arrived.
    await eventually('the watch saw the PostSync hook deleted', async () =>
      events.some((e) => e.kind === 'Job' && e.name === 'post' && e.type === 'DELETED')
        ? true
        : undefined,
    );
    stop();
    const order = [
      added('Namespace', ns),
      added('Job', 'pre'),
      added('ConfigMap', 'cm-wave-minus-1'),
      added('ConfigMap', 'cm-wave-0'),
      added('ConfigMap', 'cm-wave-1'),
      added('Job', 'post'),
    ];
    expect(order.every(Number.isFinite)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // The PreSync hook completed before wave -1 started.
    const preDone =
      events.find((e) => e.kind === 'Job' && e.name === 'pre' && e.type === 'MODIFIED')?.rv ??
      Number.NaN;
    expect(preDone).toBeLessThan(added('ConfigMap', 'cm-wave-minus-1'));
    // Wave 0 (with the Deployment) was healthy before wave 1 was applied.
    const apiAvailable =
      events.find((e) => e.kind === 'Deployment' && e.available)?.rv ?? Number.NaN;
    expect(apiAvailable).toBeGreaterThan(added('Deployment', 'api'));
    expect(apiAvailable).toBeLessThan(added('ConfigMap', 'cm-wave-1'));
    // HookSucceeded: the PostSync Job was deleted after it completed.
    expect(events.some((e) => e.kind === 'Job' && e.name === 'post' && e.type === 'DELETED')).toBe(
      true,
    );
    // Hooks are not resources: not in the inventory, not pruned, not drift.
    expect(outcome.status.resources.map((r) => r.name).sort()).toEqual(
      ['api', 'cm-wave-0', 'cm-wave-1', 'cm-wave-minus-1', ns].sort(),
    );
    const again = await h.reconcile();
    expect(again.status.sync).toBe('Synced');
    expect(again.status.operation?.id).toBe(outcome.status.operation?.id);
  });

  it('stops at a failed PreSync hook, applies nothing, and runs the SyncFail hooks', async () => {
    const ns = uniqueName('prefail');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
      'pre.yaml': job('migrate', { 'driftless.dev/hook': 'PreSync' }, { fail: true }),
      'fail.yaml': job('notify-failure', { 'driftless.dev/hook': 'SyncFail' }),
      'cm.yaml': configMap('app-config'),
    });
    // No retries: the first failed attempt fails the operation.
    await h.setApp({ namespace: ns, syncPolicy: { retry: { limit: 0 } } });
    const [outcome] = await Promise.all([
      h.reconcile(),
      failJobPod(ns, 'migrate', 'migration 42 failed'),
    ]);
    expect(outcome.status.operation?.phase).toBe('Failed');
    expect(outcome.status.operation?.reason).toBe('HookFailed');
    expect(outcome.status.operation?.message).toMatch(/PreSync hook Job\/.*\/migrate failed/);
    expect(outcome.error?.reason).toBe('HookFailed');
    const api = objectApi();
    await expect(
      api.read({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'app-config', namespace: ns },
      }),
    ).rejects.toMatchObject({ code: 404 });
    const syncFail = await api.read({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'notify-failure', namespace: ns },
    });
    expect(syncFail.metadata?.annotations?.['driftless.dev/hook']).toBe('SyncFail');
    expect(h.reporter.reports.at(-1)).toMatchObject({ state: 'failure' });
    expect(h.reporter.reports.at(-1)?.description).toContain('migrate');
  });

  it('creates a CRD and its custom resources in one sync, and then finds them in sync', async () => {
    const group = `${uniqueName('widgets')}.driftless.dev`;
    const ns = uniqueName('crd');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'crd.yaml': `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.${group} }
spec:
  group: ${group}
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: { type: integer, default: 1 }
                color: { type: string }
`,
      'ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
      // No namespace: the destination's is filled in, known from the CRD's scope.
      'widget.yaml': `apiVersion: ${group}/v1\nkind: Widget\nmetadata: { name: blue }\nspec: { color: blue }\n`,
    });
    await h.setApp({ namespace: ns });
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.sync).toBe('Synced');
    const widget = await objectApi().read({
      apiVersion: `${group}/v1`,
      kind: 'Widget',
      metadata: { name: 'blue', namespace: ns },
    });
    expect((widget as unknown as { spec: { size: number } }).spec.size).toBe(1); // CRD default applied
    const client = await h.client();
    client.resetStats();
    const again = await h.reconcile();
    expect(again.status.sync).toBe('Synced');
    expect(client.stats.byVerb).toEqual({ list: 3 });
  });
});
