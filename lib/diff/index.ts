// The drift check for one target: one LIST per kind (label selector), then per
// object, cheapest test first:
//   1. fast path: desired hash and live resourceVersion equal what the last
//      successful sync recorded → Synced, nothing else to do;
//   2. local compare: every value we set is still there (normalized), we still
//      own every field we set, and we own no field we no longer set → Synced;
//   3. otherwise a server-side dry-run apply says what applying would change:
//      nothing → Synced (the suspicion was wrong); something → OutOfSync,
//      with the changed paths and a readable diff.
// A no-op check therefore costs O(kinds) requests, not O(objects).

import { createHash } from 'node:crypto';
import { mapBounded } from '../concurrency.js';
import { DriftlessError } from '../errors.js';
import type { SyncOptions } from '../model/annotations.js';
import type { IgnoreDifference } from '../model/application.js';
import { canonicalJson } from '../model/canonical.js';
import { groupKindOf } from '../model/kinds.js';
import {
  describeRef,
  FIELD_MANAGER,
  groupOf,
  type KubeObject,
  LABEL_APP,
  objectKey,
  parseRefKey,
} from '../model/object.js';
import type { InventoryEntry, ResourceSyncState } from '../model/status.js';
import {
  type ClusterClient,
  DEFAULT_REQUEST_CONCURRENCY,
  isImmutableFieldError,
} from '../ports/cluster.js';
import { compareDesired } from './compare.js';
import {
  fieldsOwnedBy,
  fieldsOwnedByAny,
  ownedNotDesired,
  unownedLeaves,
  withoutFields,
  withoutPointer,
} from './fields.js';
import { unifiedDiff, withoutServerFields } from './render.js';

export interface DesiredObject {
  key: string;
  object: KubeObject;
  /** sha256 of the object as prepared for apply. */
  hash: string;
  wave: number;
  /** The object's sync options (Driftless's, Argo CD's and Flux's annotations); defaults when absent. */
  options?: SyncOptions;
  file?: string;
  line?: number;
}

export interface ObjectDrift {
  key: string;
  state: ResourceSyncState;
  desired?: DesiredObject;
  live?: KubeObject;
  /** What applying should send: desired minus ignored fields. */
  applyObject?: KubeObject;
  /** Why it is OutOfSync (changed paths), or how Synced was decided. */
  reason?: string;
  /** Unified diff live → after-apply, when requested. */
  diff?: string;
  /** Decided by resourceVersion alone. */
  fastPath?: boolean;
  /** Confirmed by a server-side dry run. */
  dryRun?: boolean;
  /** Neither compared nor applied, by its annotations (ssa: Ignore or IfNotPresent, reconcile: disabled). */
  leftAlone?: boolean;
}

/**
 * Why an object is neither compared nor applied, by its annotations, or
 * undefined: Flux's `ssa: Ignore` and `reconcile: disabled` always, `ssa:
 * IfNotPresent` once it exists (it is created when missing, never updated).
 */
function leftAlone(
  options: SyncOptions | undefined,
  live: KubeObject | undefined,
): string | undefined {
  if (!options) return undefined;
  if (!options.reconcile) return `not reconciled (${options.from.reconcile}: disabled)`;
  if (options.apply === 'Ignore') return `not applied (${options.from.apply}: Ignore)`;
  if (options.apply === 'IfNotPresent' && live) {
    return `exists, and is never updated (${options.from.apply}: IfNotPresent)`;
  }
  return undefined;
}

export interface DriftCheckInput {
  client: ClusterClient;
  app: string;
  desired: DesiredObject[];
  inventory: InventoryEntry[];
  ignore: IgnoreDifference[];
  /** Render unified diffs for OutOfSync and Missing objects (costs a dry run each). */
  withDiff?: boolean;
  /** Concurrent requests (default DEFAULT_REQUEST_CONCURRENCY). */
  concurrency?: number;
}

export interface DriftReport {
  objects: ObjectDrift[];
  /** Live objects by key, as listed. */
  live: Map<string, KubeObject>;
  /** Kinds that the cluster does not serve (yet): their objects are Missing. */
  unknownKinds: string[];
}

/** The key of one LIST: group/version/kind. */
function gvkOf(apiVersion: string, kind: string): string {
  return `${apiVersion}/${kind}`;
}

/** Canonical JSON (sorted keys) → sha256: the identity of a desired object's content. */
export function hashObject(obj: unknown): string {
  return createHash('sha256').update(canonicalJson(obj)).digest('hex');
}

export function appSelector(app: string): string {
  return `${LABEL_APP}=${app}`;
}

function ignoreRulesFor(rules: IgnoreDifference[], obj: KubeObject): IgnoreDifference[] {
  const group = groupOf(obj.apiVersion);
  return rules.filter(
    (r) =>
      r.kind === obj.kind &&
      (r.group ?? '') === group &&
      (!r.name || r.name === obj.metadata.name) &&
      (!r.namespace || r.namespace === (obj.metadata.namespace ?? '')),
  );
}

