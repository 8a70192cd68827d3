// Charts from a Helm HTTP repository and from an OCI registry, synced by the
// whole engine to the real API server: the repository is packaged and
// indexed by the layer's helm and served on loopback; the registry is the
// distribution registry (built from its pinned Go module) with token auth,
// charts pushed with `helm push`, credentials from Secrets Manager on moto.
// Semver ranges, a second reconcile downloading nothing (counted at the
// servers), a new version inside the range syncing like a new commit, a
// tampered package refused, an unvendored dependency of a chart in Git
// fetched from its repository, and a multi-source app whose values come
// from Git (`$values`).

import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretsManagerSource } from '../../lib/aws/secrets.js';
import { type ApplicationInput, ApplicationSchema } from '../../lib/model/application.js';
import { reconcile } from '../../lib/reconcile/index.js';
import { ChartFetcher, SourceCache, SourceDispatcher } from '../../lib/source/index.js';
import { awsClientConfig } from '../support/aws.js';
import { HelmRepoServer, OciRegistry, packageChart } from '../support/chart-repos.js';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { eventually, kubeConfig, testNamespace, unlessNotFound } from '../support/kube.js';

/** A chart whose ConfigMap says which version rendered it and one value. */
function chartFiles(name: string, version: string): Record<string, string> {
  return {
    'Chart.yaml': `apiVersion: v2\nname: ${name}\nversion: ${version}\n`,
    'values.yaml': 'greeting: from-chart\n',
    'values-prod.yaml': 'greeting: from-chart-prod\n',
    'templates/cm.yaml':
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\n' +
      `data:\n  version: "${version}"\n  greeting: {{ .Values.greeting | quote }}\n`,
  };
}

async function configMap(ns: string, name: string) {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  return unlessNotFound(core.readNamespacedConfigMap({ name, namespace: ns }));
}

/** An engine whose chart cache is this test's own (its requests counted from zero). */
async function chartEngine(app: string, charts: ChartFetcher, repo?: TestRepo) {
  const h = await EngineHarness.create(app, repo ? { repo } : {});
  const secrets = new SecretsManagerSource({ clientConfig: awsClientConfig() });
  const deps = () => ({
    ...h.deps(),
    sources: new SourceDispatcher({ git: h.git, charts, secrets }),
    renderer: new SourceCache({ charts }),
  });
  const put = (spec: Omit<ApplicationInput['spec'], 'destinations'>, ns: string) =>
    h.store.putApplication(
      ApplicationSchema.parse({
        apiVersion: 'driftless.dev/v1',
        kind: 'Application',
        metadata: { name: app },
        spec: { ...spec, destinations: [{ cluster: h.clusterName, namespace: ns }] },
      }),
    );
  const run = () =>
    reconcile(deps(), { target: h.target, trigger: 'sweep' }, { waitBudgetMs: 30_000 });
  return { h, put, run };
}

let cacheN = 0;
/** A chart fetcher with a cache of its own (removed with the repository's directory). */
const freshCharts = () =>
  new ChartFetcher({ cacheRoot: path.join(repoServer.dir, `cache-${cacheN++}`) });

let repoServer: HelmRepoServer;

beforeAll(async () => {
  repoServer = await HelmRepoServer.start();
  await repoServer.add(chartFiles('web', '1.0.0'), 'web');
  await repoServer.add(chartFiles('web', '1.1.0'), 'web');
  await repoServer.add(chartFiles('web', '2.0.0'), 'web');
  await repoServer.add(
    {
      'Chart.yaml': 'apiVersion: v2\nname: common\nversion: 0.3.0\n',
      'templates/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-common\ndata:\n  from: common-0.3.0\n',
    },
    'common',
  );
}, 120_000);
afterAll(() => repoServer?.stop());

