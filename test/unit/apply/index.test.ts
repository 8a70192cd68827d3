// The order and the fail-fast of applying one wave, on the in-memory cluster
// (what is written when); how a real API server takes the writes is tested in
// test/integration/reconcile-*.test.ts.

import { describe, expect, it } from 'vitest';
import { type ApplyItem, applyObjects, waitForCrds } from '../../../lib/apply/index.js';
import { DriftlessError } from '../../../lib/errors.js';
import { type KubeObject, objectKey } from '../../../lib/model/object.js';
import { MemoryCluster } from '../../support/memory-cluster.js';

function item(apiVersion: string, kind: string, name: string, line: number): ApplyItem {
  const object: KubeObject = { apiVersion, kind, metadata: { name, namespace: 'web' } };
  return { key: objectKey(object), object, file: 'app.yaml', line };
}

describe('applyObjects', () => {
  it('applies the kinds others depend on before the workloads of the same wave', async () => {
    const cluster = new MemoryCluster();
    const items = [
      item('apps/v1', 'Deployment', 'web', 1),
      item('v1', 'ConfigMap', 'config', 2),
      item('v1', 'Service', 'web', 3),
      item('v1', 'ServiceAccount', 'web', 4),
    ];
    await applyObjects(cluster, items, { force: false, concurrency: 1 });
    expect(cluster.requests.map((r) => r.key)).toEqual([
      '/ConfigMap/web/config',
      '/ServiceAccount/web/web',
      'apps/Deployment/web/web',
      '/Service/web/web',
    ]);
  });

  it('starts no further write after the first failure, and names the file and line', async () => {
    const cluster = new MemoryCluster();
    const items = Array.from({ length: 6 }, (_, i) => item('v1', 'ConfigMap', `c${i}`, i + 1));
    cluster.failApply(
      '/ConfigMap/web/c1',
      new DriftlessError('ApplyRejected', 'data: Invalid value', { field: 'data' }),
    );
    const err = await applyObjects(cluster, items, { force: false, concurrency: 2 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DriftlessError);
    expect((err as DriftlessError).describe()).toBe(
      'app.yaml:2: ConfigMap/web/c1: data: data: Invalid value',
    );
    // c0 and c1 were in flight together; c2 may have started in c0's slot before
    // c1 failed; nothing after the failure was observed started.
    const started = cluster.requests.map((r) => r.key);
    expect(started.slice(0, 2).sort()).toEqual(['/ConfigMap/web/c0', '/ConfigMap/web/c1']);
    expect(started.length).toBeLessThanOrEqual(3);
    expect(started).not.toContain('/ConfigMap/web/c3');
  });
});

describe('waitForCrds', () => {
  /** Discovery that learns of the Widget kind only on the third look, as aggregated discovery lags Established. */
  class LaggingDiscovery extends MemoryCluster {
    looks = 0;
    constructor() {
      super([
        ['apiextensions.k8s.io/v1', 'CustomResourceDefinition', false],
        ['example.test/v1', 'Widget', true],
      ]);
    }
    override async resource(apiVersion: string, kind: string) {
      if (kind === 'Widget' && ++this.looks < 3) {
        throw new DriftlessError('UnknownKind', `the server does not serve ${apiVersion} ${kind}`);
      }
      return super.resource(apiVersion, kind);
    }
  }

  it('returns only once discovery serves the kinds of an Established CRD', async () => {
    const cluster = new LaggingDiscovery();
    const crd: KubeObject = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.test' },
      spec: {
        group: 'example.test',
        names: { kind: 'Widget', plural: 'widgets' },
        versions: [{ name: 'v1', served: true, storage: true }],
      },
      status: { conditions: [{ type: 'Established', status: 'True' }] },
    } as KubeObject;
    await cluster.apply(crd);
    await waitForCrds(cluster, [crd], 10_000, 10);
    expect(cluster.looks).toBe(3);
    await expect(cluster.resource('example.test/v1', 'Widget')).resolves.toMatchObject({
      kind: 'Widget',
    });
  });
});
