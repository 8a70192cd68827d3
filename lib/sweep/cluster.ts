// One cluster's drift sweep for one tick: decide which of the cluster's
// targets need a reconcile, at a cost that does not grow with the targets that
// do not.
//
// 1. One Query reads every target of the cluster with the last check's view
//    (object keys, resourceVersions, metadata fingerprints, health) and the
//    sweep record (the previous tick, the versions it confirmed).
// 2. The due targets' sources are resolved once per repository and revision
//    (one ls-refs; one index per chart repository): a target whose source
//    moved is reconciled.
// 3. One metadata-only LIST per kind in use, for all the cluster's apps
//    (label selector: the tracking label exists). An object whose
//    resourceVersion is the one last seen is unchanged. One whose metadata
//    fingerprint moved (spec: generation; labels, annotations, any field
//    manager's write), whose kind has no generation (nor a status) and whose
//    version moved, that is gone, or that appeared, is drift. One whose
//    version moved by status alone is fetched whole, and its health compared
//    with the last check's: changed, the target is reconciled; unchanged,
//    the version is confirmed in the sweep record so the next tick skips it.
// 4. Only those targets get a reconcile job (at most the per-cluster limit
//    per tick; the rest are carried in the sweep record and due at the next
//    tick, whatever their interval); the sweep record is written once.
//
// A target that has not changed costs no request of its own: no read, no
// write, no message, no invocation. The reconcile the sweep queues writes the
// new view (lib/reconcile/status.ts observedOf), so the next tick is quiet.

import { createHash } from 'node:crypto';
import { mapBounded } from '../concurrency.js';
import { asDriftlessError } from '../errors.js';
import { evaluateHealth } from '../health/index.js';
import type { ApplicationSource, CredentialsSubject } from '../model/application.js';
import { metadataFingerprint } from '../model/fingerprint.js';
import { groupOf, LABEL_APP, refKey } from '../model/object.js';
import { type Clock, systemClock } from '../ports/clock.js';
import {
  type ClusterClient,
  type ClusterConnector,
  DEFAULT_REQUEST_CONCURRENCY,
  type ObjectMetadata,
} from '../ports/cluster.js';
import type { GitCredentials } from '../ports/git.js';
import type { ClusterSweepJob, JobQueue, QueuedJob } from '../ports/queue.js';
import type { SourceFetcher } from '../ports/source.js';
import type {
  Catalog,
  ClusterSweepCounters,
  ClusterSweepRecord,
  SweepTarget,
} from '../ports/store.js';
import { clientWithDeadline, DEADLINE_RESERVE_MS, Deadline } from '../reconcile/deadline.js';

/** Most reconcile jobs one cluster's sweep queues per tick: the rest wait for the next. */
export const DEFAULT_SWEEP_PER_CLUSTER_LIMIT = 50;
/** Most status-only versions the sweep record remembers (~100 B each, far inside an item's 400 KB; beyond, the oldest are fetched again). */
export const DEFAULT_SWEEP_CONFIRMED_LIMIT = 2_000;
/** Sources resolved at once. */
const RESOLVE_CONCURRENCY = 8;

/** Why a target is reconciled. */
export type SweepReason = 'new' | 'spec' | 'failed' | 'source' | 'drift' | 'health';

export interface ClusterSweepDeps {
  catalog: Catalog;
  queue: JobQueue;
  clusters: ClusterConnector;
  sources: SourceFetcher;
  credentialsFor?: (app: CredentialsSubject) => Promise<GitCredentials | undefined>;
  clock?: Clock;
}

export interface ClusterSweepOptions {
  /** Default DEFAULT_SWEEP_PER_CLUSTER_LIMIT. */
  perClusterLimit?: number;
  /**
   * Epoch ms the invocation ends (Lambda's remaining time): Git and the
   * cluster are raced against it, so a source or an API server that hangs
   * leaves time to queue what was found and write the record.
   */
  deadline?: number;
  /** Default DEFAULT_SWEEP_CONFIRMED_LIMIT. */
  confirmedLimit?: number;
}

export interface ClusterSweepResult {
  /** Absent when the tick was swept already (a repeated message). */
  record?: ClusterSweepRecord;
  enqueued: { app: string; reason: SweepReason }[];
}