describe('a chart from a Helm HTTP repository', () => {
  it('resolves the range, syncs, downloads nothing the second time, and follows a new version', async () => {
    const ns = await testNamespace('chart-http');
    const charts = freshCharts();
    const { put, run, h } = await chartEngine(uniqueName('chart-http'), charts);
    await put({ source: { repoURL: repoServer.url, chart: 'web', revision: '^1.0.0' } }, ns);

    const first = await run();
    expect(first.error).toBeUndefined();
    expect(first.status.syncedRevision).toBe('1.1.0'); // the highest inside ^1.0.0, not 2.0.0
    expect(first.status.sync).toBe('Synced');
    const cm = await configMap(ns, `${h.appName}-cm`);
    expect(cm?.data).toEqual({ version: '1.1.0', greeting: 'from-chart' });
    const history = await h.store.listHistory(h.target);
    expect(history[0]?.revision).toBe('1.1.0');

    // A second reconcile: the index answered 304, no package downloaded.
    const before = repoServer.requests.length;
    const second = await run();
    expect(second.error).toBeUndefined();
    expect(second.status.syncedRevision).toBe('1.1.0');
    const again = repoServer.requests.slice(before);
    expect(again).toEqual([{ path: '/charts/index.yaml', status: 304 }]);
    expect(repoServer.count('web-1.1.0.tgz')).toBe(1);

    // A new version inside the range moves the revision like a new commit.
    await repoServer.add(chartFiles('web', '1.2.0'), 'web');
    const third = await run();
    expect(third.error).toBeUndefined();
    expect(third.status.wantedRevision).toBe('1.2.0');
    expect(third.status.syncedRevision).toBe('1.2.0');
    expect((await configMap(ns, `${h.appName}-cm`))?.data?.version).toBe('1.2.0');
  });

  it('renders a values file from the chart package, with the default sources of the engine', async () => {
    const ns = await testNamespace('chart-values');
    const { put, h } = await chartEngine(uniqueName('chart-values'), freshCharts());
    // The harness's own deps: the worker's default (Git and the process's chart cache).
    const run = () => h.reconcile();
    await put(
      {
        source: {
          repoURL: repoServer.url,
          chart: 'web',
          revision: '1.0.0',
          helm: { valueFiles: ['values-prod.yaml'] },
        },
      },
      ns,
    );
    const outcome = await run();
    expect(outcome.error).toBeUndefined();
    expect((await configMap(ns, `${h.appName}-cm`))?.data).toEqual({
      version: '1.0.0',
      greeting: 'from-chart-prod',
    });
  });

  it('refuses a tampered package (digest mismatch) and applies nothing', async () => {
    const ns = await testNamespace('chart-tamper');
    const tampered = await HelmRepoServer.start();
    try {
      const good = await tampered.add(chartFiles('web', '3.0.0'), 'web');
      // Same name and version, other bytes: the index still declares the good digest.
      const evil = await packageChart(
        { ...chartFiles('web', '3.0.0'), 'values.yaml': 'greeting: evil\n' },
        'web',
        path.join(tampered.dir, 'evil'),
      );
      await copyFile(evil, good);
      const { put, run, h } = await chartEngine(uniqueName('chart-tamper'), freshCharts());
      await put({ source: { repoURL: tampered.url, chart: 'web', revision: '3.0.0' } }, ns);
      const outcome = await run();
      expect(outcome.error?.reason).toBe('DigestMismatch');
      expect(outcome.error?.message).toMatch(
        /chart web 3\.0\.0 from http:\/\/127\.0\.0\.1:\d+\/charts: the download's digest is sha256:[0-9a-f]{64}, but the repository declares sha256:[0-9a-f]{64}/,
      );
      expect(outcome.status.syncedRevision).toBeUndefined();
      expect(await configMap(ns, `${h.appName}-cm`)).toBeUndefined();
    } finally {
      await tampered.stop();
    }
  });
});

describe('a chart from an OCI registry (token auth)', () => {
  let registry: OciRegistry;
  let secretName: string;
  beforeAll(async () => {
    registry = await OciRegistry.start();
    const out = path.join(repoServer.dir, 'oci-out');
    for (const v of ['0.9.0', '1.0.0', '1.4.1', '2.0.0-rc.1']) {
      await registry.push(await packageChart(chartFiles('api', v), 'api', out), 'charts');
    }
    await registry.push(
      await packageChart(
        {
          'Chart.yaml': 'apiVersion: v2\nname: lib\nversion: 2.1.0\n',
          'templates/cm.yaml':
            'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-lib\ndata:\n  from: lib-2.1.0\n',
        },
        'lib',
        out,
      ),
      'public',
    );
    secretName = uniqueName('oci-creds');
    await new SecretsManagerClient(awsClientConfig()).send(
      new CreateSecretCommand({
        Name: secretName,
        SecretString: JSON.stringify({ username: registry.username, password: registry.password }),
      }),
    );
  }, 180_000);
  afterAll(() => registry?.stop());

  it('resolves the tag range with a token, syncs, and pulls nothing the second time', async () => {
    const ns = await testNamespace('chart-oci');
    const { put, run, h } = await chartEngine(uniqueName('chart-oci'), freshCharts());
    await put(
      {
        source: {
          repoURL: `oci://${registry.host}/charts`,
          chart: 'api',
          revision: '>=1.0.0 <2.0.0-0',
          credentials: secretName,
        },
      },
      ns,
    );
    const pulls = async (kind: 'manifests' | 'blobs') =>
      (await registry.requests()).filter(
        (r) => r.method === 'GET' && r.path.startsWith(`/v2/charts/api/${kind}/`),
      ).length;
    const pushed = { manifests: await pulls('manifests'), blobs: await pulls('blobs') };
    const first = await run();
    expect(first.error).toBeUndefined();
    expect(first.status.syncedRevision).toBe('1.4.1');
    expect((await configMap(ns, `${h.appName}-cm`))?.data?.version).toBe('1.4.1');
    expect(registry.tokenRequests.at(-1)).toEqual({
      scope: 'repository:charts/api:pull',
      granted: true,
    });
    // The blob is the first run's last request: once it is logged, all are.
    await eventually('the chart blob GET in the registry log', async () =>
      (await pulls('blobs')) > pushed.blobs ? true : undefined,
    );
    const before = { manifests: await pulls('manifests'), blobs: await pulls('blobs') };
    expect(before.manifests).toBeGreaterThan(pushed.manifests);

    const second = await run();
    expect(second.error).toBeUndefined();
    expect(second.status.syncedRevision).toBe('1.4.1');
    const tags = (await registry.requests()).filter((r) => r.path.includes('/tags/list'));
    expect(tags.length).toBeGreaterThan(0); // the range is resolved again (a new tag would be seen)
    expect({ manifests: await pulls('manifests'), blobs: await pulls('blobs') }).toEqual(before);
  });

  it('fails with a precise error without credentials', async () => {
    const ns = await testNamespace('chart-oci-anon');
    const { put, run } = await chartEngine(uniqueName('chart-oci-anon'), freshCharts());
    await put(
      { source: { repoURL: `oci://${registry.host}/charts`, chart: 'api', revision: '^1.0.0' } },
      ns,
    );
    const outcome = await run();
    expect(outcome.error?.reason).toBe('SourceUnavailable');
    expect(outcome.error?.message).toMatch(
      /registry token for .*charts\/api\/tags\/list: .* HTTP 401/,
    );
  });

  it('fetches the unvendored dependency of a chart in Git from the registry Chart.yaml names', async () => {
    const ns = await testNamespace('chart-oci-dep');
    const repo = await TestRepo.create('chart-oci-dep');
    await repo.commit({
      'Chart.yaml':
        'apiVersion: v2\nname: shop\nversion: 0.1.0\ndependencies:\n' +
        `  - name: lib\n    version: ^2.0.0\n    repository: oci://${registry.host}/public\n`,
      'templates/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-shop\ndata: {a: b}\n',
    });
    const { put, run, h } = await chartEngine(uniqueName('chart-oci-dep'), freshCharts(), repo);
    await put({ source: { repoURL: repo.url, revision: 'main' } }, ns);
    const outcome = await run();
    expect(outcome.error).toBeUndefined();
    expect((await configMap(ns, `${h.appName}-lib`))?.data).toEqual({ from: 'lib-2.1.0' });
    expect(registry.tokenRequests.at(-1)).toEqual({
      scope: 'repository:public/lib:pull',
      granted: true,
    });
  });
});

