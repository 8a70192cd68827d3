// What Driftless records about a target (one application on one cluster).

import type { ErrorReason } from '../errors.js';
import type { HookPhase } from './annotations.js';

export type SyncStatus = 'Synced' | 'OutOfSync' | 'Unknown';

/** Ordered from best to worst; an app's health is the worst of its objects'. */
export const HEALTH_ORDER = [
  'Healthy',
  'Suspended',
  'Progressing',
  'Missing',
  'Unknown',
  'Degraded',
] as const;
export type HealthStatus = (typeof HEALTH_ORDER)[number];

export function worstHealth(statuses: Iterable<HealthStatus>): HealthStatus {
  let worst: HealthStatus = 'Healthy';
  for (const s of statuses) {
    if (HEALTH_ORDER.indexOf(s) > HEALTH_ORDER.indexOf(worst)) worst = s;
  }
  return worst;
}

export interface HealthResult {
  status: HealthStatus;
  /** Why, in words a user can act on: "2/3 replicas available". */
  message?: string;
  /** For Progressing: when to look again (ms), instead of blocking. */
  recheckAfterMs?: number;
}

/** Per-object sync state from the diff. */
export type ResourceSyncState = 'Synced' | 'OutOfSync' | 'Missing' | 'Extra';

export interface ResourceStatus {
  /** refKey: group/Kind/namespace/name */
  key: string;
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  sync: ResourceSyncState;
  health?: HealthResult;
  /** Why it is not Synced: the fields that differ, an ignore rule, prune refusal. */
  reason?: string;
  /** Sync wave the object belongs to. */
  wave?: number;
  /** Whether a prune of this object was skipped (annotation or policy). */
  pruneSkipped?: string;
}

/** What started an operation. */
export type OperationTrigger =
  | 'webhook'
  | 'sweep'
  | 'manual'
  | 'rollback'
  | 'health-check'
  | 'local'
  /** The app, or one of its destinations, was deleted with cascade. */
  | 'delete';

/**
 * How an operation may act, derived once: `auto` applies only what the app's
 * sync policy allows; `manual` (a sync or rollback someone asked for) applies
 * even when automation is off or nothing drifted; `preview` computes and
 * reports, and applies and writes nothing.
 */
export type OperationMode = 'auto' | 'manual' | 'preview';

/** The mode of an operation a trigger starts (a preview is asked for explicitly). */
export function modeOf(trigger: OperationTrigger, preview = false): OperationMode {
  if (preview) return 'preview';
  return trigger === 'manual' || trigger === 'rollback' ? 'manual' : 'auto';
}

export type OperationPhase = 'Running' | 'Succeeded' | 'Failed' | 'Error';

/**
 * An operation: the durable record of one sync on a target, kept in the
 * target's status while it runs (a re-check resumes it by id, with the
 * revision and flags it was started with) and appended to the history when it
 * ends.
 */
export interface OperationResult {
  id: string;
  /** What started it: webhook delivery, sweep, manual sync, rollback. */
  trigger: OperationTrigger;
  /** Who started it: an IAM principal, `github-delivery:<id>`, `driftless:sweep`, `local:<user>`. */
  initiator?: string;
  /** The revision asked for (a branch, a tag, a SHA), when it is not the commit itself. */
  requestedRevision?: string;
  /** The commit the operation syncs, resolved once when it starts. */
  revision: string;
  /** A manual sync allowed what the prune guard refuses (and pruning with the app's prune off). */
  allowPrune?: boolean;
  /**
   * Digest of the app's source settings (path, Helm values, ... but not the
   * revision) the operation synced: with the commit, what "the same sync"
   * means when deciding whether automation already attempted it.
   */
  source?: string;
  phase: OperationPhase;
  message: string;
  reason?: ErrorReason;
  startedAt: string;
  finishedAt?: string;
  /** Attempt of this operation (1 first); retries follow syncPolicy.retry. */
  attempt: number;
  /** A failed attempt with retries left: when the next one starts. */
  nextAttemptAt?: string;
  /** Counts of what the operation did. */
  applied: number;
  pruned: number;
  /** Objects found drifted before the operation acted. */
  drifted: number;
  /** Where a sync that spans invocations (waiting on health or hooks) stands. */
  progress?: OperationProgress;
  /**
   * History only: how many times in a row this failure happened (same commit,
   * source and reason), collapsed into one entry; startedAt is the first's.
   */
  count?: number;
}