export async function sweepCluster(
  deps: ClusterSweepDeps,
  job: ClusterSweepJob,
  opts: ClusterSweepOptions = {},
): Promise<ClusterSweepResult> {
  const clock = deps.clock ?? systemClock;
  const started = clock.now();
  const { cluster, tick } = job;
  const state = await deps.catalog.clusterSweepState(cluster);
  // A repeated or replayed message: this tick (or a later one) is done.
  if (state.record && state.record.tickAt >= tick) return { enqueued: [] };
  const previousTick = state.record?.tickAt;
  const confirmed = { ...(state.record?.confirmed ?? {}) };
  const counters: ClusterSweepCounters = {
    targets: state.targets.length,
    due: 0,
    enqueued: 0,
    reasons: {},
    deferred: 0,
    clusterRequests: 0,
    sourceRequests: 0,
    durationMs: 0,
  };
  const errors: string[] = [];
  const deadline = new Deadline(
    opts.deadline === undefined ? undefined : opts.deadline - DEADLINE_RESERVE_MS,
    clock,
  );
  // New targets and changed specs are checked at once; the rest when their interval comes.
  const fresh = (t: SweepTarget) => !t.observed || t.observed.spec !== t.specHash;
  // Found last tick but over the limit: due now, whatever their interval.
  const carried = new Set(state.record?.carried ?? []);
  const due = state.targets.filter(
    (t) =>
      !t.suspended &&
      !t.observed?.running &&
      (fresh(t) || carried.has(t.app) || isDue(t, previousTick, tick)),
  );
  counters.due = due.length;
  const reasons = new Map<string, SweepReason>();

  // 2. Sources.
  const checked: SweepTarget[] = [];
  const resolved = new Map<string, Promise<string>>();
  const resolveOnce = async (t: SweepTarget): Promise<string> => {
    const credentials = await deps.credentialsFor?.({
      metadata: { name: t.app },
      spec: { source: t.source },
    });
    const key = sourceKey(t, credentials);
    let p = resolved.get(key);
    if (!p) {
      counters.sourceRequests += 1 + (t.sources?.length ?? 0);
      p = deadline.race(
        deps.sources.resolve({ source: t.source, sources: t.sources }, undefined, credentials),
        () => `resolving ${t.source.repoURL} ${t.source.revision}`,
      );
      resolved.set(key, p);
    }
    return p;
  };
  const pending = due.filter((t) => {
    if (!fresh(t)) return true;
    reasons.set(t.app, t.observed ? 'spec' : 'new');
    return false;
  });
  await mapBounded(pending, RESOLVE_CONCURRENCY, async (t) => {
    const observed = t.observed;
    if (!observed) return;
    // The last check could not compare: try again (once per interval, not every tick).
    if (observed.revision === '') {
      reasons.set(t.app, 'failed');
      return;
    }
    try {
      const revision = await resolveOnce(t);
      if (revision !== observed.revision) reasons.set(t.app, 'source');
      else checked.push(t);
    } catch (e) {
      // The source cannot be read: nothing to compare against. The target's
      // objects are still checked; its status keeps what the last check saw.
      errors.push(`${t.app}: ${asDriftlessError(e).describe()}`);
      checked.push(t);
    }
  });

  // 3. The cluster's objects, one metadata LIST per kind.
  if (checked.length) {
    try {
      const spec = await deps.catalog.getCluster(cluster);
      if (!spec) throw new Error(`cluster ${cluster} is not registered`);
      const client = await deadline.race(
        deps.clusters.connect(spec),
        () => `connecting to ${cluster}`,
      );
      const before = client.stats.total;
      try {
        await compareObjects(
          clientWithDeadline(client, deadline),
          checked,
          confirmed,
          reasons,
          errors,
        );
      } finally {
        counters.clusterRequests = client.stats.total - before;
      }
    } catch (e) {
      // The cluster cannot be read: its targets wait for the next tick.
      errors.push(`cluster ${cluster}: ${asDriftlessError(e).describe()}`);
    }
  }

  // 4. Jobs, fairly: each tick starts elsewhere in the list when the limit cuts it.
  const limit = opts.perClusterLimit ?? DEFAULT_SWEEP_PER_CLUSTER_LIMIT;
  const chosen = rotate(
    [...reasons].sort(([a], [b]) => a.localeCompare(b)),
    stableHash(String(tick)),
  );
  const jobs: QueuedJob[] = [];
  const enqueued: ClusterSweepResult['enqueued'] = [];
  const carry: string[] = [];
  for (const [app, reason] of chosen) {
    if (jobs.length >= limit) {
      counters.deferred++;
      carry.push(app);
      continue;
    }
    counters.reasons[reason] = (counters.reasons[reason] ?? 0) + 1;
    enqueued.push({ app, reason });
    jobs.push({
      dedupId: `sweep:${app}#${cluster}:${tick}`,
      job: {
        app,
        cluster,
        trigger: 'sweep',
        enqueuedAt: new Date(clock.now()).toISOString(),
        initiator: 'driftless:sweep',
      },
    });
  }
  if (jobs.length) await deps.queue.enqueue(jobs);
  counters.enqueued = jobs.length;
  counters.durationMs = clock.now() - started;
  const record: ClusterSweepRecord = {
    cluster,
    tickAt: tick,
    counters,
    confirmed: keepConfirmed(confirmed, state.targets, opts.confirmedLimit),
    ...(carry.length ? { carried: carry } : {}),
    ...(errors.length ? { error: summarize(errors) } : {}),
  };
  await deps.catalog.putClusterSweepRecord(record);
  return { record, enqueued };
}

