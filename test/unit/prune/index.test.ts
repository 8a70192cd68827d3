// The prune decision (lib/prune/index.ts) on objects Driftless applied: the
// app's policy — namespaces, kinds, cluster-scoped — and its project's limits
// hold for prunes as for applies (kept, named in the refusal, never in the
// deletion list), and what may go goes in reverse wave order.

import { describe, expect, it } from 'vitest';
import { PolicySchema, SyncPolicySchema } from '../../../lib/model/application.js';
import { FIELD_MANAGER, type KubeObject, LABEL_APP, objectKey } from '../../../lib/model/object.js';
import { ProjectSchema } from '../../../lib/model/project.js';
import type { InventoryEntry } from '../../../lib/model/status.js';
import { appliedByDriftless, decidePrune, type PruneCandidate } from '../../../lib/prune/index.js';

const APP = 'web';

function applied(apiVersion: string, kind: string, name: string, namespace?: string): KubeObject {
  return {
    apiVersion,
    kind,
    metadata: {
      name,
      ...(namespace ? { namespace } : {}),
      labels: { [LABEL_APP]: APP },
      managedFields: [{ manager: FIELD_MANAGER, operation: 'Apply', apiVersion }],
    },
  };
}

const cm = (name: string) => applied('v1', 'ConfigMap', name, 'team-a');
const secret = applied('v1', 'Secret', 'token', 'team-a');
const role = applied('rbac.authorization.k8s.io/v1', 'ClusterRole', 'reader');
const elsewhere = applied('v1', 'ConfigMap', 'far', 'team-b');

function candidates(...objects: KubeObject[]): PruneCandidate[] {
  return objects.map((live) => ({ key: objectKey(live), live }));
}

function inventory(waves: [KubeObject, number][]): InventoryEntry[] {
  return waves.map(([o, wave]) => ({
    key: objectKey(o),
    apiVersion: o.apiVersion,
    wave,
    desiredHash: 'h',
    resourceVersion: '1',
  }));
}

function decide(objects: KubeObject[], policy: object, waves: [KubeObject, number][] = []) {
  return decidePrune(candidates(...objects), inventory(waves), {
    app: APP,
    syncPolicy: SyncPolicySchema.parse({ prune: true }),
    policy: PolicySchema.parse(policy),
  });
}

describe('prune decision', () => {
  it('keeps a kind the policy does not allow, naming it', () => {
    const d = decide([cm('a'), secret], { kinds: ['ConfigMap'] });
    expect(d.toDelete.map((c) => c.key)).toEqual([objectKey(cm('a'))]);
    expect(d.kept).toEqual([
      {
        key: objectKey(secret),
        code: 'ForbiddenByPolicy',
        reason: `prune refused by the application's policy: kind Secret is not allowed for application ${APP} (allowed: ConfigMap)`,
      },
    ]);
    expect(d.refusal).toContain(`refused to prune Secret/team-a/token`);
  });

  it('keeps a cluster-scoped object when the policy allows none', () => {
    const d = decide([cm('a'), role], { clusterScoped: false });
    expect(d.toDelete.map((c) => c.key)).toEqual([objectKey(cm('a'))]);
    expect(d.kept.map((k) => [k.key, k.code])).toEqual([[objectKey(role), 'ForbiddenByPolicy']]);
    expect(d.refusal).toMatch(/cluster-scoped ClusterRole is not allowed/);
  });

  it("keeps what the project's limits no longer allow on the cluster", () => {
    const project = ProjectSchema.parse({
      apiVersion: 'driftless.dev/v1',
      kind: 'Project',
      metadata: { name: 'team' },
      spec: { sourceRepos: ['*'], destinations: [{ cluster: 'prod', namespace: 'team-a' }] },
    });
    const d = decidePrune(candidates(cm('a'), elsewhere), [], {
      app: APP,
      syncPolicy: SyncPolicySchema.parse({ prune: true }),
      policy: PolicySchema.parse({}),
      project: { project, cluster: 'prod' },
    });
    expect(d.toDelete.map((c) => c.key)).toEqual([objectKey(cm('a'))]);
    expect(d.kept.map((k) => [k.key, k.code])).toEqual([
      [objectKey(elsewhere), 'ForbiddenByPolicy'],
    ]);
    expect(d.refusal).toMatch(/namespace team-b is not allowed by project team on cluster prod/);
  });

  it('deletes in reverse wave order', () => {
    const [early, middle, late] = [cm('early'), cm('middle'), cm('late')];
    const d = decide([middle, early, late], {}, [
      [early, -1],
      [middle, 0],
      [late, 5],
    ]);
    expect(d.toDelete.map((c) => c.live.metadata.name)).toEqual(['late', 'middle', 'early']);
  });
});

describe('appliedByDriftless', () => {
  it("needs both the app's label and a driftless Apply entry", () => {
    expect(appliedByDriftless(cm('a'), APP)).toBe(true);
    expect(appliedByDriftless(cm('a'), 'other')).toBe(false);
    const byKubectl = cm('a');
    byKubectl.metadata.managedFields = [
      { manager: 'kubectl-client-side-apply', operation: 'Update' },
    ];
    expect(appliedByDriftless(byKubectl, APP)).toBe(false);
    const onlyStatus = cm('a');
    onlyStatus.metadata.managedFields = [
      { manager: FIELD_MANAGER, operation: 'Apply', subresource: 'status' },
    ];
    expect(appliedByDriftless(onlyStatus, APP)).toBe(false);
  });
});