describe('a chart kept in Git', () => {
  it('fetches a dependency that is not vendored from the repository Chart.lock names', async () => {
    const ns = await testNamespace('chart-dep');
    const repo = await TestRepo.create('chart-dep');
    await repo.commit({
      'chart/Chart.yaml':
        'apiVersion: v2\nname: shop\nversion: 0.1.0\ndependencies:\n' +
        `  - name: common\n    version: ~0.3.0\n    repository: ${repoServer.url}\n`,
      'chart/Chart.lock':
        `dependencies:\n- name: common\n  repository: ${repoServer.url}\n  version: 0.3.0\n` +
        'digest: sha256:0000000000000000000000000000000000000000000000000000000000000000\ngenerated: "2026-01-01T00:00:00Z"\n',
      'chart/templates/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-shop\ndata: {a: b}\n',
    });
    const { put, run, h } = await chartEngine(uniqueName('chart-dep'), freshCharts(), repo);
    await put({ source: { repoURL: repo.url, revision: 'main', path: 'chart' } }, ns);
    const outcome = await run();
    expect(outcome.error).toBeUndefined();
    expect((await configMap(ns, `${h.appName}-common`))?.data).toEqual({ from: 'common-0.3.0' });
    expect((await configMap(ns, `${h.appName}-shop`))?.data).toEqual({ a: 'b' });
    expect(repoServer.count('common-0.3.0.tgz', 200)).toBeGreaterThanOrEqual(1);
  });
});

describe('multi-source', () => {
  it('renders a chart with $values from the app repository and follows both revisions', async () => {
    const ns = await testNamespace('chart-multi');
    const repo = await TestRepo.create('chart-values');
    const sha1 = await repo.commit({ 'envs/prod/values.yaml': 'greeting: from-git\n' });
    const { put, run, h } = await chartEngine(uniqueName('chart-multi'), freshCharts(), repo);
    await put(
      {
        sources: [
          {
            repoURL: repoServer.url,
            chart: 'web',
            revision: '~1.0.0',
            helm: { valueFiles: ['$values/envs/prod/values.yaml'] },
          },
          { repoURL: repo.url, revision: 'main', ref: 'values' },
        ],
      },
      ns,
    );
    const first = await run();
    expect(first.error).toBeUndefined();
    expect(first.status.syncedRevision).toBe(`1.0.0,${sha1}`);
    expect((await configMap(ns, `${h.appName}-cm`))?.data).toEqual({
      version: '1.0.0',
      greeting: 'from-git',
    });

    const sha2 = await repo.commit({ 'envs/prod/values.yaml': 'greeting: changed-in-git\n' });
    const second = await run();
    expect(second.error).toBeUndefined();
    expect(second.status.syncedRevision).toBe(`1.0.0,${sha2}`);
    expect((await configMap(ns, `${h.appName}-cm`))?.data?.greeting).toBe('changed-in-git');
  });
});
