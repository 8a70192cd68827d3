// The metadata-only LIST and the metadata fingerprint against the real API
// server: listMetadata answers what a full LIST does (without spec, data or
// status), in one request per page, namespaced and cluster-wide, for kinds
// with and without a generation and for a custom resource; the fingerprint
// stays put through a status-subresource write (the base profile runs no
// controllers, so the test writes status itself) and moves with a spec,
// label, annotation or another field manager's data change.

import { afterAll, describe, expect, it, vi } from 'vitest';
import type { KubeClient } from '../../lib/kube/client.js';
import { kubeClientFromKubeconfig } from '../../lib/kube/kubeconfig.js';
import { metadataFingerprint } from '../../lib/model/fingerprint.js';
import type { KubeObject } from '../../lib/model/object.js';
import { type ObjectMetadata, toObjectMetadata } from '../../lib/ports/cluster.js';
import { testenv, uniqueName } from '../support/env.js';
import { eventually, testNamespace } from '../support/kube.js';

const MERGE_PATCH = 'application/merge-patch+json';

const clients: KubeClient[] = [];
afterAll(() => {
  for (const c of clients) c.close();
});

async function client(pageSize?: number): Promise<KubeClient> {
  const c = await kubeClientFromKubeconfig(testenv().kube.kubeconfig, undefined, {
    clusterName: 'test',
    ...(pageSize ? { listPageSize: pageSize, metadataPageSize: pageSize } : {}),
  });
  clients.push(c);
  return c;
}

function configMap(ns: string, name: string, labels: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: ns, labels, annotations: { [`note/${name}`]: 'x' } },
    data: { key: `value of ${name}` },
  };
}

function deployment(ns: string, name: string, labels: Record<string, string>): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] },
      },
    },
  };
}

/** What a full LIST says of each object, as listMetadata would say it, by name. */
function byName(items: (KubeObject | ObjectMetadata)[]): Map<string, ObjectMetadata> {
  return new Map(
    items.map((o) => {
      const meta = 'metadata' in o ? toObjectMetadata(o.apiVersion, o.kind, o.metadata) : o;
      return [`${meta.namespace ?? ''}/${meta.name}`, meta];
    }),
  );
}

/** A merge patch by `manager` to the object's path (`/status` for the subresource). */
function patch(c: KubeClient, path: string, body: unknown, manager: string): Promise<unknown> {
  return c.requestJson('PATCH', `${path}?fieldManager=${manager}`, body, {
    contentType: MERGE_PATCH,
  });
}

/** The one object labelled app=<app> in the namespace, by a metadata LIST, and its fingerprint. */
async function fingerprintOf(
  c: KubeClient,
  apiVersion: string,
  kind: string,
  ns: string,
  app: string,
) {
  const [meta, ...rest] = await c.listMetadata(apiVersion, kind, {
    namespace: ns,
    labelSelector: `app=${app}`,
  });
  expect(rest).toEqual([]);
  return { meta: meta as ObjectMetadata, fp: metadataFingerprint(meta as ObjectMetadata) };
}