/**
 * Whether a target is due this tick: its interval crossed a boundary since
 * the previous tick, the boundaries offset per target (a stable hash), so
 * targets with long intervals registered together do not come due together.
 */
export function isDue(
  t: { app: string; intervalMs: number },
  previousTick: number | undefined,
  tick: number,
): boolean {
  if (previousTick === undefined) return true;
  const interval = Math.max(1, t.intervalMs);
  const offset = stableHash(t.app) % interval;
  return Math.floor((tick + offset) / interval) > Math.floor((previousTick + offset) / interval);
}

/** What the sweep compared of the cluster's objects. */
async function compareObjects(
  client: ClusterClient,
  targets: SweepTarget[],
  confirmed: Record<string, string>,
  reasons: Map<string, SweepReason>,
  errors: string[],
): Promise<void> {
  // The kinds in use, with the namespaces their objects are in (for clusters
  // where the sweep may list only namespace by namespace).
  const kinds = new Map<string, { apiVersion: string; kind: string; namespaces: Set<string> }>();
  for (const t of targets) {
    for (const [key, apiVersion] of t.observed?.objects ?? []) {
      const kind = key.split('/')[1] ?? '';
      const id = `${apiVersion}/${kind}`;
      const k = kinds.get(id) ?? { apiVersion, kind, namespaces: new Set<string>() };
      k.namespaces.add(key.split('/')[2] ?? '');
      kinds.set(id, k);
    }
  }
  const live = new Map<string, ObjectMetadata>();
  const failedKinds = new Set<string>();
  await mapBounded([...kinds.values()], DEFAULT_REQUEST_CONCURRENCY, async (k) => {
    try {
      for (const m of await listKind(client, k.apiVersion, k.kind, k.namespaces)) {
        live.set(metadataKey(m), m);
      }
    } catch (e) {
      // A kind that cannot be listed (its CRD removed, no access): its targets
      // are reconciled, and their status says why.
      failedKinds.add(`${k.apiVersion}/${k.kind}`);
      errors.push(`${k.apiVersion} ${k.kind}: ${asDriftlessError(e).describe()}`);
    }
  });
  if (failedKinds.size === kinds.size && kinds.size > 0) {
    // Nothing could be listed: the cluster is unreachable, not drifted.
    throw new Error(`no kind could be listed (${[...failedKinds].join(', ')})`);
  }

  // Objects whose version moved by status alone, to fetch and compare by health.
  const suspects: {
    app: string;
    key: string;
    apiVersion: string;
    meta: ObjectMetadata;
    health: string;
  }[] = [];
  for (const t of targets) {
    for (const [key, apiVersion, rv, meta, health] of t.observed?.objects ?? []) {
      if (reasons.has(t.app)) break;
      const kind = key.split('/')[1] ?? '';
      if (failedKinds.has(`${apiVersion}/${kind}`)) {
        reasons.set(t.app, 'drift');
        break;
      }
      const m = live.get(key);
      const labelled = m && m.labels[LABEL_APP] === t.app;
      if (!m || !labelled) {
        // Gone (or no longer carrying its app's label), unless it was missing already.
        if (rv !== '') reasons.set(t.app, 'drift');
        continue;
      }
      if (rv === '') {
        reasons.set(t.app, 'drift'); // missing at the last check, there now
        continue;
      }
      if (m.resourceVersion === rv || confirmed[confirmedKey(t.app, key)] === m.resourceVersion) {
        continue;
      }
      // A kind without a generation has no status to move its version: its
      // data changed (a second edit by the same field manager leaves the
      // fingerprint as it was). With one, an unchanged fingerprint means the
      // version moved by a status write alone.
      if (m.generation === undefined || metadataFingerprint(m) !== meta) {
        reasons.set(t.app, 'drift');
        continue;
      }
      suspects.push({ app: t.app, key, apiVersion, meta: m, health });
    }
  }
  await mapBounded(suspects, DEFAULT_REQUEST_CONCURRENCY, async (s) => {
    if (reasons.has(s.app)) return;
    try {
      const obj = await client.get(s.apiVersion, s.meta.kind, s.meta.namespace ?? '', s.meta.name);
      if (!obj) {
        reasons.set(s.app, 'drift');
        return;
      }
      if (evaluateHealth(obj).status !== s.health) reasons.set(s.app, 'health');
      else confirmed[confirmedKey(s.app, s.key)] = obj.metadata.resourceVersion ?? '';
    } catch (e) {
      errors.push(`${s.key}: ${asDriftlessError(e).describe()}`);
      reasons.set(s.app, 'health');
    }
  });
}

