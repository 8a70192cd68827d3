// The status a reconcile writes, built by one pure function from what its
// steps found and did (the drift report, the objects applied, the operation),
// and the small judgements every step shares: whether an object needs an
// apply, whether an extra counts, the comparison, when to look again.

import type { SyncPlan } from '../apply/plan.js';
import { type DriftReport, desiredFingerprint, type ObjectDrift } from '../diff/index.js';
import { appHealth, evaluateHealth } from '../health/index.js';
import {
  isPruneDisabled,
  pruneOptOut,
  pruneOptOutShowsOutOfSync,
  syncOptionsOrDefault,
} from '../model/annotations.js';
import type { IgnoreDifference } from '../model/application.js';
import { metadataFingerprint } from '../model/fingerprint.js';
import { type KubeObject, parseRefKey } from '../model/object.js';
import type {
  HealthResult,
  InventoryEntry,
  ObservedObject,
  ObservedState,
  OperationResult,
  ResourceStatus,
  TargetStatus,
} from '../model/status.js';
import type { TargetId } from '../model/target.js';

/** When to look again at a Progressing object that names no time. */
export const PROGRESSING_RECHECK_MS = 10_000;

export function emptyStatus(target: TargetId): TargetStatus {
  return {
    app: target.app,
    cluster: target.cluster,
    sync: 'Unknown',
    health: 'Unknown',
    resources: [],
    inventory: [],
    conditions: [],
  };
}

/**
 * Synced when live matches desired: every desired object applied or found in
 * sync, and no extra left that would be pruned. Independent of health and of
 * the operation.
 */
export function comparisonOf(objects: ObjectDrift[]): TargetStatus['sync'] {
  const differs = objects.some(
    (o) =>
      o.state === 'OutOfSync' ||
      o.state === 'Missing' ||
      isCountedExtra(o) ||
      // Kept by Argo CD's Prune=false: still not what Git says (Argo CD's semantics).
      (o.state === 'Extra' && pruneOptOutShowsOutOfSync(o.live)) ||
      // Another app's object this one declares: not applied, so not in sync.
      !!o.sharedWith,
  );
  return differs ? 'OutOfSync' : 'Synced';
}

export function needsApply(o: ObjectDrift | undefined): boolean {
  return !o || o.state === 'Missing' || (o.state === 'OutOfSync' && !o.sharedWith);
}

/** An Extra that makes the app OutOfSync: not kept by annotation, not `IgnoreExtraneous`. */
export function isCountedExtra(o: ObjectDrift): boolean {
  if (o.state !== 'Extra' || isPruneDisabled(o.live)) return false;
  return !syncOptionsOrDefault(o.live).ignoreExtraneous;
}

/** The soonest recheck among Progressing objects. */
export function recheckOf(status: TargetStatus): number | undefined {
  if (status.health !== 'Progressing') return undefined;
  const delays = status.resources
    .filter((r) => r.health?.status === 'Progressing')
    .map((r) => r.health?.recheckAfterMs ?? PROGRESSING_RECHECK_MS);
  return delays.length ? Math.min(...delays) : PROGRESSING_RECHECK_MS;
}

/** Each object's health (live as applied, else as found) and the app's, the worst of them. */
export function healthOf(objects: ObjectDrift[], applied: ReadonlyMap<string, KubeObject>) {
  const byKey = new Map<string, HealthResult>();
  for (const o of objects) {
    // Extras are no part of the app's health, except those kept with
    // IgnoreExtraneous: as Argo CD documents, that option "only affects the
    // sync status. If the resource's health is degraded, then the app will
    // also be degraded."
    if (o.state === 'Extra' && !(o.live && syncOptionsOrDefault(o.live).ignoreExtraneous)) continue;
    const live = applied.get(o.key) ?? o.live;
    if (o.leftAlone && !live) continue; // not ours to create (ssa: Ignore, reconcile: disabled)
    byKey.set(
      o.key,
      live ? evaluateHealth(live) : { status: 'Missing', message: 'not found in the cluster' },
    );
  }
  return { byKey, app: appHealth([...byKey].map(([key, health]) => ({ key, health }))) };
}

/** Why a prune left an object: the annotation that keeps it, as Argo CD's sync status shows. */
function pruneSkippedBecause(live: KubeObject | undefined): string {
  const kept = pruneOptOut(live);
  return `annotated ${kept?.annotation}: "${kept?.value}"`;
}

export function resourceStatuses(
  objects: ObjectDrift[],
  plan: SyncPlan,
  health: ReadonlyMap<string, HealthResult>,
  applied: ReadonlyMap<string, KubeObject>,
): ResourceStatus[] {
  const waves = new Map(plan.resources.map((d) => [d.key, d.wave]));
  return objects.map((o) => {
    const ref = parseRefKey(o.key);
    const live = applied.get(o.key) ?? o.live;
    return {
      key: o.key,
      apiVersion: (o.desired?.object ?? live)?.apiVersion ?? '',
      kind: ref.kind,
      namespace: ref.namespace,
      name: ref.name,
      sync: applied.has(o.key) ? 'Synced' : o.state,
      health: health.get(o.key),
      reason: o.reason,
      wave: waves.get(o.key),
      ...(o.state === 'Extra' && isPruneDisabled(o.live)
        ? { pruneSkipped: pruneSkippedBecause(o.live) }
        : {}),
    };
  });
}

