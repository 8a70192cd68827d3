// The Kubernetes client against the real API server: discovery cost, paging,
// server-side apply conflicts and dry runs, deletes, and errors that name
// what went wrong.

import { describe, expect, it } from 'vitest';
import type { KubeClient } from '../../lib/kube/client.js';
import { kubeClientFromKubeconfig } from '../../lib/kube/kubeconfig.js';
import { testenv } from '../support/env.js';
import { rejection } from '../support/errors.js';
import { testNamespace } from '../support/kube.js';

function client(): Promise<KubeClient> {
  return kubeClientFromKubeconfig(testenv().kube.kubeconfig, undefined, {
    clusterName: 'test',
  });
}

describe('KubeClient', () => {
  it('learns the whole API surface with two discovery requests and says which kind is unknown', async () => {
    const c = await client();
    const deploy = await c.resource('apps/v1', 'Deployment');
    expect(deploy).toMatchObject({ plural: 'deployments', namespaced: true, group: 'apps' });
    expect((await c.resource('v1', 'Namespace')).namespaced).toBe(false);
    expect(c.stats.total).toBe(2);
    const e = await rejection(c.resource('acme.io/v1', 'Widget'));
    expect(e.reason).toBe('UnknownKind');
    expect(e.message).toMatch(/does not serve kind Widget in acme\.io\/v1/);
    // An unknown kind refreshes discovery once (a CRD may have been created since).
    expect(c.stats.total).toBe(4);
    c.close();
  });

  it('lists across pages with a label selector', async () => {
    const ns = await testNamespace('paging');
    const c = await client();
    for (let i = 0; i < 520; i += 40) {
      await Promise.all(
        Array.from({ length: Math.min(40, 520 - i) }, (_, j) =>
          c.apply({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: {
              name: `cm-${i + j}`,
              namespace: ns,
              labels: { set: i + j < 510 ? 'a' : 'b' },
            },
          }),
        ),
      );
    }
    c.resetStats();
    const items = await c.list('v1', 'ConfigMap', { namespace: ns, labelSelector: 'set=a' });
    expect(items).toHaveLength(510);
    expect(items[0]).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap' });
    expect(c.stats.byVerb).toEqual({ list: 2 });
    c.close();
  });

  it('maps an apply conflict to ApplyConflict naming the field, and dry-runs without persisting', async () => {
    const ns = await testNamespace('conflict');
    const c = await client();
    const cm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', namespace: ns },
      data: { k: 'one' },
    };
    await c.apply(cm, { fieldManager: 'someone-else' });
    const e = await rejection(c.apply({ ...cm, data: { k: 'two' } }, { force: false }));
    expect(e.reason).toBe('ApplyConflict');
    expect(e.location).toMatchObject({ object: `ConfigMap/${ns}/c`, field: '.data.k' });
    const merged = await c.apply({ ...cm, data: { k: 'two' } }, { dryRun: true });
    expect(merged.data).toEqual({ k: 'two' });
    expect((await c.get('v1', 'ConfigMap', ns, 'c'))?.data).toEqual({ k: 'one' });
    c.close();
  });

  it('reports invalid objects as ApplyRejected with the field, and a missing namespace as NotFound', async () => {
    const ns = await testNamespace('reject');
    const c = await client();
    const bad = await rejection(
      c.apply({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'd', namespace: ns },
        spec: {
          replicas: -1,
          selector: { matchLabels: { a: 'b' } },
          template: { metadata: { labels: { a: 'b' } }, spec: { containers: [] } },
        },
      }),
    );
    expect(bad.reason).toBe('ApplyRejected');
    expect(bad.location.field).toMatch(/spec\.replicas/);
    const missing = await rejection(
      c.apply({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'x', namespace: 'no-such-ns-4711' },
      }),
    );
    expect(missing.reason).toBe('NotFound');
    expect(missing.message).toMatch(/namespaces "no-such-ns-4711" not found/);
    c.close();
  });

  it('deletes, and reports an object already gone as false', async () => {
    const ns = await testNamespace('delete');
    const c = await client();
    const live = await c.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'gone', namespace: ns },
    });
    const ref = { apiVersion: 'v1', group: '', kind: 'ConfigMap', namespace: ns, name: 'gone' };
    expect(await c.delete(ref, { uid: live.metadata.uid })).toBe(true);
    expect(await c.delete(ref)).toBe(false);
    expect(await c.get('v1', 'ConfigMap', ns, 'gone')).toBeUndefined();
    c.close();
  });

  it('says the cluster is unreachable, naming it, when nothing listens', async () => {
    const c = await client();
    // Point the same credentials at a closed port.
    const dead = Object.assign(Object.create(Object.getPrototypeOf(c)), c, {
      server: 'https://127.0.0.1:1',
    }) as KubeClient;
    const e = await rejection(dead.list('v1', 'ConfigMap'));
    expect(e.reason).toBe('ClusterUnreachable');
    expect(e.message).toMatch(
      /cannot reach the API server of cluster test at https:\/\/127\.0\.0\.1:1/,
    );
    c.close();
  });
});