/**
 * One kind's labelled objects: one LIST across all namespaces, or — where
 * the cluster grants the sweep only some namespaces — one per namespace in use.
 */
async function listKind(
  client: ClusterClient,
  apiVersion: string,
  kind: string,
  namespaces: Set<string>,
): Promise<ObjectMetadata[]> {
  try {
    return await client.listMetadata(apiVersion, kind, { labelSelector: LABEL_APP });
  } catch (e) {
    const err = asDriftlessError(e);
    if (err.reason !== 'Forbidden' || namespaces.has('')) throw err;
    const out: ObjectMetadata[] = [];
    for (const namespace of namespaces) {
      out.push(
        ...(await client.listMetadata(apiVersion, kind, { labelSelector: LABEL_APP, namespace })),
      );
    }
    return out;
  }
}

function metadataKey(m: ObjectMetadata): string {
  return refKey({
    group: groupOf(m.apiVersion),
    kind: m.kind,
    namespace: m.namespace ?? '',
    name: m.name,
  });
}

function confirmedKey(app: string, key: string): string {
  return `${app}@${key}`;
}

/** The confirmed versions still about an object some target tracks, newest kept within the limit. */
function keepConfirmed(
  confirmed: Record<string, string>,
  targets: SweepTarget[],
  limit = DEFAULT_SWEEP_CONFIRMED_LIMIT,
): Record<string, string> {
  const tracked = new Map<string, string>();
  for (const t of targets) {
    for (const [key, , rv] of t.observed?.objects ?? []) tracked.set(confirmedKey(t.app, key), rv);
  }
  const kept = Object.entries(confirmed).filter(
    // Dropped: objects no longer tracked, and those a check has since recorded as seen.
    ([k, rv]) => tracked.has(k) && tracked.get(k) !== rv,
  );
  return Object.fromEntries(kept.slice(-limit));
}

/** What resolving a target's sources depends on: targets that share it share one request. */
function sourceKey(t: SweepTarget, credentials: GitCredentials | undefined): string {
  const id = (s: ApplicationSource) => [s.repoURL, s.revision, s.chart ?? ''];
  return JSON.stringify([
    id(t.source),
    ...(t.sources ?? []).map(id),
    credentials?.cacheIdentity ?? credentials?.source ?? '',
  ]);
}

function rotate<T>(items: T[], by: number): T[] {
  if (items.length === 0) return items;
  const n = ((by % items.length) + items.length) % items.length;
  return [...items.slice(n), ...items.slice(0, n)];
}

function stableHash(s: string): number {
  return createHash('sha256').update(s).digest().readUInt32BE(0);
}

function summarize(errors: string[]): string {
  const shown = errors.slice(0, 3).join('; ');
  return errors.length > 3 ? `${shown}; and ${errors.length - 3} more` : shown;
}