/**
 * The inventory the next drift check starts from: every desired object with
 * the hash and resourceVersion it is known to be in sync at. An object seen
 * OutOfSync keeps its old entry (so it is checked again, not fast-pathed);
 * extras not pruned stay tracked.
 */
export function inventoryAfter(
  drift: DriftReport,
  plan: SyncPlan,
  applied: ReadonlyMap<string, KubeObject>,
  previous: InventoryEntry[],
  ignore: IgnoreDifference[],
): InventoryEntry[] {
  const prevByKey = new Map(previous.map((i) => [i.key, i]));
  const out: InventoryEntry[] = [];
  const byKey = new Map(drift.objects.map((o) => [o.key, o]));
  for (const d of plan.resources) {
    const o = byKey.get(d.key);
    const live = applied.get(d.key) ?? (o?.state === 'Synced' ? o.live : undefined);
    if (live?.metadata.resourceVersion) {
      out.push({
        key: d.key,
        apiVersion: d.object.apiVersion,
        desiredHash: desiredFingerprint(d, ignore),
        resourceVersion: live.metadata.resourceVersion,
        generation: live.metadata.generation,
        wave: d.wave,
        uid: live.metadata.uid,
      });
    } else {
      const old = prevByKey.get(d.key);
      if (old) out.push(old);
    }
  }
  for (const o of drift.objects) {
    if (o.state !== 'Extra') continue;
    const old = prevByKey.get(o.key);
    if (old) out.push(old);
    else if (o.live) {
      out.push({
        key: o.key,
        apiVersion: o.live.apiVersion,
        desiredHash: '',
        resourceVersion: o.live.metadata.resourceVersion ?? '',
        wave: 0,
        uid: o.live.metadata.uid,
      });
    }
  }
  return out;
}

export interface StatusInputs {
  /** The status as this reconcile started it (the previous one, conditions reset). */
  base: TargetStatus;
  /** The previous status, as stored. */
  prev: TargetStatus | undefined;
  drift: DriftReport;
  plan: SyncPlan;
  /** Objects this reconcile applied, as the API server returned them. */
  applied: ReadonlyMap<string, KubeObject>;
  /** The operation to record; none: the previous one stands (a drift check). */
  operation?: OperationResult;
  /** The commit compared against. */
  commit: string;
  ignore: IgnoreDifference[];
  /** ISO time of the check. */
  now: string;
}

/**
 * The one builder of a reconcile's status: the comparison, health (and since
 * when it has been Progressing), per-resource status, the inventory and the
 * operation, from the steps' results. Conditions are the caller's: they are
 * on `base` already.
 */
export function buildStatus(inp: StatusInputs): TargetStatus {
  const health = healthOf(inp.drift.objects, inp.applied);
  const status: TargetStatus = {
    ...inp.base,
    wantedRevision: inp.base.wantedRevision ?? inp.commit,
    // The comparison only: whatever the operation's phase and the health.
    sync: comparisonOf(inp.drift.objects),
    ...(inp.operation ? { operation: { ...inp.operation } } : {}),
    lastCheckedAt: inp.now,
    health: health.app.status,
    healthMessage: health.app.message,
  };
  if (health.app.status !== 'Progressing') delete status.progressingSince;
  else if (inp.prev?.health !== 'Progressing' || !inp.prev.progressingSince) {
    status.progressingSince = inp.now;
  }
  status.resources = resourceStatuses(inp.drift.objects, inp.plan, health.byKey, inp.applied);
  status.inventory = inventoryAfter(
    inp.drift,
    inp.plan,
    inp.applied,
    inp.prev?.inventory ?? [],
    inp.ignore,
  );
  status.observed = observedOf(
    inp.drift,
    inp.plan,
    inp.applied,
    health.byKey,
    status.wantedRevision ?? inp.commit,
    status.operation?.phase === 'Running',
  );
  return status;
}

/**
 * What the cluster's sweep compares the next ticks against: every desired
 * object as this check left it (after its applies), or missing.
 */
export function observedOf(
  drift: DriftReport,
  plan: SyncPlan,
  applied: ReadonlyMap<string, KubeObject>,
  health: ReadonlyMap<string, HealthResult>,
  revision: string,
  running: boolean,
): ObservedState {
  const byKey = new Map(drift.objects.map((o) => [o.key, o]));
  const objects: ObservedObject[] = plan.resources.map((d) => {
    const live = applied.get(d.key) ?? byKey.get(d.key)?.live;
    const h = health.get(d.key)?.status ?? '';
    if (!live) return [d.key, d.object.apiVersion, '', '', h];
    return [
      d.key,
      d.object.apiVersion,
      live.metadata.resourceVersion ?? '',
      metadataFingerprint(live.metadata),
      h,
    ];
  });
  return { revision, ...(running ? { running: true } : {}), objects };
}

/**
 * The view after a check that could not compare (Git or the cluster
 * unreachable, a render that fails): the objects as last seen, no revision,
 * so the sweep queues the target again when it is next due — not every tick.
 */
export function failedView(previous: ObservedState | undefined): ObservedState {
  return { objects: previous?.objects ?? [], revision: '' };
}

/** Whether two views are the same (the worker writes a view only when it changed). */
export function sameObserved(a: ObservedState | undefined, b: ObservedState | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
