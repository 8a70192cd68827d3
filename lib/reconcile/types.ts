// The reconcile engine's vocabulary: its dependencies (ports only), a
// request, its options and outcome, the events it emits, and the named
// defaults its steps share.

import { createHash } from 'node:crypto';
import type { ObjectDrift } from '../diff/index.js';
import type { DriftlessError } from '../errors.js';
import {
  type Application,
  appSources,
  type CredentialsSubject,
  DEFAULT_RETRY_BACKOFF,
} from '../model/application.js';
import { canonicalJson } from '../model/canonical.js';
import type { OperationResult, TargetStatus } from '../model/status.js';
import type { TargetId } from '../model/target.js';
import type { Clock } from '../ports/clock.js';
import type { ClusterConnector } from '../ports/cluster.js';
import type { GitCredentials, GitSource } from '../ports/git.js';
import type { LeaseManager } from '../ports/lease.js';
import type { Renderer } from '../ports/render.js';
import type { CommitStatusReporter } from '../ports/report.js';
import type { SourceFetcher } from '../ports/source.js';
import type { Store } from '../ports/store.js';
import type { ClusterSchemaCache } from '../validate/presync.js';

export { PROGRESSING_RECHECK_MS } from './status.js';

export interface ReconcileDeps {
  store: Store;
  leases: LeaseManager;
  git: GitSource;
  /** Git and chart sources (charts, multi-source); default: over `git` and the process's chart cache. */
  sources?: SourceFetcher;
  clusters: ClusterConnector;
  reporter: CommitStatusReporter;
  /** Checkout → manifests: the wiring passes one render cache per process (a warm Lambda, local mode). */
  renderer: Renderer;
  /** Clusters' schemas for the check before a sync; default: one cache shared by the process. */
  schemas?: ClusterSchemaCache;
  clock?: Clock;
  credentialsFor?: (app: CredentialsSubject) => Promise<GitCredentials | undefined>;
  /** Link for commit statuses, e.g. the status API's URL of the app. */
  statusUrl?: (target: TargetId) => string | undefined;
  onEvent?: (event: ReconcileEvent) => void;
}

export type ReconcileEvent =
  | { type: 'revision'; target: TargetId; commit: string }
  | { type: 'drift'; target: TargetId; outOfSync: number; missing: number; extra: number }
  | { type: 'applied'; target: TargetId; key: string; wave: number }
  | { type: 'pruned'; target: TargetId; key: string }
  | { type: 'hook'; target: TargetId; key: string; phase: string; action: string }
  | { type: 'wave'; target: TargetId; wave: number; state: 'applying' | 'waiting' | 'healthy' }
  | { type: 'done'; target: TargetId; status: TargetStatus; requeueAfterMs?: number };

export interface ReconcileRequest {
  target: TargetId;
  trigger: OperationResult['trigger'];
  /** An explicit revision (manual sync, rollback) instead of the app's. */
  revision?: string;
  /** Allow what the prune guard refuses, and prune even if the app's policy is off. */
  allowPrune?: boolean;
  /** Compute and report, apply and write nothing (a diff preview). */
  preview?: boolean;
  operationId?: string;
  attempt?: number;
  /** Who asked, recorded on the operation (see OperationResult.initiator). */
  initiator?: string;
}

/** How long one invocation may wait for health or hooks before yielding. */
export const DEFAULT_WAIT_BUDGET_MS = 20_000;
/** How long the target's lease lasts unless renewed. */
export const DEFAULT_LEASE_TTL_MS = 5 * 60_000;
/** How often a wave's health is polled while the invocation waits for it (at most). */
export const HEALTH_POLL_MS = 1_000;
/** When to look again at a wave still not healthy, if its objects name no time. */
export const WAVE_RECHECK_MS = 5_000;
/** Bounds of a health re-check's delay (it backs off as a target stays Progressing). */
export const MIN_RECHECK_MS = 1_000;
export const MAX_RECHECK_MS = 5 * 60_000;

/** The delay before attempt `attempt + 1` of a failed operation (syncPolicy.retry.backoff). */
export function retryBackoffMs(app: Application | undefined, attempt: number): number {
  const b = app?.spec.syncPolicy.retry.backoff ?? DEFAULT_RETRY_BACKOFF;
  return Math.min(b.duration * b.factor ** Math.max(0, attempt - 1), b.maxDuration);
}

/**
 * Digest of the app's source settings except the revision: with the commit,
 * what makes two syncs "the same" (Argo CD's alreadyAttemptedSync compares
 * the synced revision and the source with targetRevision cleared).
 */
export function sourceDigest(app: Application): string {
  // Every source of a multi-source app counts; one source keeps the digest it always had.
  const parts = appSources(app.spec).map(({ revision: _revision, ...source }) => source);
  const subject = parts.length === 1 ? parts[0] : parts;
  return createHash('sha256').update(canonicalJson(subject)).digest('hex').slice(0, 16);
}

/** When the newest revision waits for a running operation, how soon after it ends to sync it. */
export const NEXT_REVISION_DELAY_MS = 1_000;

export interface ReconcileOptions {
  /** Default DEFAULT_WAIT_BUDGET_MS. */
  waitBudgetMs?: number;
  /** Default DEFAULT_LEASE_TTL_MS; longer than the invocation can run (the worker derives it from its timeout). */
  leaseTtlMs?: number;
  /**
   * Epoch ms at which the invocation ends (a Lambda's timeout). The reconcile
   * stops touching the cluster DEADLINE_RESERVE_MS before it and writes its
   * status, so no invocation is killed half-done.
   */
  deadline?: number;
  /** Concurrent requests to the API server (default DEFAULT_REQUEST_CONCURRENCY). */
  concurrency?: number;
  /** Render unified diffs for drifted objects. */
  withDiff?: boolean;
  holder?: string;
}

export interface ReconcileOutcome {
  status: TargetStatus;
  /** Call again after this long (a rollout or hook still in progress). */
  requeueAfterMs?: number;
  /** The failure, if the reconcile failed. */
  error?: DriftlessError;
  /** Whether retrying the same request may succeed (network, lease, cluster down). */
  retryable?: boolean;
  drift?: ObjectDrift[];
}