/**
 * What we apply: the desired object without the fields ignore rules hand to
 * someone else (JSON pointers; fields owned by the named managers on the live
 * object). On creation there is no live object and everything is applied.
 */
export function applyObjectFor(
  desired: KubeObject,
  live: KubeObject | undefined,
  rules: IgnoreDifference[],
): KubeObject {
  const matching = ignoreRulesFor(rules, desired);
  if (!live || matching.length === 0) return desired;
  let out: unknown = desired;
  for (const r of matching) for (const p of r.jsonPointers) out = withoutPointer(out, p);
  const managers = matching.flatMap((r) => r.managedFieldsManagers);
  if (managers.length) out = withoutFields(out, fieldsOwnedByAny(live, managers));
  return out as KubeObject;
}

/**
 * A Secret that an earlier Driftless applied with stringData: we own
 * `stringData.*`, not the `data` keys it became, so removing a key from Git
 * would not remove it (kubernetes#108008). Desired Secrets now carry data
 * only (buildPlan); one apply moves the ownership over. The dry run cannot
 * show this: it differs only in managedFields.
 */
function appliedAsStringData(live: KubeObject): boolean {
  if (live.kind !== 'Secret' || groupOf(live.apiVersion) !== '') return false;
  return 'f:stringData' in (fieldsOwnedBy(live, FIELD_MANAGER, 'Apply') ?? {});
}

/** The part of an object that identity covers and ownership does not. */
function ownershipView(obj: KubeObject): Record<string, unknown> {
  const { apiVersion: _a, kind: _k, metadata, ...rest } = obj;
  const { name: _n, namespace: _ns, ...meta } = metadata;
  return Object.keys(meta).length ? { ...rest, metadata: meta } : rest;
}

/** Local verdict: undefined if in sync, else the reason to suspect drift. */
function suspectDrift(applyObject: KubeObject, live: KubeObject): string | undefined {
  const diffs = compareDesired(ownershipView(applyObject), live);
  if (diffs.length) {
    return `changed: ${diffs
      .slice(0, 5)
      .map((d) => d.path)
      .join(', ')}${diffs.length > 5 ? ` and ${diffs.length - 5} more` : ''}`;
  }
  const ours = fieldsOwnedBy(live, FIELD_MANAGER, 'Apply');
  if (!ours) return `not applied by ${FIELD_MANAGER} yet`;
  const view = ownershipView(applyObject);
  const unowned = unownedLeaves(view, ours);
  if (unowned.length)
    return `fields taken over by another writer: ${unowned.slice(0, 5).join(', ')}`;
  const stale = ownedNotDesired(ours, view);
  if (stale.length) return `fields removed from the desired state: ${stale.slice(0, 5).join(', ')}`;
  return undefined;
}

/** Compares the dry-run result with the live object; undefined when equal. */
function dryRunDifference(merged: KubeObject, live: KubeObject): string | undefined {
  const a = withoutServerFields(merged);
  const b = withoutServerFields(live);
  if (canonicalJson(a) === canonicalJson(b)) return undefined;
  const diffs = compareDesired(a, b).map((d) => d.path);
  const removed = compareDesired(b, a).map((d) => d.path);
  const paths = [...new Set([...diffs, ...removed])];
  return `changed: ${paths.slice(0, 5).join(', ') || 'metadata'}${paths.length > 5 ? ` and ${paths.length - 5} more` : ''}`;
}