export interface OperationProgress {
  stage: 'PreSync' | 'Waves' | 'PostSync';
  /** Hooks created by this attempt, with the names they were created under: waited on, never recreated. */
  startedHooks: StartedHook[];
  /** The wave being waited on. */
  wave?: number;
  /** When this attempt began: what syncPolicy.healthTimeout counts from. */
  startedAt?: string;
}

/** A hook an operation created: the phase it ran for and the created object's refKey. */
export interface StartedHook {
  phase: HookPhase;
  key: string;
}

/** One object Driftless applied: what the next drift check compares against. */
export interface InventoryEntry {
  key: string;
  apiVersion: string;
  /** sha256 of the desired object as applied. */
  desiredHash: string;
  /** resourceVersion the apply (or the last confirmed check) left the object at. */
  resourceVersion: string;
  /** metadata.generation at that point, when the kind has one. */
  generation?: number;
  wave: number;
  uid?: string;
}

export interface StatusCondition {
  type: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface TargetStatus {
  app: string;
  cluster: string;
  /** The revision Git says we should be at (branch/tag resolved to a commit). */
  wantedRevision?: string;
  /** The commit last synced successfully. */
  syncedRevision?: string;
  sync: SyncStatus;
  health: HealthStatus;
  healthMessage?: string;
  resources: ResourceStatus[];
  operation?: OperationResult;
  inventory: InventoryEntry[];
  /** Conditions users should see: errors, prune refusals, ignored drift. */
  conditions: StatusCondition[];
  lastCheckedAt?: string;
  /** When the last reconcile began: jobs queued before it are already covered. */
  checkStartedAt?: string;
  /** Since when health has been Progressing (re-checks stop syncPolicy.healthTimeout after it). */
  progressingSince?: string;
  suspended?: boolean;
  /** What this check saw of the cluster: the per-cluster sweep's baseline (lib/sweep/). */
  observed?: ObservedState;
}

/**
 * What the last check saw of a target's objects, compact: the per-cluster
 * sweep compares the cluster's metadata with it and reconciles only targets
 * whose objects or source changed since.
 */
export interface ObservedState {
  /** The revision the check compared against (the app's, resolved). */
  revision: string;
  /** An operation was Running: its own re-check chain follows it, the sweep does not. */
  running?: boolean;
  /** specHash of the app as checked: a spec changed since is checked at the next tick. */
  spec?: string;
  objects: ObservedObject[];
}

/**
 * One desired object as the check saw it: refKey, apiVersion, resourceVersion
 * ('' when it was missing), metadataFingerprint ('' when missing) and health
 * status ('' when the kind has none).
 */
export type ObservedObject = [
  key: string,
  apiVersion: string,
  resourceVersion: string,
  meta: string,
  health: string,
];

/**
 * A failure that repeats the newest history entry (same commit, source,
 * phase and reason): the two collapse into one entry with a count, so a
 * target failing every interval keeps one line, not fifty. Undefined when
 * `entry` is new.
 */
export function collapseRepeat(
  newest: OperationResult | undefined,
  entry: OperationResult,
): OperationResult | undefined {
  if (!newest || entry.phase === 'Succeeded' || entry.phase === 'Running') return undefined;
  const same =
    newest.phase === entry.phase &&
    newest.reason === entry.reason &&
    newest.revision === entry.revision &&
    newest.source === entry.source;
  if (!same) return undefined;
  return {
    ...entry,
    startedAt: newest.startedAt,
    count: (newest.count ?? 1) + (entry.count ?? 1),
  };
}

/** Newest first, by when each entry ended (or began). */
export function byNewest(a: OperationResult, b: OperationResult): number {
  return Date.parse(b.finishedAt ?? b.startedAt) - Date.parse(a.finishedAt ?? a.startedAt);
}
