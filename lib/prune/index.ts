// Pruning: what the previous inventory has, the desired state no longer has,
// and Driftless applied (still labelled for the app, with a `driftless` Apply
// entry in managedFields) — nothing else is ever a candidate (checkDrift).
// Of those, kept on purpose and reported: objects opted out by annotation
// (Prune=false, Flux's prune: disabled or reconcile: disabled), objects
// outside the app's policy (after the policy was narrowed), `Prune=confirm`
// objects until a sync allows the prune, everything while the app's prune
// policy is off. The guard refuses more objects than the app's pruneLimit, or
// any Namespace, PersistentVolumeClaim or CRD, until the app or a manual sync
// allows it. The rest is deleted in reverse wave order; `PruneLast=true`
// objects after the others, Namespaces and CRDs last of all.
//
// A cascade (an app or a destination deleted with cascade) prunes the whole
// inventory through the same decision: the app's prune policy and
// Prune=confirm do not hold it back (deleting was asked for), Argo CD's
// `Delete=false` keeps an object, Argo CD's `Prune=false` does not (it governs
// pruning, not deletion, as in Argo CD), Flux's `prune: disabled` and
// Driftless's `driftless.dev/prune: "false"` keep it (as in Flux).

import { mapBounded } from '../concurrency.js';
import { asDriftlessError, DriftlessError } from '../errors.js';
import {
  ANNOTATION_SYNC_OPTIONS,
  ARGO_SYNC_OPTIONS,
  DEFAULT_SYNC_WAVE,
  type SyncOptions,
  syncOptionsOrDefault,
} from '../model/annotations.js';
import { type AppPolicy, policyViolation, type SyncPolicy } from '../model/application.js';
import { isPrunedLast, isPruneGuardedKind } from '../model/kinds.js';
import {
  describeObject,
  describeRef,
  FIELD_MANAGER,
  type KubeObject,
  LABEL_APP,
  parseRefKey,
} from '../model/object.js';
import { objectRefusal, type Project } from '../model/project.js';
import type { InventoryEntry } from '../model/status.js';
import { type ClusterClient, DEFAULT_REQUEST_CONCURRENCY } from '../ports/cluster.js';

/**
 * Whether Driftless applied this live object for `app`: it carries the app's
 * label and a `driftless` Apply entry in managedFields. A copy made with
 * kubectl, Endpoints labelled from a Service by the endpoints controller, an
 * object a controller made from ours: none has both.
 */
export function appliedByDriftless(live: KubeObject, app: string): boolean {
  if (live.metadata.labels?.[LABEL_APP] !== app) return false;
  return (live.metadata.managedFields ?? []).some(
    (m) => m.manager === FIELD_MANAGER && m.operation === 'Apply' && !m.subresource,
  );
}

export interface PruneCandidate {
  key: string;
  live: KubeObject;
}

/** Why an object that would be pruned is kept. */
export type KeptCode =
  /** Annotated not to be pruned (or, in a cascade, not to be deleted). */
  | 'OptedOut'
  /** The app's prune policy is off. */
  | 'PruneOff'
  /** `Prune=confirm`: waits for a sync that allows the prune. */
  | 'AwaitingConfirmation'
  /** Outside the app's policy (namespaces, kinds, cluster-scoped). */
  | 'ForbiddenByPolicy'
  /** The guard refused (pruneLimit, protected kind). */
  | 'Guarded'
  | 'AlreadyDeleting';

export interface KeptObject {
  key: string;
  code: KeptCode;
  reason: string;
}

export interface PruneDecision {
  /** In deletion order. */
  toDelete: PruneCandidate[];
  /** Kept on purpose, with the reason (annotation, policy off, guard). */
  kept: KeptObject[];
  /** Set when the guard or the app's policy refused (part of) the prune: what and what to change. */
  refusal?: string;
}

export interface PruneOverride {
  /** A manual sync that explicitly allows what the guard would refuse (and confirms Prune=confirm). */
  allowGuarded?: boolean;
  /** The app or the destination is being deleted: prune the whole inventory. */
  cascade?: boolean;
}

export interface PruneContext {
  app: string;
  syncPolicy: Pick<SyncPolicy, 'prune' | 'pruneLimit' | 'allowPruneOf'>;
  policy: AppPolicy;
  /** The project's limits on the target's cluster: nothing outside them is pruned either. */
  project?: { project: Project; cluster: string };
}

/** The annotation that keeps the object, for a prune or (cascade) a deletion; undefined if none. */
function keptBy(options: SyncOptions, live: KubeObject, cascade: boolean): string | undefined {
  const quote = (annotation: string | undefined) =>
    annotation && `annotated ${annotation}: "${live.metadata.annotations?.[annotation] ?? ''}"`;
  if (!options.reconcile) return quote(options.from.reconcile);
  if (cascade) {
    if (options.keepOnDelete) return quote(options.from.keepOnDelete);
    // Argo CD's Prune=false governs pruning only; Flux's prune: disabled (and
    // ours) also keeps the object when its app is deleted.
    const fromSyncOptions =
      options.from.prune === ARGO_SYNC_OPTIONS || options.from.prune === ANNOTATION_SYNC_OPTIONS;
    if (options.prune === 'never' && !fromSyncOptions) return quote(options.from.prune);
    return undefined;
  }
  if (options.prune === 'never') return quote(options.from.prune);
  return undefined;
}