describe('KubeClient.listMetadata', () => {
  it('returns exactly the labelled objects with the metadata a full LIST has, in one request, and no data', async () => {
    const ns = await testNamespace('kmeta-cm');
    const c = await client();
    for (let i = 0; i < 6; i++) {
      await c.apply(configMap(ns, `cm-${i}`, { set: i < 4 ? 'a' : 'b' }));
    }
    const full = await c.list('v1', 'ConfigMap', { namespace: ns, labelSelector: 'set=a' });
    const pages = vi.spyOn(c, 'requestJson');
    c.resetStats();
    const metas = await c.listMetadata('v1', 'ConfigMap', {
      namespace: ns,
      labelSelector: 'set=a',
    });
    expect(c.stats.byVerb).toEqual({ list: 1 });
    expect(metas.map((m) => m.name).sort()).toEqual(['cm-0', 'cm-1', 'cm-2', 'cm-3']);
    expect(byName(metas)).toEqual(byName(full));
    for (const m of metas) {
      expect(m).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns });
      expect(m.generation).toBeUndefined();
      expect(m.resourceVersion).toMatch(/^\d+$/);
      expect(m.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(m.labels).toEqual({ set: 'a' });
      expect(m.annotations).toEqual({ [`note/${m.name}`]: 'x' });
      expect(m.managedFields.map((e) => e.manager)).toEqual(['driftless']);
    }
    // The server answered the metadata-only form: no data came over the wire.
    const answer = (await pages.mock.results[0]?.value) as { kind: string; items: object[] };
    expect(answer.kind).toBe('PartialObjectMetadataList');
    expect(answer.items.map((i) => Object.keys(i).sort())).toEqual(
      Array(4).fill(['apiVersion', 'kind', 'metadata']),
    );
    // A full object's metadata and the partial one fingerprint alike.
    const fulls = byName(full);
    for (const m of metas) {
      const f = full.find((o) => o.metadata.name === m.name) as KubeObject;
      expect(metadataFingerprint(m)).toBe(metadataFingerprint(f.metadata));
      expect(fulls.get(`${ns}/${m.name}`)).toEqual(m);
    }
  });

  it('follows continue tokens over the page size, one LIST request per page', async () => {
    const ns = await testNamespace('kmeta-page');
    const c = await client(3);
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        c.apply(configMap(ns, `p-${i}`, i < 7 ? { paged: 'yes' } : {})),
      ),
    );
    c.resetStats();
    const metas = await c.listMetadata('v1', 'ConfigMap', {
      namespace: ns,
      labelSelector: 'paged=yes',
    });
    expect(metas.map((m) => m.name).sort()).toEqual(Array.from({ length: 7 }, (_, i) => `p-${i}`));
    // 7 objects at 3 a page: 3 pages.
    expect(c.stats.byVerb).toEqual({ list: 3 });
    expect(byName(metas)).toEqual(
      byName(await c.list('v1', 'ConfigMap', { namespace: ns, labelSelector: 'paged=yes' })),
    );
  });

  it('lists across all namespaces, and cluster-scoped kinds without a namespace', async () => {
    const [ns1, ns2] = [await testNamespace('kmeta-a'), await testNamespace('kmeta-b')];
    const run = uniqueName('run');
    const c = await client();
    await c.apply(configMap(ns1, 'one', { run }));
    await c.apply(configMap(ns2, 'two', { run }));
    await c.apply(configMap(ns2, 'other', { run: `${run}-not` }));
    const role = `kmeta-${run}`;
    await c.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: role, labels: { run } },
      rules: [],
    });
    try {
      c.resetStats();
      const metas = await c.listMetadata('v1', 'ConfigMap', { labelSelector: `run=${run}` });
      expect(c.stats.byVerb).toEqual({ list: 1 });
      expect([...byName(metas).keys()].sort()).toEqual([`${ns1}/one`, `${ns2}/two`].sort());
      expect(byName(metas)).toEqual(
        byName(await c.list('v1', 'ConfigMap', { labelSelector: `run=${run}` })),
      );

      const roles = await c.listMetadata('rbac.authorization.k8s.io/v1', 'ClusterRole', {
        labelSelector: `run=${run}`,
        // A namespace means nothing to a cluster-scoped kind.
        namespace: ns1,
      });
      expect(roles).toHaveLength(1);
      expect(roles[0]).toMatchObject({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        name: role,
      });
      expect(roles[0]).not.toHaveProperty('namespace');
    } finally {
      await c.delete({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        group: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        namespace: '',
        name: role,
      });
    }
  });
});

