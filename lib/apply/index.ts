// Applying desired objects with server-side apply (field manager `driftless`):
// independent objects of one wave concurrently with a bound, the kinds others
// depend on (ServiceAccounts, Secrets, ConfigMaps, RBAC, storage) a step
// ahead of the workloads that reference them; CRDs waited on until
// Established, and until discovery serves their kinds, so their custom
// resources can follow in the same sync. Fail fast: after the first failed
// write no other starts (mapBounded), and the next step never begins.
//
// Immutable fields (a Job's template, a Deployment's selector, a
// StatefulSet's volumeClaimTemplates, a Service's clusterIP) cannot be
// applied over: the server refuses, and the error names the object, the
// field, the file and what would recreate it. An object that opts in is
// recreated instead: `Replace=true` (Argo CD's sync option; with server-side
// apply here, delete and create whenever it changes), `Force=true` or Flux's
// `force: Enabled` (delete and create when an apply hits an immutable field,
// as kubectl apply --force and Flux's ssa Force do). Deleting waits for the
// old object (its UID) to be gone, finalizers and dependents included
// (foreground), before creating the new one.

import { mapBounded } from '../concurrency.js';
import { refusedFields } from '../diff/immutable.js';
import { asDriftlessError, DriftlessError } from '../errors.js';
import type { SyncOptions } from '../model/annotations.js';
import { isPrerequisiteKind } from '../model/kinds.js';
import { describeObject, groupOf, type KubeObject } from '../model/object.js';
import {
  type ClusterClient,
  DEFAULT_REQUEST_CONCURRENCY,
  isImmutableFieldError,
} from '../ports/cluster.js';

export interface ApplyItem {
  key: string;
  /** What to send (desired minus ignored fields). */
  object: KubeObject;
  file?: string;
  line?: number;
  /** The object's sync options (Replace, Force); defaults when absent. */
  options?: Pick<SyncOptions, 'replace' | 'force' | 'from'>;
  /** The live object, when it exists: what Replace deletes first. */
  live?: KubeObject;
}

export interface ApplyOptions {
  force: boolean;
  concurrency?: number;
  /** Called after each successful apply (progress, order tracking). */
  onApplied?: (key: string, live: KubeObject) => void;
  /** Called with the failure of an item, before the group fails with it. */
  onFailed?: (key: string, error: DriftlessError) => void;
  /** How long a recreation waits for the old object to be gone; default RECREATE_TIMEOUT_MS. */
  recreateTimeoutMs?: number;
}

/** How long deleting an object to recreate it may take (finalizers, dependents), and how often it is looked at. */
export const RECREATE_TIMEOUT_MS = 60_000;
export const RECREATE_POLL_MS = 250;

/** The annotation that opts an object into recreation, for messages. */
const RECREATE_HINT =
  'set argocd.argoproj.io/sync-options: Replace=true or Force=true (or kustomize.toolkit.fluxcd.io/force: Enabled) to delete and recreate it';

/** Deletes the live object (foreground) and waits until that UID is gone. */
async function deleteAndWait(
  client: ClusterClient,
  live: KubeObject,
  timeoutMs: number,
): Promise<void> {
  const ns = live.metadata.namespace ?? '';
  const name = live.metadata.name as string;
  const uid = live.metadata.uid;
  await client.delete(
    {
      apiVersion: live.apiVersion,
      group: groupOf(live.apiVersion),
      kind: live.kind,
      namespace: ns,
      name,
    },
    { propagationPolicy: 'Foreground', uid },
  );
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await client.get(live.apiVersion, live.kind, ns, name);
    if (!now || (uid && now.metadata.uid !== uid)) return;
    if (Date.now() > deadline) {
      const finalizers = (now.metadata.finalizers ?? []) as string[];
      throw new DriftlessError(
        'HealthTimeout',
        `deleted to recreate it, but still there after ${timeoutMs / 1000}s` +
          (finalizers.length ? ` (finalizers: ${finalizers.join(', ')})` : ''),
        { object: describeObject(live) },
      );
    }
    await new Promise((r) => setTimeout(r, RECREATE_POLL_MS));
  }
}

/** The live object to delete before recreating, looked up when the drift check did not list it. */
async function liveOf(client: ClusterClient, item: ApplyItem): Promise<KubeObject | undefined> {
  if (item.live?.metadata.uid) return item.live;
  const o = item.object;
  return client.get(o.apiVersion, o.kind, o.metadata.namespace ?? '', o.metadata.name as string);
}

/** One object: applied, or recreated when it opts in; failures named with file:line and the way out. */
async function applyOne(
  client: ClusterClient,
  item: ApplyItem,
  opts: ApplyOptions,
): Promise<KubeObject> {
  const timeoutMs = opts.recreateTimeoutMs ?? RECREATE_TIMEOUT_MS;
  const recreate = async () => {
    const live = await liveOf(client, item);
    if (live) await deleteAndWait(client, live, timeoutMs);
    return client.apply(item.object, { force: opts.force });
  };
  if (item.options?.replace && item.live) return recreate();
  try {
    return await client.apply(item.object, { force: opts.force });
  } catch (e) {
    const err = asDriftlessError(e, 'ApplyRejected');
    if (!isImmutableFieldError(err)) throw err;
    if (item.options?.force || item.options?.replace) return recreate();
    const field = refusedFields(err.message, item.object, item.live) ?? err.location.field;
    throw new DriftlessError(
      'ApplyRejected',
      `cannot change an immutable field (${err.message}); ${RECREATE_HINT}`,
      { ...err.location, ...(field ? { field } : {}) },
      { cause: e },
    );
  }
}