export function decidePrune(
  candidates: PruneCandidate[],
  inventory: InventoryEntry[],
  ctx: PruneContext,
  override: PruneOverride = {},
): PruneDecision {
  const { syncPolicy } = ctx;
  const cascade = override.cascade === true;
  const kept: KeptObject[] = [];
  const refusals: string[] = [];
  const eligible: PruneCandidate[] = [];
  const forbidden: string[] = [];
  for (const c of candidates) {
    const options = syncOptionsOrDefault(c.live);
    const optOut = keptBy(options, c.live, cascade);
    const ref = parseRefKey(c.key);
    const violation =
      policyViolation(ctx.policy, ctx.app, { ...ref, namespaced: !!ref.namespace }) ??
      (ctx.project &&
        objectRefusal(ctx.project.project, ctx.project.cluster, {
          ...ref,
          namespaced: !!ref.namespace,
        }));
    if (optOut) {
      kept.push({ key: c.key, code: 'OptedOut', reason: optOut });
    } else if (violation) {
      kept.push({
        key: c.key,
        code: 'ForbiddenByPolicy',
        reason: `prune refused by the application's policy: ${violation.message}`,
      });
      forbidden.push(`${describeRef(ref)} (${violation.message})`);
    } else if (!cascade && !syncPolicy.prune && !override.allowGuarded) {
      kept.push({
        key: c.key,
        code: 'PruneOff',
        reason: 'would be pruned, but prune is off for this application',
      });
    } else if (!cascade && options.prune === 'confirm' && !override.allowGuarded) {
      kept.push({
        key: c.key,
        code: 'AwaitingConfirmation',
        reason: `waiting for confirmation to prune (annotated ${options.from.prune}: Prune=confirm): run a manual sync that allows the prune`,
      });
    } else if (c.live.metadata.deletionTimestamp) {
      kept.push({ key: c.key, code: 'AlreadyDeleting', reason: 'already being deleted' });
    } else {
      eligible.push(c);
    }
  }
  if (forbidden.length) {
    refusals.push(
      `refused to prune ${forbidden.join(', ')}: outside the application's policy (spec.policy). ` +
        'Widen the policy to let Driftless delete them, or delete them yourself.',
    );
  }
  const refusalOf = () => (refusals.length ? refusals.join(' ') : undefined);
  if (eligible.length === 0) return { toDelete: [], kept, refusal: refusalOf() };

  let toDelete = eligible;
  const remedy = cascade
    ? 'delete again with cascade and prune allowed (driftless apps delete NAME --cascade --prune)'
    : 'run a manual sync that allows the prune';
  if (!override.allowGuarded) {
    if (syncPolicy.pruneLimit > 0 && eligible.length > syncPolicy.pruneLimit) {
      refusals.push(
        `refused to prune ${eligible.length} objects: more than the application's pruneLimit of ${syncPolicy.pruneLimit}. ` +
          `Raise spec.syncPolicy.pruneLimit or ${remedy}.`,
      );
      for (const c of eligible)
        kept.push({
          key: c.key,
          code: 'Guarded',
          reason: 'prune refused by the guard (pruneLimit)',
        });
      return { toDelete: [], kept, refusal: refusalOf() };
    }
    const guarded = eligible.filter(
      (c) => isPruneGuardedKind(c.live) && !syncPolicy.allowPruneOf.includes(c.live.kind),
    );
    if (guarded.length) {
      const names = guarded.map((c) => describeObject(c.live));
      refusals.push(
        `refused to prune ${names.join(', ')}: deleting a Namespace, PersistentVolumeClaim or CRD destroys data. ` +
          `Add the kind to spec.syncPolicy.allowPruneOf or ${remedy}.`,
      );
      for (const c of guarded)
        kept.push({
          key: c.key,
          code: 'Guarded',
          reason: 'prune refused by the guard (protected kind)',
        });
      toDelete = eligible.filter((c) => !guarded.includes(c));
    }
  }

  const waveOf = new Map(inventory.map((i) => [i.key, i.wave]));
  toDelete = [...toDelete].sort(
    (a, b) =>
      pruneRank(a.live) - pruneRank(b.live) ||
      (waveOf.get(b.key) ?? DEFAULT_SYNC_WAVE) - (waveOf.get(a.key) ?? DEFAULT_SYNC_WAVE) ||
      (a.key < b.key ? -1 : 1),
  );
  return { toDelete, kept, refusal: refusalOf() };
}

/** 0: in reverse wave order; 1: `PruneLast=true`, after those; 2: Namespaces and CRDs, last. */
function pruneRank(live: KubeObject): number {
  if (isPrunedLast(live)) return 2;
  return syncOptionsOrDefault(live).pruneLast ? 1 : 0;
}

/** Deletes in order: each group (rank, then wave by inventory) completely before the next. */
export async function executePrune(
  client: ClusterClient,
  decision: PruneDecision,
  inventory: InventoryEntry[],
  concurrency = DEFAULT_REQUEST_CONCURRENCY,
  onDeleted?: (key: string) => void,
): Promise<string[]> {
  const waveOf = new Map(inventory.map((i) => [i.key, i.wave]));
  const groups: PruneCandidate[][] = [];
  let lastGroup = '';
  for (const c of decision.toDelete) {
    const g = `${pruneRank(c.live)}:${waveOf.get(c.key) ?? DEFAULT_SYNC_WAVE}`;
    if (g !== lastGroup) groups.push([]);
    lastGroup = g;
    groups[groups.length - 1]?.push(c);
  }
  const deleted: string[] = [];
  for (const group of groups) {
    await mapBounded(group, concurrency, async (c) => {
      const ref = parseRefKey(c.key);
      try {
        await client.delete(
          { ...ref, apiVersion: c.live.apiVersion },
          { propagationPolicy: 'Background', uid: c.live.metadata.uid },
        );
      } catch (e) {
        const err = asDriftlessError(e);
        throw new DriftlessError(
          err.reason,
          `prune failed: ${err.message}`,
          { object: describeRef(ref) },
          { cause: e },
        );
      }
      deleted.push(c.key);
      onDeleted?.(c.key);
    });
  }
  return deleted;
}
