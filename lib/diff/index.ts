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
import { type SyncOptions, syncOptionsOrDefault } from '../model/annotations.js';
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
import { appliedByDriftless } from '../prune/index.js';
import { compareDesired } from './compare.js';
import { fieldsOwnedBy, ownedNotDesired, unownedLeaves } from './fields.js';
import { desiredFingerprint, type IgnoredView, ignoredView } from './ignore.js';
import { refusedFields } from './immutable.js';
import { unifiedDiff, withoutServerFields } from './render.js';

export { COMPARISON_VERSION, desiredFingerprint } from './ignore.js';

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
  /** Another application manages the object (its tracking label names it): not applied. */
  sharedWith?: string;
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

/**
 * What we apply: the desired object, with the live value wherever an ignore
 * rule covers it (lib/diff/ignore.ts). On creation everything is applied.
 */
export function applyObjectFor(
  desired: KubeObject,
  live: KubeObject | undefined,
  rules: IgnoreDifference[],
): KubeObject {
  return ignoredView(desired, live, rules).applyObject;
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

/**
 * Local verdict: undefined if in sync, else the reason to suspect drift.
 * Values and ownership are judged on what the rules leave compared; what we
 * would stop owning is judged on what we would apply (it keeps live values
 * where the rules cover it).
 */
function suspectDrift(view: IgnoredView, live: KubeObject): string | undefined {
  const compared = ownershipView(view.compareDesired);
  const diffs = compareDesired(compared, view.compareLive);
  if (diffs.length) {
    return `changed: ${diffs
      .slice(0, 5)
      .map((d) => d.path)
      .join(', ')}${diffs.length > 5 ? ` and ${diffs.length - 5} more` : ''}`;
  }
  const ours = fieldsOwnedBy(live, FIELD_MANAGER, 'Apply');
  if (!ours) return `not applied by ${FIELD_MANAGER} yet`;
  const unowned = unownedLeaves(compared, ours);
  if (unowned.length)
    return `fields taken over by another writer: ${unowned.slice(0, 5).join(', ')}`;
  const stale = ownedNotDesired(ours, ownershipView(view.applyObject));
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

/** Up to this many missing objects of a kind are looked up one GET each; more, one LIST. */
export const SHARED_LOOKUP_GET_LIMIT = DEFAULT_REQUEST_CONCURRENCY;

/**
 * Desired objects not labelled for this app, as they exist labelled for
 * another one (by key): such an object is SharedResource and left alone (no
 * flip-flop between two apps) unless it opts in to adoption
 * (`AllowAdoption=true`). Costs nothing when nothing is missing (a no-op
 * check); per kind, a GET per missing object, or past
 * SHARED_LOOKUP_GET_LIMIT one LIST of the objects other apps label.
 */
async function otherAppsObjects(
  client: ClusterClient,
  app: string,
  missing: DesiredObject[],
  concurrency: number,
): Promise<Map<string, KubeObject>> {
  const byKind = new Map<string, DesiredObject[]>();
  for (const d of missing) {
    if (d.options?.allowAdoption) continue;
    const k = `${d.object.apiVersion}/${d.object.kind}`;
    byKind.set(k, [...(byKind.get(k) ?? []), d]);
  }
  const found = new Map<string, KubeObject>();
  const keep = (o: KubeObject | undefined) => {
    const owner = o?.metadata.labels?.[LABEL_APP];
    if (o && owner && owner !== app) found.set(objectKey(o), o);
  };
  // One task per GET or per LIST, in one bounded fan-out.
  const tasks: (() => Promise<void>)[] = [];
  const labelSelector = `${LABEL_APP},${LABEL_APP}!=${app}`;
  for (const objects of byKind.values()) {
    const { apiVersion, kind } = (objects[0] as DesiredObject).object;
    if (objects.length <= SHARED_LOOKUP_GET_LIMIT) {
      for (const d of objects) {
        const ref = parseRefKey(d.key);
        tasks.push(async () => keep(await client.get(apiVersion, kind, ref.namespace, ref.name)));
      }
      continue;
    }
    const namespaces = [...new Set(objects.map((d) => parseRefKey(d.key).namespace))];
    tasks.push(async () => {
      let items: KubeObject[];
      try {
        items = await client.list(apiVersion, kind, {
          labelSelector,
          namespace: namespaces.length === 1 ? namespaces[0] || undefined : undefined,
        });
      } catch (e) {
        // Access limited to some namespaces: list each one we care about.
        if (!(e instanceof DriftlessError && e.reason === 'Forbidden') || namespaces.includes(''))
          throw e;
        const perNs = await mapBounded(namespaces, concurrency, (namespace) =>
          client.list(apiVersion, kind, { labelSelector, namespace }),
        );
        items = perNs.flat();
      }
      for (const o of items) keep(o);
    });
  }
  await mapBounded(tasks, concurrency, (task) => task());
  return found;
}

function sharedDrift(d: DesiredObject, existing: KubeObject): ObjectDrift {
  const owner = existing.metadata.labels?.[LABEL_APP] ?? '';
  return {
    key: d.key,
    state: 'OutOfSync',
    desired: d,
    live: existing,
    sharedWith: owner,
    reason:
      `SharedResource: managed by application ${owner} (label ${LABEL_APP}=${owner}); not applied. ` +
      `Remove it from one of the two, or annotate it ${SHARED_ADOPTION_HINT} to take it over.`,
  };
}

/** The annotation that disables reconciling this live object, if any. */
function reconcileDisabledBy(live: KubeObject): string | undefined {
  const options = syncOptionsOrDefault(live);
  return options.reconcile ? undefined : options.from.reconcile;
}

/** How a manifest opts in to taking an object over from another app. */
export const SHARED_ADOPTION_HINT = 'driftless.dev/sync-options: AllowAdoption=true';

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
        const perNs = await mapBounded([...namespaces], concurrency, (namespace) =>
          client.list(apiVersion, kind, { labelSelector: selector, namespace }),
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

  const othersByKey = await otherAppsObjects(
    client,
    input.app,
    input.desired.filter(
      (d) => !live.has(d.key) && !unknownKinds.includes(`${d.object.apiVersion}/${d.object.kind}`),
    ),
    concurrency,
  );

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
      // Not labelled for this app: absent, unlabelled (adopted by the apply,
      // as Argo CD and Flux do) or another app's.
      const other = othersByKey.get(d.key);
      if (other) return sharedDrift(d, other);
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
    // Flux's `reconcile: disabled` on the object in the cluster: neither
    // compared nor applied (nor pruned) until the annotation goes.
    const notReconciled = reconcileDisabledBy(liveObj);
    if (notReconciled) {
      return {
        key: d.key,
        state: 'Synced',
        desired: d,
        live: liveObj,
        reason: `not reconciled: the live object is annotated ${notReconciled}: disabled`,
      };
    }
    const view = ignoredView(d.object, liveObj, rules);
    const { applyObject } = view;
    const inv = inventory.get(d.key);
    if (
      inv &&
      inv.desiredHash === desiredFingerprint(d, rules) &&
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
    const suspicion = suspectDrift(view, liveObj);
    if (!suspicion) return { key: d.key, state: 'Synced', desired: d, live: liveObj, applyObject };
    // Confirm with the server: what would applying leave?
    let merged: KubeObject;
    try {
      merged = await client.apply(applyObject, { dryRun: true });
    } catch (e) {
      // A change to an immutable field: OutOfSync, with the server's words; the
      // sync recreates it if it opts in, or fails on it alone, naming it.
      if (e instanceof DriftlessError && isImmutableFieldError(e)) {
        const field = refusedFields(e.message, applyObject, liveObj) ?? e.location.field;
        return {
          key: d.key,
          state: 'OutOfSync',
          desired: d,
          live: liveObj,
          applyObject,
          dryRun: true,
          reason: `${field ? `${field}: ` : ''}${e.message}`,
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

  // Extra: only what the previous inventory has, the desired set lacks, and
  // Driftless applied — still labelled for this app with a `driftless` Apply
  // entry. A labelled copy made with kubectl, the Endpoints the endpoints
  // controller labels like their Service, anything a controller owns: none of
  // them is the app's, so none is reported or pruned.
  for (const [key, obj] of live) {
    if (desiredKeys.has(key) || !inventory.has(key)) continue;
    if (!appliedByDriftless(obj, input.app)) continue;
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
