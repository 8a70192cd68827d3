// A repository written for Flux's kustomize-controller, synced by Driftless as
// it is: an object annotated `kustomize.toolkit.fluxcd.io/prune: disabled`
// survives its removal from Git, and one annotated `ssa: IfNotPresent` is
// created when missing and never changed afterwards — not by a new revision,
// not by self-heal after a hand edit — which is what Flux documents for
// them. A no-op reconcile afterwards applies nothing.

import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';
import { kubeConfig } from '../support/kube.js';

const deployment = (image: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec: { containers: [{ name: api, image: "${image}" }] }
`;
const kept = `apiVersion: v1
kind: ConfigMap
metadata:
  name: kept
  annotations:
    kustomize.toolkit.fluxcd.io/prune: disabled
data: { note: "outlives Git" }
`;
const seed = (value: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: seed
  annotations:
    kustomize.toolkit.fluxcd.io/ssa: IfNotPresent
data: { value: "${value}" }
`;

describe('a repository written for Flux', () => {
  let h: EngineHarness;
  let ns: string;
  const core = () => kubeConfig().makeApiClient(CoreV1Api);

  beforeAll(async () => {
    ns = uniqueName('flux');
    await core().createNamespace({ body: { metadata: { name: ns } } });
    h = await EngineHarness.create(uniqueName('flux'));
    await h.repo.commit({
      'kustomization.yaml': 'resources: [deployment.yaml, kept.yaml, seed.yaml]\n',
      'deployment.yaml': deployment('api:1'),
      'kept.yaml': kept,
      'seed.yaml': seed('from-git-1'),
    });
    await h.setApp({ namespace: ns, syncPolicy: { prune: true, selfHeal: true } });
  });

  it('creates everything on the first sync', async () => {
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.operation?.phase).toBe('Succeeded');
    expect((await core().readNamespacedConfigMap({ name: 'seed', namespace: ns })).data).toEqual({
      value: 'from-git-1',
    });
  });

  it('never changes an IfNotPresent object once it exists: hand edits stay, self-heal leaves it', async () => {
    await core().patchNamespacedConfigMap(
      {
        name: 'seed',
        namespace: ns,
        body: { data: { value: 'tuned by hand' } },
        fieldManager: 'kubectl-edit',
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const outcome = await h.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.resources.find((r) => r.name === 'seed')?.sync).toBe('Synced');
    expect(outcome.status.sync).toBe('Synced');
    expect(
      (await core().readNamespacedConfigMap({ name: 'seed', namespace: ns })).data?.value,
    ).toBe('tuned by hand');
  });

  it('keeps a prune: disabled object removed from Git, and still does not touch IfNotPresent', async () => {
    await h.repo.commit({
      'kustomization.yaml': 'resources: [deployment.yaml, seed.yaml]\n',
      'deployment.yaml': deployment('api:2'),
      'kept.yaml': null,
      'seed.yaml': seed('from-git-2'),
    });
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.operation?.phase).toBe('Succeeded');
    const apps = kubeConfig().makeApiClient(AppsV1Api);
    expect(
      (await apps.readNamespacedDeployment({ name: 'api', namespace: ns })).spec?.template.spec
        ?.containers[0]?.image,
    ).toBe('api:2');
    // Flux: "the object is not garbage collected" — it stays, as it was.
    expect((await core().readNamespacedConfigMap({ name: 'kept', namespace: ns })).data).toEqual({
      note: 'outlives Git',
    });
    expect(
      (await core().readNamespacedConfigMap({ name: 'seed', namespace: ns })).data?.value,
    ).toBe('tuned by hand');
  });

  it('then reconciles without a single write', async () => {
    const client = await h.client();
    client.resetStats();
    const outcome = await h.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.sync).toBe('Synced');
    const writes = Object.entries(client.stats.byVerb).filter(
      ([verb]) => verb !== 'list' && verb !== 'get',
    );
    expect(writes).toEqual([]);
  });
});
