// Kinds by the part they play in ordering a sync and a prune, in one table:
// which are applied first, which a step ahead of their wave, which the prune
// guard protects and which are deleted last. And the `group/Kind` key that
// names a kind whatever its version.

import { groupOf } from './object.js';

/** `group/Kind`, the core group empty (`/Namespace`): a kind whatever its version. */
export function groupKind(group: string, kind: string): string {
  return `${group}/${kind}`;
}

/** The `group/Kind` of an object (or of any apiVersion and kind). */
export function groupKindOf(obj: { apiVersion: string; kind: string }): string {
  return groupKind(groupOf(obj.apiVersion), obj.kind);
}

/** What a kind's objects do differently when syncing and pruning. */
export interface KindOrder {
  /** Applied before everything else, PreSync hooks included: others live in them or are defined by them. */
  foundation?: true;
  /** Applied a step ahead of the rest of their wave, which may reference them. */
  prerequisite?: true;
  /** Pruning them destroys data: refused unless the app's allowPruneOf names the kind. */
  pruneGuarded?: true;
  /** Deleted after everything else a prune deletes. */
  pruneLast?: true;
}

/** By `group/Kind`; a kind not listed has no special order. */
export const KIND_ORDER: ReadonlyMap<string, Readonly<KindOrder>> = new Map<string, KindOrder>([
  ['/Namespace', { foundation: true, pruneGuarded: true, pruneLast: true }],
  [
    'apiextensions.k8s.io/CustomResourceDefinition',
    { foundation: true, pruneGuarded: true, pruneLast: true },
  ],
  ['/PersistentVolumeClaim', { prerequisite: true, pruneGuarded: true }],
  ['/ServiceAccount', { prerequisite: true }],
  ['/Secret', { prerequisite: true }],
  ['/ConfigMap', { prerequisite: true }],
  ['/PersistentVolume', { prerequisite: true }],
  ['/LimitRange', { prerequisite: true }],
  ['/ResourceQuota', { prerequisite: true }],
  ['rbac.authorization.k8s.io/Role', { prerequisite: true }],
  ['rbac.authorization.k8s.io/ClusterRole', { prerequisite: true }],
  ['rbac.authorization.k8s.io/RoleBinding', { prerequisite: true }],
  ['rbac.authorization.k8s.io/ClusterRoleBinding', { prerequisite: true }],
  ['storage.k8s.io/StorageClass', { prerequisite: true }],
  ['scheduling.k8s.io/PriorityClass', { prerequisite: true }],
  ['networking.k8s.io/NetworkPolicy', { prerequisite: true }],
]);

type Typed = { apiVersion: string; kind: string };

/** A CustomResourceDefinition (of apiextensions.k8s.io, whatever its version). */
export function isCustomResourceDefinition(obj: Typed): boolean {
  return groupKindOf(obj) === 'apiextensions.k8s.io/CustomResourceDefinition';
}

function orderOf(obj: Typed): Readonly<KindOrder> | undefined {
  return KIND_ORDER.get(groupKindOf(obj));
}

/** Namespaces and CRDs: applied before everything else. */
export function isFoundationKind(obj: Typed): boolean {
  return orderOf(obj)?.foundation === true;
}

/** ServiceAccounts, Secrets, ConfigMaps, RBAC, storage...: applied ahead of their wave's workloads. */
export function isPrerequisiteKind(obj: Typed): boolean {
  return orderOf(obj)?.prerequisite === true;
}

/** Namespaces, PersistentVolumeClaims and CRDs: the prune guard refuses to delete them. */
export function isPruneGuardedKind(obj: Typed): boolean {
  return orderOf(obj)?.pruneGuarded === true;
}

/** Namespaces and CRDs: pruned after everything else. */
export function isPrunedLast(obj: Typed): boolean {
  return orderOf(obj)?.pruneLast === true;
}
