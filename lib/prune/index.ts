// Pruning: what the previous sync applied (or still carries our label) and the
// desired state no longer has. Deleted in reverse wave order, Namespaces and
// CRDs last; never an object annotated driftless.dev/prune: "false", never
// when the app's prune policy is off, and behind a guard: more objects than
// the app's limit, or any Namespace, PersistentVolumeClaim or CRD, is refused
// (with a status saying why) until the app or a manual sync allows it.

import { mapBounded } from '../concurrency.js';
import { asDriftlessError, DriftlessError } from '../errors.js';
import { DEFAULT_SYNC_WAVE, pruneOptOut } from '../model/annotations.js';
import type { SyncPolicy } from '../model/application.js';
import { isPrunedLast, isPruneGuardedKind } from '../model/kinds.js';
import { describeObject, describeRef, type KubeObject, parseRefKey } from '../model/object.js';
import type { InventoryEntry } from '../model/status.js';
import { type ClusterClient, DEFAULT_REQUEST_CONCURRENCY } from '../ports/cluster.js';

export interface PruneCandidate {
  key: string;
  live: KubeObject;
}

export interface PruneDecision {
  /** In deletion order. */
  toDelete: PruneCandidate[];
  /** Kept on purpose, with the reason (annotation, policy off, guard). */
  kept: { key: string; reason: string }[];
  /** Set when the guard refused (part of) the prune: what to change to allow it. */
  refusal?: string;
}

export interface PruneOverride {
  /** A manual sync that explicitly allows what the guard would refuse. */
  allowGuarded?: boolean;
}

export function decidePrune(
  candidates: PruneCandidate[],
  inventory: InventoryEntry[],
  policy: Pick<SyncPolicy, 'prune' | 'pruneLimit' | 'allowPruneOf'>,
  override: PruneOverride = {},
): PruneDecision {
  const kept: PruneDecision['kept'] = [];
  const eligible: PruneCandidate[] = [];
  for (const c of candidates) {
    const optOut = pruneOptOut(c.live);
    if (optOut) {
      kept.push({ key: c.key, reason: `annotated ${optOut.annotation}: "${optOut.value}"` });
    } else if (!policy.prune && !override.allowGuarded) {
      kept.push({ key: c.key, reason: 'would be pruned, but prune is off for this application' });
    } else if (c.live.metadata.deletionTimestamp) {
      kept.push({ key: c.key, reason: 'already being deleted' });
    } else {
      eligible.push(c);
    }
  }
  if (eligible.length === 0) return { toDelete: [], kept };

  let refusal: string | undefined;
  let toDelete = eligible;
  if (!override.allowGuarded) {
    if (policy.pruneLimit > 0 && eligible.length > policy.pruneLimit) {
      refusal =
        `refused to prune ${eligible.length} objects: more than the application's pruneLimit of ${policy.pruneLimit}. ` +
        'Raise spec.syncPolicy.pruneLimit or run a manual sync that allows the prune.';
      for (const c of eligible)
        kept.push({ key: c.key, reason: 'prune refused by the guard (pruneLimit)' });
      return { toDelete: [], kept, refusal };
    }
    const guarded = eligible.filter(
      (c) => isPruneGuardedKind(c.live) && !policy.allowPruneOf.includes(c.live.kind),
    );
    if (guarded.length) {
      const names = guarded.map((c) => describeObject(c.live));
      refusal =
        `refused to prune ${names.join(', ')}: deleting a Namespace, PersistentVolumeClaim or CRD destroys data. ` +
        'Add the kind to spec.syncPolicy.allowPruneOf or run a manual sync that allows the prune.';
      for (const c of guarded)
        kept.push({ key: c.key, reason: 'prune refused by the guard (protected kind)' });
      toDelete = eligible.filter((c) => !guarded.includes(c));
    }
  }

  const waveOf = new Map(inventory.map((i) => [i.key, i.wave]));
  const rank = (c: PruneCandidate) => (isPrunedLast(c.live) ? 1 : 0);
  toDelete = [...toDelete].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (waveOf.get(b.key) ?? DEFAULT_SYNC_WAVE) - (waveOf.get(a.key) ?? DEFAULT_SYNC_WAVE) ||
      (a.key < b.key ? -1 : 1),
  );
  return { toDelete, kept, refusal };
}

/** Deletes in order: each wave (by inventory) completely before the next lower one. */
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
    const g = `${isPrunedLast(c.live)}:${waveOf.get(c.key) ?? DEFAULT_SYNC_WAVE}`;
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