describe('metadataFingerprint on a real API server', () => {
  it('a Deployment: unchanged by the controller and other status writers, changed by a spec, label or annotation change', async () => {
    const ns = await testNamespace('kmeta-deploy');
    const c = await client();
    const live = await c.apply(deployment(ns, 'web', { app: 'web' }));
    const applied = metadataFingerprint(live.metadata);
    const path = `/apis/apps/v1/namespaces/${ns}/deployments/web`;

    // The real deployment controller rolls it out: status, and the revision
    // annotation, both through the status subresource.
    await eventually('the Deployment rolled out', async () => {
      const d = (await c.get('apps/v1', 'Deployment', ns, 'web')) as KubeObject & {
        status?: { observedGeneration?: number; availableReplicas?: number };
      };
      return d.status?.observedGeneration === 1 &&
        d.status.availableReplicas === 1 &&
        d.metadata.annotations?.['deployment.kubernetes.io/revision'] === '1'
        ? d
        : undefined;
    });
    const first = await fingerprintOf(c, 'apps/v1', 'Deployment', ns, 'web');
    expect(first.meta.generation).toBe(1);
    expect(first.meta.resourceVersion).not.toBe(live.metadata.resourceVersion);
    expect(first.meta.managedFields.map((e) => [e.manager, e.subresource ?? ''])).toEqual(
      expect.arrayContaining([
        ['driftless', ''],
        ['kube-controller-manager', 'status'],
      ]),
    );
    expect(first.fp).toBe(applied);

    // Another status writer, PATCH and PUT: still the same.
    await patch(c, `${path}/status`, { status: { collisionCount: 1 } }, 'status-writer');
    const afterStatus = await fingerprintOf(c, 'apps/v1', 'Deployment', ns, 'web');
    expect(afterStatus.meta.resourceVersion).not.toBe(first.meta.resourceVersion);
    expect(afterStatus.fp).toBe(applied);
    // A PUT carries the resourceVersion it read: again if the controller wrote in between (409).
    await eventually('a status PUT', async () => {
      const current = (await c.get('apps/v1', 'Deployment', ns, 'web')) as KubeObject & {
        status: Record<string, unknown>;
      };
      return c.requestJson('PUT', `${path}/status?fieldManager=status-writer`, {
        ...current,
        status: { ...current.status, collisionCount: 2 },
      });
    });
    expect((await fingerprintOf(c, 'apps/v1', 'Deployment', ns, 'web')).fp).toBe(applied);

    // A hand edit of the spec by another manager: generation and ownership move.
    await patch(c, path, { spec: { replicas: 3 } }, 'kubectl-edit');
    const afterSpec = await fingerprintOf(c, 'apps/v1', 'Deployment', ns, 'web');
    expect(afterSpec.meta.generation).toBe(2);
    expect(afterSpec.fp).not.toBe(applied);

    // The same manager again, on the same field: the generation alone moves it.
    await patch(c, path, { spec: { replicas: 4 } }, 'kubectl-edit');
    const afterSpec2 = await fingerprintOf(c, 'apps/v1', 'Deployment', ns, 'web');
    expect(afterSpec2.meta.generation).toBe(3);
    expect(afterSpec2.fp).not.toBe(afterSpec.fp);

    await patch(c, path, { metadata: { labels: { extra: 'yes' } } }, 'kubectl-edit');
    const afterLabel = await fingerprintOf(c, 'apps/v1', 'Deployment', ns, 'web');
    expect(afterLabel.meta.generation).toBe(3);
    expect(afterLabel.fp).not.toBe(afterSpec2.fp);

    await patch(c, path, { metadata: { annotations: { note: 'by hand' } } }, 'kubectl-edit');
    const afterAnnotation = await fingerprintOf(c, 'apps/v1', 'Deployment', ns, 'web');
    expect(afterAnnotation.fp).not.toBe(afterLabel.fp);

    // A full GET and the metadata LIST agree (the controller's status writes
    // in between, if any, count for neither).
    const got = (await c.get('apps/v1', 'Deployment', ns, 'web')) as KubeObject;
    expect(metadataFingerprint(got.metadata)).toBe(afterAnnotation.fp);
  });

  it('a ConfigMap (no generation): changed by another field manager changing its data', async () => {
    const ns = await testNamespace('kmeta-data');
    const c = await client();
    await c.apply(configMap(ns, 'conf', { app: 'conf' }));
    const before = await fingerprintOf(c, 'v1', 'ConfigMap', ns, 'conf');
    await patch(
      c,
      `/api/v1/namespaces/${ns}/configmaps/conf`,
      { data: { key: 'changed by hand' } },
      'kubectl-edit',
    );
    const after = await fingerprintOf(c, 'v1', 'ConfigMap', ns, 'conf');
    expect(after.meta.generation).toBeUndefined();
    expect(after.meta.resourceVersion).not.toBe(before.meta.resourceVersion);
    expect(after.meta.managedFields).not.toEqual(before.meta.managedFields);
    expect(after.meta.labels).toEqual(before.meta.labels);
    expect(after.meta.annotations).toEqual(before.meta.annotations);
    expect(after.fp).not.toBe(before.fp);
  });

  it('a custom resource with a status subresource: listed like a built-in, unchanged by a status write', async () => {
    const ns = await testNamespace('kmeta-crd');
    const c = await client();
    const group = `${uniqueName('kmeta')}.example.com`;
    const crd = `gizmos.${group}`;
    await c.apply({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: crd },
      spec: {
        group,
        scope: 'Namespaced',
        names: { plural: 'gizmos', singular: 'gizmo', kind: 'Gizmo', listKind: 'GizmoList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: {
              openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        ],
      },
    });
    try {
      const apiVersion = `${group}/v1`;
      const gizmo = {
        apiVersion,
        kind: 'Gizmo',
        metadata: { name: 'g', namespace: ns, labels: { app: 'g' } },
      };
      const live = await eventually('the Gizmo CRD served', async () => {
        c.invalidateDiscovery();
        return c.apply({ ...gizmo, spec: { size: 1 } });
      });
      const first = await fingerprintOf(c, apiVersion, 'Gizmo', ns, 'g');
      expect(first.meta).toEqual(toObjectMetadata(apiVersion, 'Gizmo', live.metadata));
      expect(first.meta.generation).toBe(1);
      expect(byName([first.meta])).toEqual(
        byName(await c.list(apiVersion, 'Gizmo', { namespace: ns })),
      );

      const path = `/apis/${group}/v1/namespaces/${ns}/gizmos/g`;
      await patch(c, `${path}/status`, { status: { phase: 'Ready' } }, 'gizmo-controller');
      const afterStatus = await fingerprintOf(c, apiVersion, 'Gizmo', ns, 'g');
      expect(afterStatus.meta.resourceVersion).not.toBe(first.meta.resourceVersion);
      expect(afterStatus.fp).toBe(first.fp);

      await patch(c, path, { spec: { size: 2 } }, 'kubectl-edit');
      const afterSpec = await fingerprintOf(c, apiVersion, 'Gizmo', ns, 'g');
      expect(afterSpec.meta.generation).toBe(2);
      expect(afterSpec.fp).not.toBe(first.fp);
    } finally {
      await c.delete({
        apiVersion: 'apiextensions.k8s.io/v1',
        group: 'apiextensions.k8s.io',
        kind: 'CustomResourceDefinition',
        namespace: '',
        name: crd,
      });
    }
  });
});