/** Applies one group of objects; resolves to the live objects the server returned, by key. */
export async function applyObjects(
  client: ClusterClient,
  items: ApplyItem[],
  opts: ApplyOptions,
): Promise<Map<string, KubeObject>> {
  const applied = new Map<string, KubeObject>();
  const steps = [
    items.filter((i) => isPrerequisiteKind(i.object)),
    items.filter((i) => !isPrerequisiteKind(i.object)),
  ];
  for (const step of steps) {
    await mapBounded(step, opts.concurrency ?? DEFAULT_REQUEST_CONCURRENCY, async (item) => {
      try {
        const live = await applyOne(client, item, opts);
        applied.set(item.key, live);
        opts.onApplied?.(item.key, live);
      } catch (e) {
        const err = asDriftlessError(e, 'ApplyRejected');
        const named = new DriftlessError(
          err.reason,
          err.message,
          {
            ...err.location,
            object: err.location.object ?? describeObject(item.object),
            file: item.file ?? err.location.file,
            line: item.line ?? err.location.line,
          },
          { cause: e },
        );
        opts.onFailed?.(item.key, named);
        throw named;
      }
    });
  }
  return applied;
}

/** How long a sync waits for its CRDs to be Established, and how often it looks. */
export const CRD_ESTABLISHED_TIMEOUT_MS = 30_000;
export const CRD_POLL_MS = 250;
/** Backoff while discovery catches up with a CRD just Established: first wait, and the cap. */
export const CRD_DISCOVERY_BASE_MS = 100;
export const CRD_DISCOVERY_MAX_MS = 2_000;

interface CrdStatus {
  spec?: {
    group?: string;
    names?: { kind?: string };
    versions?: { name: string; served?: boolean }[];
  };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/**
 * Waits until discovery serves every served version of each CRD's kind:
 * Established says the names are accepted, but aggregated discovery learns of
 * the new resource a moment later, and a custom resource applied in that
 * moment would fail as UnknownKind. Each miss refreshes discovery, with
 * backoff, until the deadline.
 */
async function waitForDiscovery(
  client: ClusterClient,
  crds: (KubeObject & CrdStatus)[],
  deadline: number,
): Promise<void> {
  const wanted = crds.flatMap((c) =>
    (c.spec?.versions ?? [])
      .filter((v) => v.served !== false)
      .map((v) => ({ apiVersion: `${c.spec?.group}/${v.name}`, kind: c.spec?.names?.kind ?? '' })),
  );
  for (const { apiVersion, kind } of wanted) {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.resource(apiVersion, kind);
        break;
      } catch (e) {
        if (!(e instanceof DriftlessError && e.reason === 'UnknownKind')) throw e;
        if (Date.now() > deadline) {
          throw new DriftlessError(
            'UnknownKind',
            `CRD Established, but the cluster still does not serve kind ${kind} in ${apiVersion}`,
          );
        }
        const cap = Math.min(CRD_DISCOVERY_MAX_MS, CRD_DISCOVERY_BASE_MS * 2 ** attempt);
        await new Promise((r) => setTimeout(r, cap / 2 + (Math.random() * cap) / 2));
      }
    }
  }
}

/**
 * Waits until each CRD is Established (names accepted, served), then forgets
 * cached discovery so its kinds resolve. CRDs establish within a second or
 * two; a CRD whose names conflict never does, and that is an error.
 */
export async function waitForCrds(
  client: ClusterClient,
  crds: KubeObject[],
  timeoutMs = CRD_ESTABLISHED_TIMEOUT_MS,
  pollMs = CRD_POLL_MS,
): Promise<void> {
  if (crds.length === 0) return;
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(crds.map((c) => c.metadata.name as string));
  while (pending.size) {
    for (const name of [...pending]) {
      const live = (await client.get(
        'apiextensions.k8s.io/v1',
        'CustomResourceDefinition',
        '',
        name,
      )) as (KubeObject & CrdStatus) | undefined;
      const conditions = live?.status?.conditions ?? [];
      const namesAccepted = conditions.find((c) => c.type === 'NamesAccepted');
      if (namesAccepted?.status === 'False') {
        throw new DriftlessError(
          'ApplyRejected',
          `CRD names not accepted: ${namesAccepted.message ?? namesAccepted.reason}`,
          {
            object: `CustomResourceDefinition/${name}`,
          },
        );
      }
      if (conditions.some((c) => c.type === 'Established' && c.status === 'True'))
        pending.delete(name);
    }
    if (!pending.size) break;
    if (Date.now() > deadline) {
      throw new DriftlessError(
        'HealthTimeout',
        `CRDs not Established after ${timeoutMs / 1000}s: ${[...pending].join(', ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  client.invalidateDiscovery();
  await waitForDiscovery(client, crds as (KubeObject & CrdStatus)[], deadline);
}
