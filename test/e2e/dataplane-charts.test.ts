// A chart source through the deployed data plane, in-process: the status API
// function registers an app whose source is a chart from a Helm repository
// on loopback (packaged and indexed by the layer's helm), the sweep function
// enqueues it, the worker function (its default wiring: Git and the process's
// chart cache) syncs it to the real API server, and the status API reports
// the chart version as the synced revision and in the history. A new version
// inside the range is synced by the next due sweep, like a new commit.

import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HelmRepoServer } from '../support/chart-repos.js';
import { type DataPlane, startDataPlane } from '../support/dataplane.js';
import { testenv } from '../support/env.js';
import { kubeConfig, testNamespace } from '../support/kube.js';
import { provideRenderTools } from '../support/render-tools.js';

let plane: DataPlane;
let repo: HelmRepoServer;

const chart = (version: string) => ({
  'Chart.yaml': `apiVersion: v2\nname: web\nversion: ${version}\n`,
  'templates/cm.yaml':
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-chart\n' +
    `data:\n  version: "${version}"\n`,
});

beforeAll(async () => {
  await provideRenderTools();
  repo = await HelmRepoServer.start();
  await repo.add(chart('1.0.0'), 'web');
  await repo.add(chart('1.1.0'), 'web');
  await repo.add(chart('2.0.0'), 'web');
  plane = await startDataPlane('charts');
  const cluster = {
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name: 'local' },
    spec: { kubeconfig: { path: testenv().kube.kubeconfig } },
  };
  expect((await plane.call('PUT', '/clusters/local', cluster)).status).toBe(201);
}, 120_000);
afterAll(() => repo?.stop());

describe('a chart source through the data plane', () => {
  it('is synced by the sweep at the highest version in range, and follows a new one', async () => {
    const ns = await testNamespace('dp-chart');
    const app = {
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name: 'charted' },
      spec: {
        source: { repoURL: repo.url, chart: 'web', revision: '^1.0.0' },
        destinations: [{ cluster: 'local', namespace: ns }],
      },
    };
    expect((await plane.call('PUT', '/apps/charted', app)).status).toBe(201);
    const t0 = Date.now();
    expect((await plane.sweepAt(t0)).local?.counters).toMatchObject({ reasons: { new: 1 } });

    const target = async () => (await plane.call('GET', '/apps/charted')).body.targets[0];
    expect(await target()).toMatchObject({ sync: 'Synced', syncedRevision: '1.1.0' });
    const history = (
      await plane.call('GET', '/apps/charted/history', undefined, { cluster: 'local' })
    ).body;
    expect(JSON.stringify(history)).toContain('"revision":"1.1.0"');
    const core = kubeConfig().makeApiClient(CoreV1Api);
    expect((await core.readNamespacedConfigMap({ name: 'web-chart', namespace: ns })).data).toEqual(
      {
        version: '1.1.0',
      },
    );

    // A new version inside the range.
    await repo.add(chart('1.2.0'), 'web');
    // The next tick reads the chart repository's index once and finds the new version.
    const next = (await plane.sweepAt(t0 + 60_000)).local;
    expect(next?.counters).toMatchObject({ enqueued: 1, reasons: { source: 1 } });
    expect(await target()).toMatchObject({ sync: 'Synced', syncedRevision: '1.2.0' });
    expect((await core.readNamespacedConfigMap({ name: 'web-chart', namespace: ns })).data).toEqual(
      {
        version: '1.2.0',
      },
    );
  });
});
