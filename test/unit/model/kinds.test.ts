import { describe, expect, it } from 'vitest';
import {
  groupKind,
  groupKindOf,
  isCustomResourceDefinition,
  isFoundationKind,
  isPrerequisiteKind,
  isPrunedLast,
  isPruneGuardedKind,
  KIND_ORDER,
} from '../../../lib/model/kinds.js';

const typed = (gk: string) => {
  const [group, kind] = gk.split('/') as [string, string];
  return { apiVersion: group ? `${group}/v1` : 'v1', kind };
};

describe('group/kind keys', () => {
  it('name a kind whatever its version, the core group empty', () => {
    expect(groupKind('', 'Namespace')).toBe('/Namespace');
    expect(groupKindOf({ apiVersion: 'v1', kind: 'ConfigMap' })).toBe('/ConfigMap');
    expect(groupKindOf({ apiVersion: 'apps/v1', kind: 'Deployment' })).toBe('apps/Deployment');
    expect(groupKindOf({ apiVersion: 'apiextensions.k8s.io/v1beta1', kind: 'X' })).toBe(
      groupKindOf({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'X' }),
    );
  });
});

describe('kind order', () => {
  // The tables lib/apply/plan.ts, lib/apply/index.ts and lib/prune/index.ts had.
  const foundation = ['/Namespace', 'apiextensions.k8s.io/CustomResourceDefinition'];
  const prerequisite = [
    '/ServiceAccount',
    '/Secret',
    '/ConfigMap',
    '/PersistentVolume',
    '/PersistentVolumeClaim',
    '/LimitRange',
    '/ResourceQuota',
    'rbac.authorization.k8s.io/Role',
    'rbac.authorization.k8s.io/ClusterRole',
    'rbac.authorization.k8s.io/RoleBinding',
    'rbac.authorization.k8s.io/ClusterRoleBinding',
    'storage.k8s.io/StorageClass',
    'scheduling.k8s.io/PriorityClass',
    'networking.k8s.io/NetworkPolicy',
  ];
  const pruneGuarded = [
    '/Namespace',
    '/PersistentVolumeClaim',
    'apiextensions.k8s.io/CustomResourceDefinition',
  ];
  const pruneLast = ['/Namespace', 'apiextensions.k8s.io/CustomResourceDefinition'];
  const all = [...KIND_ORDER.keys(), 'apps/Deployment', '/Pod', 'example.com/Namespace'];

  it.each([
    ['foundation', isFoundationKind, foundation],
    ['prerequisite', isPrerequisiteKind, prerequisite],
    ['prune-guarded', isPruneGuardedKind, pruneGuarded],
    ['pruned last', isPrunedLast, pruneLast],
  ] as const)('%s kinds are exactly the ones listed', (_, is, kinds) => {
    expect(all.filter((gk) => is(typed(gk))).sort()).toEqual([...kinds].sort());
  });

  it('goes by group as well as kind', () => {
    expect(isFoundationKind({ apiVersion: 'example.com/v1', kind: 'Namespace' })).toBe(false);
    expect(isPrerequisiteKind({ apiVersion: 'example.com/v1', kind: 'Secret' })).toBe(false);
  });

  it('knows a CRD by its group and kind, whatever the version', () => {
    const crd = (apiVersion: string) => ({ apiVersion, kind: 'CustomResourceDefinition' });
    expect(isCustomResourceDefinition(crd('apiextensions.k8s.io/v1'))).toBe(true);
    expect(isCustomResourceDefinition(crd('apiextensions.k8s.io/v1beta1'))).toBe(true);
    expect(isCustomResourceDefinition(crd('example.com/v1'))).toBe(false);
    expect(isCustomResourceDefinition({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CRD' })).toBe(
      false,
    );
  });
});