export async function checkDrift(input: DriftCheckInput): Promise<DriftReport> {
  const { client } = input;
  const concurrency = input.concurrency ?? DEFAULT_REQUEST_CONCURRENCY;
  const selector = appSelector(input.app);

  // One LIST per group/version/kind in use: an object is compared with the
  // live object in the shape of its own apiVersion (two versions of one kind
  // in one app are two LISTs, each the right shape). The kinds applied before
  // are listed in a version the desired state uses when it still has the
  // kind, so a one-version app costs one LIST per kind.
  const lists = new Map<string, { apiVersion: string; kind: string; namespaces: Set<string> }>();
  const addList = (apiVersion: string, kind: string, namespace: string) => {
    const k = gvkOf(apiVersion, kind);
    const entry = lists.get(k) ?? { apiVersion, kind, namespaces: new Set<string>() };
    entry.namespaces.add(namespace);
    lists.set(k, entry);
  };
  const desiredVersion = new Map<string, string>();
  for (const d of input.desired) {
    addList(d.object.apiVersion, d.object.kind, d.object.metadata.namespace ?? '');
    desiredVersion.set(groupKindOf(d.object), d.object.apiVersion);
  }
  for (const i of input.inventory) {
    const ref = parseRefKey(i.key);
    const apiVersion = desiredVersion.get(
      groupKindOf({ apiVersion: i.apiVersion, kind: ref.kind }),
    );
    addList(apiVersion ?? i.apiVersion, ref.kind, ref.namespace);
  }

  /** Live objects by list (group/version/kind), then by key. */
  const listed = new Map<string, Map<string, KubeObject>>();
  const unknownKinds: string[] = [];
  await mapBounded([...lists.values()], concurrency, async ({ apiVersion, kind, namespaces }) => {
    let items: KubeObject[];
    try {
      items = await client.list(apiVersion, kind, { labelSelector: selector });
    } catch (e) {
      if (e instanceof DriftlessError && e.reason === 'UnknownKind') {
        unknownKinds.push(`${apiVersion}/${kind}`);
        return;
      }
      // Access limited to some namespaces: list each one we care about.
      if (
        e instanceof DriftlessError &&
        e.reason === 'Forbidden' &&
        ![...namespaces].includes('')
      ) {
        const perNs = await Promise.all(
          [...namespaces].map((namespace) =>
            client.list(apiVersion, kind, { labelSelector: selector, namespace }),
          ),
        );
        items = perNs.flat();
      } else {
        throw e;
      }
    }
    listed.set(gvkOf(apiVersion, kind), new Map(items.map((item) => [objectKey(item), item])));
  });
  // Every live object once, in its desired version when it has one.
  const live = new Map<string, KubeObject>();
  for (const byKey of listed.values()) for (const [k, o] of byKey) if (!live.has(k)) live.set(k, o);
  for (const d of input.desired) {
    const own = listed.get(gvkOf(d.object.apiVersion, d.object.kind))?.get(d.key);
    if (own) live.set(d.key, own);
    else live.delete(d.key);
  }

  const inventory = new Map(input.inventory.map((i) => [i.key, i]));
  const desiredKeys = new Set(input.desired.map((d) => d.key));

  const objects = await mapBounded(input.desired, concurrency, async (d): Promise<ObjectDrift> => {
    const liveObj = live.get(d.key);
    const rules = input.ignore;
    const left = leftAlone(d.options, liveObj);
    if (left) {
      return {
        key: d.key,
        state: 'Synced',
        desired: d,
        live: liveObj,
        reason: left,
        leftAlone: true,
      };
    }
    if (!liveObj) {
      const drift: ObjectDrift = {
        key: d.key,
        state: 'Missing',
        desired: d,
        applyObject: d.object,
        reason: 'not found in the cluster',
      };
      if (input.withDiff && !unknownKinds.includes(`${d.object.apiVersion}/${d.object.kind}`)) {
        const merged = await client.apply(d.object, { dryRun: true }).catch(() => d.object);
        drift.diff = unifiedDiff(describeRef(parseRefKey(d.key)), undefined, merged);
      }
      return drift;
    }
    const applyObject = applyObjectFor(d.object, liveObj, rules);
    const inv = inventory.get(d.key);
    if (
      inv &&
      inv.desiredHash === d.hash &&
      inv.resourceVersion === liveObj.metadata.resourceVersion
    ) {
      return {
        key: d.key,
        state: 'Synced',
        desired: d,
        live: liveObj,
        applyObject,
        fastPath: true,
      };
    }
    const suspicion = suspectDrift(applyObject, liveObj);
    if (!suspicion) return { key: d.key, state: 'Synced', desired: d, live: liveObj, applyObject };
    // Confirm with the server: what would applying leave?
    let merged: KubeObject;
    try {
      merged = await client.apply(applyObject, { dryRun: true });
    } catch (e) {
      // A change to an immutable field: OutOfSync, with the server's words; the
      // sync recreates it if it opts in, or fails on it alone, naming it.
      if (e instanceof DriftlessError && isImmutableFieldError(e)) {
        return {
          key: d.key,
          state: 'OutOfSync',
          desired: d,
          live: liveObj,
          applyObject,
          dryRun: true,
          reason: `${e.location.field ? `${e.location.field}: ` : ''}${e.message}`,
        };
      }
      throw e;
    }
    const difference =
      dryRunDifference(merged, liveObj) ??
      (appliedAsStringData(liveObj)
        ? 'applied as stringData before: applying as data, so keys removed from Git leave the Secret'
        : undefined);
    if (!difference) {
      return {
        key: d.key,
        state: 'Synced',
        desired: d,
        live: liveObj,
        applyObject,
        dryRun: true,
        reason: suspicion,
      };
    }
    return {
      key: d.key,
      state: 'OutOfSync',
      desired: d,
      live: liveObj,
      applyObject,
      dryRun: true,
      reason: difference,
      diff: input.withDiff
        ? unifiedDiff(describeRef(parseRefKey(d.key)), liveObj, merged)
        : undefined,
    };
  });

  for (const [key, obj] of live) {
    if (desiredKeys.has(key)) continue;
    // Objects a controller made from ours may copy our label; they are not ours.
    if (
      !inventory.has(key) &&
      obj.metadata.ownerReferences?.some((o) => (o as { controller?: boolean }).controller)
    ) {
      continue;
    }
    objects.push({
      key,
      state: 'Extra',
      live: obj,
      reason: 'no longer in the desired state',
      diff: input.withDiff ? unifiedDiff(describeRef(parseRefKey(key)), obj, undefined) : undefined,
    });
  }
  return { objects, live, unknownKinds };
}
