// Bad input and failing infrastructure: malformed YAML, a duplicate object and
// an object in a forbidden namespace fail the whole operation with a precise
// message and nothing applied; an API server that goes away mid-apply fails
// the operation with ClusterUnreachable, and the next reconcile after it comes
// back converges without duplicates.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../../scripts/testenv/cluster.js';
import { kubeBinDir } from '../../scripts/testenv/env.js';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';
import { kubeConfig } from '../support/kube.js';

function cm(name: string, ns?: string): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${ns ? `  namespace: ${ns}\n` : ''}data: { k: v }\n`;
}

async function labelled(app: string): Promise<number> {
  const list = await kubeConfig()
    .makeApiClient(CoreV1Api)
    .listConfigMapForAllNamespaces({ labelSelector: `driftless.dev/app=${app}` });
  return list.items.length;
}

describe('invalid revisions apply nothing', () => {
  let ns: string;
  beforeAll(async () => {
    ns = uniqueName('bad');
    await kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: ns } } });
  });

  it('fails on malformed YAML with file and line', async () => {
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'a-good.yaml': cm('good'),
      'b-broken.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata: [unclosed\n',
      'c-good.yaml': cm('also-good'),
    });
    await h.setApp({ namespace: ns });
    const outcome = await h.reconcile();
    expect(outcome.error?.reason).toBe('InvalidManifest');
    expect(outcome.error?.location.file).toBe('b-broken.yaml');
    expect(outcome.error?.location.line).toBeGreaterThanOrEqual(5);
    expect(outcome.status.operation).toMatchObject({ phase: 'Failed', reason: 'InvalidManifest' });
    expect(outcome.status.operation?.message).toMatch(/^b-broken\.yaml:\d+: invalid YAML/);
    expect(outcome.retryable).toBe(false);
    expect(await labelled(h.appName)).toBe(0);
    expect(h.reporter.reports.at(-1)).toMatchObject({ state: 'failure' });
  });

  it("fails on an object the cluster's schemas reject, naming file, line, object and field", async () => {
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'a-good.yaml': cm('good'),
      'b-service.yaml': [
        'apiVersion: v1',
        'kind: Service',
        'metadata:',
        '  name: web',
        'spec:',
        '  type: NotAType',
        '  ports:',
        '    - port: 80',
        '',
      ].join('\n'),
      'c-deployment.yaml': [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata:',
        '  name: web',
        'spec:',
        '  replicas: two',
        '  selector: { matchLabels: { app: web } }',
        '  template:',
        '    metadata: { labels: { app: web } }',
        '    spec: { containers: [{ name: web, image: nginx }] }',
        '',
      ].join('\n'),
    });
    await h.setApp({ namespace: ns });
    const outcome = await h.reconcile();
    expect(outcome.error?.reason).toBe('InvalidManifest');
    expect(outcome.error?.location).toMatchObject({
      file: 'b-service.yaml',
      line: 6,
      object: `Service/${ns}/web`,
      field: 'spec.type',
    });
    expect(outcome.status.operation).toMatchObject({ phase: 'Failed', reason: 'InvalidManifest' });
    expect(outcome.status.operation?.message).toMatch(
      new RegExp(
        `^b-service\\.yaml:6: Service/${ns}/web: spec\\.type: .*NotAType.*\\(and 1 more schema error\\)`,
      ),
    );
    expect(outcome.retryable).toBe(false);
    // Nothing was applied, not even the valid ConfigMap of the same revision.
    expect(await labelled(h.appName)).toBe(0);
  });

  it('fails on a duplicate object naming both places', async () => {
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'one.yaml': cm('settings'),
      'dir/two.yaml': `${cm('other')}---\n${cm('settings')}`,
    });
    await h.setApp({ namespace: ns });
    const outcome = await h.reconcile();
    expect(outcome.error?.reason).toBe('DuplicateObject');
    expect(outcome.error?.message).toMatch(
      /ConfigMap\/.*settings.*dir\/two\.yaml:\d+.*one\.yaml:1|one\.yaml:1.*dir\/two\.yaml:\d+/,
    );
    expect(await labelled(h.appName)).toBe(0);
  });

  it('fails on an object outside the allowed namespaces', async () => {
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'a.yaml': cm('fine'),
      'z.yaml': `${cm('fine-too')}---\n${cm('sneaky', 'kube-system')}`,
    });
    await h.setApp({ namespace: ns, policy: { namespaces: [ns] } });
    const outcome = await h.reconcile();
    expect(outcome.error?.reason).toBe('ForbiddenNamespace');
    expect(outcome.error?.describe()).toBe(
      `z.yaml:11: ConfigMap/kube-system/sneaky: metadata.namespace: namespace kube-system is not allowed for application ${h.appName} (allowed: ${ns})`,
    );
    expect(await labelled(h.appName)).toBe(0);
  });
});

describe('API server outage mid-apply', () => {
  // A cluster of its own: stopping the shared one would break other tests.
  let cluster: TestCluster;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-outage-'));
    cluster = await TestCluster.start({ dir, binDir: kubeBinDir(), profile: 'base' });
  });
  afterAll(async () => {
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('fails with ClusterUnreachable, then converges after the restart with no duplicates', async () => {
    const h = await EngineHarness.create(uniqueName('app'), {
      kubeconfig: cluster.info.kubeconfig,
    });
    const files: Record<string, string> = {
      'ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: { name: outage }\n',
    };
    for (let i = 0; i < 120; i++) files[`cm/${String(i).padStart(3, '0')}.yaml`] = cm(`cm-${i}`);
    await h.repo.commit(files);
    await h.setApp({ namespace: 'outage' });
    let applied = 0;
    let stopping: Promise<void> | undefined;
    h.listener = (e) => {
      // The API server goes away after the 20th object is applied.
      if (e.type === 'applied' && ++applied === 20) stopping = cluster.stopApiserver();
    };
    const outcome = await h.reconcile({}, { concurrency: 2 });
    await stopping;
    h.listener = undefined;
    expect(applied).toBeGreaterThanOrEqual(20);
    expect(applied).toBeLessThan(121);
    expect(outcome.error?.reason).toBe('ClusterUnreachable');
    expect(outcome.error?.message).toMatch(/the API server of cluster local/);
    expect(outcome.retryable).toBe(true);
    // The operation outlives the outage: it stays Running, saying why it
    // stopped, and the retry resumes it by id (#12).
    const running = outcome.status.operation;
    expect(running?.phase).toBe('Running');
    expect(running?.message).toMatch(/ClusterUnreachable|the API server of cluster local/);
    expect(outcome.status.conditions.map((c) => c.reason)).toContain('ClusterUnreachable');

    await cluster.startApiserver();
    const again = await h.reconcileUntilSettled();
    expect(again.error).toBeUndefined();
    expect(again.status.sync).toBe('Synced');
    const core = (await h.client()).list('v1', 'ConfigMap', {
      labelSelector: `driftless.dev/app=${h.appName}`,
    });
    expect((await core).map((c) => c.metadata.name).sort()).toEqual(
      Array.from({ length: 120 }, (_, i) => `cm-${i}`).sort(),
    );
    const history = await h.store.listHistory(h.target);
    // One operation, resumed after the outage, not a failed one and a new one.
    expect(history.map((o) => [o.id, o.phase])).toEqual([[running?.id, 'Succeeded']]);
  });
});
