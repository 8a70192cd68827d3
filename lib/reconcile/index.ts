// One reconcile of one target (an application on one cluster), written
// against ports only (docs/architecture.md, "The flow of one reconcile"):
//   lease → resolve revision → fetch + render + validate (nothing touches the
//   cluster before everything is valid) → drift check (O(kinds) requests) →
//   decide → sync (PreSync hooks, Namespaces/CRDs, waves with Sync hooks,
//   prune, PostSync hooks; SyncFail hooks on failure) → health → status,
//   history, commit status → release.
// Every step is idempotent. A sync that must wait (a rollout, a hook) saves
// its progress in the target's status and asks to be called again later,
// instead of blocking the Lambda.

import { createHash, randomUUID } from 'node:crypto';
import { runHooks } from '../apply/hooks.js';
import { applyObjects, waitForCrds } from '../apply/index.js';
import { buildPlan, plannedManifests, type SyncPlan } from '../apply/plan.js';
import {
  appSelector,
  checkDrift,
  type DesiredObject,
  type DriftReport,
  desiredFingerprint,
  type ObjectDrift,
  SHARED_ADOPTION_HINT,
} from '../diff/index.js';
import { asDriftlessError, DriftlessError, isRetryable } from '../errors.js';
import { appHealth, evaluateHealth } from '../health/index.js';
import { isHook, isPruneDisabled, syncOptionsOrDefault } from '../model/annotations.js';
import { type Application, DEFAULT_RETRY_BACKOFF } from '../model/application.js';
import { canonicalJson } from '../model/canonical.js';
import type { Manifest } from '../model/manifest.js';
import { describeRef, type KubeObject, objectKey, parseRefKey } from '../model/object.js';
import { shortSha } from '../model/revision.js';
import {
  type HealthResult,
  type InventoryEntry,
  modeOf,
  type OperationMode,
  type OperationResult,
  type ResourceStatus,
  type StartedHook,
  type TargetStatus,
} from '../model/status.js';
import type { TargetId } from '../model/target.js';
import { type Clock, systemClock } from '../ports/clock.js';
import type { ClusterClient, ClusterConnector } from '../ports/cluster.js';
import type { GitCredentials, GitSource } from '../ports/git.js';
import type { Lease, LeaseManager } from '../ports/lease.js';
import type { Renderer } from '../ports/render.js';
import type { CommitStatusReporter } from '../ports/report.js';
import type { SourceFetcher } from '../ports/source.js';
import type { Store } from '../ports/store.js';
import { decidePrune, executePrune } from '../prune/index.js';
import { renderFetched, SourceCache, SourceDispatcher } from '../source/index.js';
import type { ClusterSchemaCache } from '../validate/presync.js';
import { clientWithDeadline, DEADLINE_RESERVE_MS, Deadline } from './deadline.js';

/** The default renderer, shared by reconciles in this process (a warm Lambda, local mode). */
const sharedRenderer: Renderer = new SourceCache();
/**
 * Each cluster's schemas for the pre-sync check, shared likewise. The schema
 * validator (ajv and its compiled schemas) loads on the first sync, not at a
 * cold start: most invocations are drift checks that apply nothing.
 */
let sharedSchemas: Promise<{
  cache: ClusterSchemaCache;
  presyncSchemaError: typeof import('../validate/presync.js').presyncSchemaError;
}>;
function schemaCheck() {
  sharedSchemas ??= import('../validate/presync.js').then((m) => ({
    cache: new m.ClusterSchemaCache(),
    presyncSchemaError: m.presyncSchemaError,
  }));
  return sharedSchemas;
}

export interface ReconcileDeps {
  store: Store;
  leases: LeaseManager;
  git: GitSource;
  /** Git and chart sources (charts, multi-source); default: over `git` and the process's chart cache. */
  sources?: SourceFetcher;
  clusters: ClusterConnector;
  reporter: CommitStatusReporter;
  /** Checkout → manifests; default: one render cache shared by the process. */
  renderer?: Renderer;
  /** Clusters' schemas for the check before a sync; default: one cache shared by the process. */
  schemas?: ClusterSchemaCache;
  clock?: Clock;
  credentialsFor?: (app: Application) => Promise<GitCredentials | undefined>;
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
/** When to look again at a Progressing object that names no time. */
export const PROGRESSING_RECHECK_MS = 10_000;
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
  const { revision: _revision, ...source } = app.spec.source;
  return createHash('sha256').update(canonicalJson(source)).digest('hex').slice(0, 16);
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

export async function reconcile(
  deps: ReconcileDeps,
  req: ReconcileRequest,
  opts: ReconcileOptions = {},
): Promise<ReconcileOutcome> {
  const clock = deps.clock ?? systemClock;
  const { target } = req;
  const app = await deps.store.getApplication(target.app);
  if (!app) throw new DriftlessError('InvalidSpec', `application ${target.app} is not registered`);
  const destination = app.spec.destinations.find((d) => d.cluster === target.cluster);
  if (destination?.deleting) {
    throw new DriftlessError(
      'InvalidSpec',
      `application ${target.app} is being removed from cluster ${target.cluster} (cascade pending)`,
    );
  }
  if (!destination) {
    throw new DriftlessError(
      'InvalidSpec',
      `application ${target.app} has no destination cluster ${target.cluster}`,
    );
  }
  const cluster = await deps.store.getCluster(target.cluster);
  if (!cluster)
    throw new DriftlessError('InvalidSpec', `cluster ${target.cluster} is not registered`);

  const holder = opts.holder ?? req.operationId ?? randomUUID();
  const leaseTtl = opts.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  // A preview writes nothing, so it neither needs nor disturbs the lease.
  const mode = modeOf(req.trigger, req.preview);
  const lease =
    mode === 'preview'
      ? { target, holder, fencingToken: 0, expiresAt: clock.now() + leaseTtl }
      : await deps.leases.acquire(target, holder, leaseTtl);
  if (!lease) {
    const error = new DriftlessError(
      'LeaseHeld',
      `another worker is reconciling ${target.app} on ${target.cluster}`,
    );
    const prev = await deps.store.getTargetStatus(target);
    return { status: prev ?? emptyStatus(target), error, retryable: true };
  }
  try {
    const run = new TargetRun(deps, req, opts, app, destination.namespace, lease, clock, leaseTtl);
    const outcome = await run.execute(cluster);
    deps.onEvent?.({
      type: 'done',
      target,
      status: outcome.status,
      requeueAfterMs: outcome.requeueAfterMs,
    });
    return outcome;
  } finally {
    if (mode !== 'preview') await deps.leases.release(lease).catch(() => {});
  }
}

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

class TargetRun {
  private readonly target: TargetId;
  private prev: TargetStatus | undefined;
  private readonly waitBudgetMs: number;
  private readonly startedAtMs: number;
  private readonly deadline: Deadline;
  /** The operation this run resumes, if one is Running. */
  private running: OperationResult | undefined;
  /** The operation's mode: a resumed operation keeps the one it was started with. */
  private mode: OperationMode;
  /** Whether the operation allows guarded prunes: the request's, or the resumed record's. */
  private allowPrune: boolean;
  private readonly preview: boolean;

  constructor(
    private readonly deps: ReconcileDeps,
    private readonly req: ReconcileRequest,
    private readonly opts: ReconcileOptions,
    private readonly app: Application,
    private readonly defaultNamespace: string | undefined,
    private lease: Lease,
    private readonly clock: Clock,
    private readonly leaseTtlMs: number,
  ) {
    this.target = req.target;
    this.mode = modeOf(req.trigger, req.preview);
    this.preview = this.mode === 'preview';
    this.allowPrune = req.allowPrune === true;
    this.startedAtMs = clock.now();
    this.deadline = new Deadline(
      opts.deadline === undefined ? undefined : opts.deadline - DEADLINE_RESERVE_MS,
      clock,
    );
    // Waiting for health or hooks ends in time to yield before the deadline.
    this.waitBudgetMs = Math.max(
      0,
      Math.min(opts.waitBudgetMs ?? DEFAULT_WAIT_BUDGET_MS, this.deadline.left()),
    );
  }

  /** The revision asked for, when it is not the commit itself. */
  private requested(commit: string): string | undefined {
    const asked = this.req.revision ?? this.app.spec.source.revision;
    return asked === commit ? undefined : asked;
  }

  private iso(ms = this.clock.now()): string {
    return new Date(ms).toISOString();
  }

  private context(): string {
    return `driftless/${this.target.app}/${this.target.cluster}`;
  }

  private async report(
    commit: string,
    state: 'pending' | 'success' | 'failure' | 'error',
    description: string,
  ) {
    if (this.preview) return;
    await this.deps.reporter.report({
      repoURL: this.app.spec.source.repoURL,
      commit,
      context: this.context(),
      state,
      description,
      targetUrl: this.deps.statusUrl?.(this.target),
    });
  }

  async execute(
    clusterSpec: Parameters<ClusterConnector['connect']>[0],
  ): Promise<ReconcileOutcome> {
    this.prev = await this.deps.store.getTargetStatus(this.target);
    const base: TargetStatus = this.prev
      ? { ...this.prev, conditions: [] }
      : emptyStatus(this.target);
    base.suspended = this.app.spec.suspended;
    base.checkStartedAt = this.iso(this.startedAtMs);
    // One operation per target at a time: a running one is resumed with its
    // own revision; a newer revision waits until it ends.
    const running =
      this.prev?.operation?.phase === 'Running' && this.prev.operation.progress
        ? this.prev.operation
        : undefined;
    if (running?.nextAttemptAt && !this.preview) {
      // A failed attempt waiting out its backoff: nothing runs until then.
      const wait = Date.parse(running.nextAttemptAt) - this.clock.now();
      if (wait > 0 && this.prev) return { status: this.prev, requeueAfterMs: wait };
    }
    // A re-check resumes the operation as it was started, whatever triggered the re-check.
    if (running && !this.preview) {
      this.running = running;
      this.mode = modeOf(running.trigger);
      this.allowPrune = running.allowPrune === true;
    }
    let commit: string | undefined;
    let manifests: readonly Manifest[];
    let newest: string | undefined;
    let plan: SyncPlan;
    let client: ClusterClient;
    try {
      // 1. Resolve and fetch the revision; render and validate it all before any cluster write.
      const source = this.app.spec.source;
      const sources = this.deps.sources ?? new SourceDispatcher({ git: this.deps.git });
      const credentials = await this.deps.credentialsFor?.(this.app);
      newest = await sources.resolve(this.app.spec, this.req.revision, credentials);
      commit = running && !this.preview ? running.revision : newest;
      this.deps.onEvent?.({ type: 'revision', target: this.target, commit });
      base.wantedRevision = newest;
      if (commit !== newest) {
        base.conditions.push(
          this.condition(
            'RevisionWaiting',
            'OperationRunning',
            `revision ${shortSha(newest)} waits for the running operation on ${shortSha(commit)}`,
          ),
        );
      }
      const fetched = await this.deadline.race(
        sources.fetch(this.app.spec, commit, credentials),
        () => `the checkout of ${source.repoURL} at ${shortSha(commit ?? '')}`,
      );
      manifests = await renderFetched(
        this.deps.renderer ?? sharedRenderer,
        fetched,
        this.app,
        this.defaultNamespace,
      );
      client = clientWithDeadline(await this.deps.clusters.connect(clusterSpec), this.deadline);
      plan = await buildPlan(
        manifests,
        this.app,
        this.defaultNamespace,
        async (apiVersion, kind) => {
          try {
            return (await client.resource(apiVersion, kind)).namespaced;
          } catch (e) {
            if (e instanceof DriftlessError && e.reason === 'UnknownKind') return undefined;
            throw e;
          }
        },
      );
    } catch (e) {
      return this.fail(base, asDriftlessError(e), commit);
    }

    try {
      // 2. Drift check.
      const drift = await checkDrift({
        client,
        app: this.app.metadata.name,
        desired: plan.resources,
        inventory: this.prev?.inventory ?? [],
        ignore: this.app.spec.ignoreDifferences,
        withDiff: this.opts.withDiff ?? this.preview,
        concurrency: this.opts.concurrency,
      });
      // Hooks are not kept in sync, and never pruned as extras.
      const hookKeys = new Set(plan.hooks.map((h) => h.key));
      drift.objects = drift.objects.filter(
        (o) => !(o.state === 'Extra' && (hookKeys.has(o.key) || isHook(o.live))),
      );
      const outOfSync = drift.objects.filter((o) => o.state === 'OutOfSync' && !o.sharedWith);
      const missing = drift.objects.filter((o) => o.state === 'Missing');
      const extra = drift.objects.filter((o) => o.state === 'Extra');
      const allowPrune = this.allowPrune;
      // Extras a sync would prune: not kept by annotation, and a Prune=confirm one only when allowed.
      const toPrune = extra.filter(
        (o) =>
          isCountedExtra(o) && (allowPrune || syncOptionsOrDefault(o.live).prune !== 'confirm'),
      );
      this.deps.onEvent?.({
        type: 'drift',
        target: this.target,
        outOfSync: outOfSync.length,
        missing: missing.length,
        extra: extra.length,
      });

      // 3. Decide.
      const policy = this.app.spec.syncPolicy;
      const resuming = !!running && !this.preview;
      const revisionChanged = this.prev?.syncedRevision !== commit;
      const pruning = policy.prune || allowPrune;
      const work = outOfSync.length + missing.length + (pruning ? toPrune.length : 0);
      // Argo CD's alreadyAttemptedSync: the last sync was of this commit and
      // source and failed (after its retries): automation waits for a new
      // commit, a change to the source, or a manual sync. (A transient Error
      // is the worker's to retry, and the next sweep tries again.)
      const last = this.prev?.operation;
      const failedBefore =
        !!last &&
        last.phase === 'Failed' &&
        last.revision === commit &&
        last.source === sourceDigest(this.app);
      const automatic =
        policy.automated &&
        !this.app.spec.suspended &&
        work > 0 &&
        !failedBefore &&
        (revisionChanged || policy.selfHeal || this.prev === undefined);
      const shouldSync =
        this.mode !== 'preview' && (this.mode === 'manual' || resuming || automatic);
      if (!shouldSync) {
        const waiting =
          failedBefore && policy.automated && !this.app.spec.suspended && work > 0
            ? last
            : undefined;
        return await this.observe(base, drift, plan, commit, revisionChanged, waiting);
      }
      const refusal = emptyRenderRefusal(plan, pruning ? toPrune : []);
      if (refusal && !resuming && !policy.allowEmpty && !(this.mode === 'manual' && allowPrune)) {
        base.conditions.push(this.condition('SyncRefused', refusal.reason, refusal.message));
        return await this.observe(base, drift, plan, commit, revisionChanged);
      }
      // The cluster's own schemas, before the first write of an operation.
      if (!resuming) {
        const check = await schemaCheck();
        const invalid = await check.presyncSchemaError(
          this.deps.schemas ?? check.cache,
          clusterSpec.metadata.name,
          client,
          plannedManifests(plan, manifests),
        );
        if (invalid) return this.fail(base, invalid, commit);
      }
      return await this.sync(base, drift, plan, commit, newest, client, running);
    } catch (e) {
      return this.fail(base, asDriftlessError(e), commit);
    }
  }

  /** No sync: record what is, and keep the inventory's fast path warm. */
  private async observe(
    base: TargetStatus,
    drift: DriftReport,
    plan: SyncPlan,
    commit: string,
    revisionChanged: boolean,
    /** The failed operation automation waits behind. */
    failed?: OperationResult,
  ): Promise<ReconcileOutcome> {
    const drifted = drift.objects.filter((o) => o.state !== 'Synced');
    const prunable = drifted.filter((o) => o.state !== 'Extra' || isCountedExtra(o));
    this.sharedConditions(base, drift);
    const status: TargetStatus = {
      ...base,
      sync: prunable.length ? 'OutOfSync' : 'Synced',
      lastCheckedAt: this.iso(),
    };
    // Nothing to do for a new revision with no changes: it is synced as it stands.
    if (!prunable.length && revisionChanged && !this.preview) status.syncedRevision = commit;
    status.inventory = this.inventoryAfter(drift, plan, new Map(), this.prev?.inventory ?? []);
    const health = this.healthOf(drift.objects, new Map());
    this.applyHealth(status, health.app);
    status.resources = this.resourceStatuses(drift.objects, plan, health.byKey, new Map());
    if (failed) {
      status.conditions.push(
        this.condition(
          'SyncError',
          failed.reason ?? 'SyncFailed',
          `automated sync of ${shortSha(commit)} failed after ${failed.attempt} ${failed.attempt === 1 ? 'attempt' : 'attempts'}: ${failed.message}; waiting for a new commit, a change to the source, or a manual sync`,
        ),
      );
    }
    if (prunable.length) {
      const { automated, selfHeal } = this.app.spec.syncPolicy;
      const why = this.preview
        ? 'preview'
        : base.conditions.some((c) => c.type === 'SyncRefused')
          ? 'sync refused'
          : failed
            ? `the last sync of ${shortSha(commit)} failed`
            : prunable.every((o) => o.sharedWith)
              ? 'managed by another application'
              : this.app.spec.suspended
                ? 'the application is suspended'
                : !automated
                  ? 'automated sync is off'
                  : !selfHeal
                    ? 'selfHeal is off'
                    : 'prune is off';
      status.conditions.push(
        this.condition(
          'OutOfSync',
          'DriftDetected',
          `${prunable.length} objects differ from Git (${why})`,
        ),
      );
    }
    const requeueAfterMs = this.recheckAfter(status);
    if (!this.preview) await this.deps.store.putTargetStatus(status, this.lease.fencingToken);
    // A pushed revision with nothing to apply is in sync as it stands: its commit status says so.
    if (!prunable.length && revisionChanged && !this.preview && !failed) {
      await this.report(
        commit,
        'success',
        `in sync at ${shortSha(commit)}: nothing to apply; ${status.health}`,
      );
    }
    return { status, drift: drift.objects, requeueAfterMs };
  }

  /**
   * Renews the lease before each step that writes to the cluster (a wave, a
   * prune, hooks, SyncFail hooks): a worker whose lease was taken over (it
   * stalled past the TTL), or whose target was deleted meanwhile (the lease
   * lives on the target's record), stops here with LeaseLost instead of
   * applying over the newer holder's work.
   */
  private async holdLease(): Promise<void> {
    this.lease = await this.deps.leases.renew(this.lease, this.leaseTtlMs);
  }

  /** Stops with Terminated when someone asked to end this operation (`driftless terminate`). */
  private async unlessTerminated(op: OperationResult): Promise<void> {
    if (this.preview) return;
    const asked = (await this.deps.store.getTargetRecord(this.target))?.termination;
    if (asked?.operationId === op.id) {
      throw new DriftlessError(
        'Terminated',
        `operation ${op.id} terminated by ${asked.by} at ${this.iso(asked.at)}`,
      );
    }
  }

  /** A condition; one that persists keeps the time it first appeared (and the status stays byte-identical). */
  private condition(type: string, reason: string, message: string) {
    const same = this.prev?.conditions.find(
      (c) => c.type === type && c.reason === reason && c.message === message,
    );
    return { type, reason, message, lastTransitionTime: same?.lastTransitionTime ?? this.iso() };
  }

  /** One SharedResource condition naming the objects another app manages. */
  private sharedConditions(base: TargetStatus, drift: DriftReport) {
    const shared = drift.objects.filter((o) => o.sharedWith);
    if (!shared.length) return;
    base.conditions.push(
      this.condition(
        'SharedResource',
        'SharedResource',
        `${shared.length} objects are managed by another application and were not applied: ${shared
          .map((o) => `${describeRef(parseRefKey(o.key))} (application ${o.sharedWith})`)
          .join(
            ', ',
          )}. Remove them from one of the two, or annotate them ${SHARED_ADOPTION_HINT} to take them over.`,
      ),
    );
  }

  private async sync(
    base: TargetStatus,
    drift: DriftReport,
    plan: SyncPlan,
    commit: string,
    newest: string,
    client: ClusterClient,
    resumed: OperationResult | undefined,
  ): Promise<ReconcileOutcome> {
    const policy = this.app.spec.syncPolicy;
    const op: OperationResult = resumed
      ? { ...resumed, nextAttemptAt: undefined }
      : {
          id: this.req.operationId ?? randomUUID(),
          trigger: this.req.trigger,
          ...(this.req.initiator ? { initiator: this.req.initiator } : {}),
          ...(this.requested(commit) ? { requestedRevision: this.requested(commit) } : {}),
          revision: commit,
          ...(this.allowPrune ? { allowPrune: true } : {}),
          source: sourceDigest(this.app),
          phase: 'Running',
          message: 'syncing',
          startedAt: this.iso(),
          attempt: 1,
          applied: 0,
          pruned: 0,
          drifted: drift.objects.filter((o) => o.state !== 'Synced').length,
          progress: { stage: 'PreSync', startedHooks: [], startedAt: this.iso() },
        };
    const progress = op.progress ?? { stage: 'PreSync', startedHooks: [] };
    progress.startedAt ??= this.iso();
    op.progress = progress;
    // Only what this attempt created (a status written by an older version kept bare keys).
    const started: StartedHook[] = progress.startedHooks.filter(
      (h): h is StartedHook => typeof h === 'object' && h !== null,
    );
    const applied = new Map<string, KubeObject>();
    const byKey = new Map(drift.objects.map((o) => [o.key, o]));
    if (!resumed) await this.report(commit, 'pending', `syncing ${shortSha(commit)}`);

    const hookEvents = (e: { key: string; phase: string; action: string }) =>
      this.deps.onEvent?.({ type: 'hook', target: this.target, ...e });
    const hookOpts = () => ({
      run: { operationId: op.id, attempt: op.attempt },
      started,
      waitBudgetMs: Math.max(0, this.waitBudgetMs - (this.clock.now() - this.startedAtMs)),
      force: policy.force,
      onEvent: hookEvents,
    });
    const yieldFor = async (message: string, recheckAfterMs: number): Promise<ReconcileOutcome> => {
      const since = Date.parse(progress.startedAt ?? op.startedAt);
      if (this.clock.now() - since > policy.healthTimeout) {
        throw new DriftlessError(
          'HealthTimeout',
          `${message}; gave up after ${policy.healthTimeout / 1000}s (syncPolicy.healthTimeout)`,
        );
      }
      progress.startedHooks = [...started];
      op.message = message;
      const status = this.statusWith(base, drift, plan, applied, commit, op);
      await this.deps.store.putTargetStatus(status, this.lease.fencingToken);
      return { status, requeueAfterMs: recheckAfterMs, drift: drift.objects };
    };
    const hasPostSync = plan.hooks.some((h) => h.phases.includes('PostSync'));
    // Waves of resources and waves that hold only Sync hooks, lowest first.
    const waveNumbers = [
      ...new Set([
        ...plan.waves.map((w) => w.wave),
        ...plan.hooks.filter((h) => h.phases.includes('Sync')).map((h) => h.wave),
      ]),
    ].sort((a, b) => a - b);

    try {
      await this.holdLease();
      await this.unlessTerminated(op);
      // Namespaces and CRDs first (hooks need their namespace); CRDs must be
      // Established before their kinds resolve.
      if (progress.stage !== 'PostSync') {
        const foundation = plan.foundation.filter((d) => needsApply(byKey.get(d.key)));
        op.applied += await this.applyGroup(client, foundation, byKey, applied, 0);
        const crds = plan.foundation.filter((d) => d.object.kind === 'CustomResourceDefinition');
        if (crds.length) {
          await waitForCrds(
            client,
            crds.map((d) => applied.get(d.key) ?? d.object),
          );
        }
      }

      // PreSync hooks.
      if (progress.stage === 'PreSync') {
        const pre = await runHooks(client, plan.hooks, 'PreSync', hookOpts());
        if (pre.state === 'pending') return await yieldFor(pre.message, pre.recheckAfterMs);
        if (pre.state === 'failed')
          throw new DriftlessError('HookFailed', pre.message, {
            object: describeRef(parseRefKey(pre.key)),
          });
        progress.stage = 'Waves';
      }

      if (progress.stage === 'Waves') {
        for (const [index, wave] of waveNumbers.entries()) {
          if (progress.wave !== undefined && wave < progress.wave) continue;
          const objects = plan.waves.find((w) => w.wave === wave)?.objects ?? [];
          await this.holdLease();
          await this.unlessTerminated(op);
          this.deps.onEvent?.({ type: 'wave', target: this.target, wave, state: 'applying' });
          const todo = objects.filter((d) => needsApply(byKey.get(d.key)));
          op.applied += await this.applyGroup(client, todo, byKey, applied, wave);
          // Sync hooks of this wave run with it.
          const syncHooks = await runHooks(client, plan.hooks, 'Sync', hookOpts(), wave);
          if (syncHooks.state === 'pending') {
            progress.wave = wave;
            return await yieldFor(syncHooks.message, syncHooks.recheckAfterMs);
          }
          if (syncHooks.state === 'failed')
            throw new DriftlessError('HookFailed', syncHooks.message);
          // Each wave healthy before the next. The last one, with no PostSync
          // hook to wait for, ends the operation once applied; its health is
          // evaluated and reported from then on (as Argo CD does).
          if (index === waveNumbers.length - 1 && !hasPostSync) break;
          const waveHealth = await this.waitWaveHealthy(client, objects, byKey, applied);
          if (waveHealth.status === 'Degraded') {
            throw new DriftlessError(
              'Unhealthy',
              `wave ${wave} is degraded: ${waveHealth.message ?? ''}`,
            );
          }
          if (
            waveHealth.status !== 'Healthy' &&
            waveHealth.status !== 'Suspended' &&
            waveHealth.status !== 'Missing'
          ) {
            progress.wave = wave;
            this.deps.onEvent?.({ type: 'wave', target: this.target, wave, state: 'waiting' });
            return await yieldFor(
              `waiting for wave ${wave}: ${waveHealth.message ?? waveHealth.status}`,
              waveHealth.recheckAfterMs ?? WAVE_RECHECK_MS,
            );
          }
          this.deps.onEvent?.({ type: 'wave', target: this.target, wave, state: 'healthy' });
        }

        // Prune what Git no longer has.
        await this.holdLease();
        const extras = drift.objects.filter((o) => o.state === 'Extra' && o.live);
        const decision = decidePrune(
          extras.map((o) => ({ key: o.key, live: o.live as KubeObject })),
          this.prev?.inventory ?? [],
          {
            app: this.app.metadata.name,
            syncPolicy: policy,
            policy: this.app.spec.policy,
          },
          { allowGuarded: this.allowPrune },
        );
        const pruned = await executePrune(
          client,
          decision,
          this.prev?.inventory ?? [],
          this.opts.concurrency,
          (key) => this.deps.onEvent?.({ type: 'pruned', target: this.target, key }),
        );
        op.pruned += pruned.length;
        for (const key of pruned) {
          const o = byKey.get(key);
          if (o) o.reason = 'pruned';
          drift.objects = drift.objects.filter((x) => x.key !== key);
        }
        for (const k of decision.kept) {
          const o = byKey.get(k.key);
          if (o) o.reason = k.reason;
        }
        const awaiting = decision.kept.filter((k) => k.code === 'AwaitingConfirmation');
        if (awaiting.length) {
          base.conditions.push(
            this.condition(
              'PruneConfirmationRequired',
              'AwaitingConfirmation',
              `${awaiting.length} objects annotated Prune=confirm wait for a manual sync that allows the prune: ` +
                awaiting.map((k) => describeRef(parseRefKey(k.key))).join(', '),
            ),
          );
        }
        if (decision.refusal) {
          base.conditions.push(this.condition('PruneRefused', 'PruneRefused', decision.refusal));
          op.reason = 'PruneRefused';
          op.message = decision.refusal;
        }
        progress.stage = 'PostSync';
        progress.wave = undefined;
      }

      // PostSync hooks, once everything is applied and healthy.
      if (hasPostSync) {
        const all = plan.waves.flatMap((w) => w.objects);
        const health = await this.waitWaveHealthy(client, all, byKey, applied);
        if (health.status === 'Degraded') {
          throw new DriftlessError('Unhealthy', `degraded: ${health.message ?? ''}`);
        }
        if (health.status === 'Progressing' || health.status === 'Unknown') {
          return await yieldFor(
            `waiting for health before PostSync hooks: ${health.message ?? health.status}`,
            health.recheckAfterMs ?? WAVE_RECHECK_MS,
          );
        }
      }
      await this.holdLease();
      await this.unlessTerminated(op);
      const post = await runHooks(client, plan.hooks, 'PostSync', hookOpts());
      if (post.state === 'pending') return await yieldFor(post.message, post.recheckAfterMs);
      if (post.state === 'failed') throw new DriftlessError('HookFailed', post.message);
    } catch (e) {
      const err = asDriftlessError(e);
      // Another worker holds the target now: it owns the cluster and the status.
      if (err.reason === 'LeaseLost') return { status: base, error: err, retryable: false };
      // A transient error (the cluster or the network, the invocation's
      // deadline) leaves the operation Running where it stands, and the
      // worker retries the job (lib/worker.ts), which resumes it by id; only
      // when the worker's retries are spent does it end as Error. Any other
      // failure of an automated operation is retried by the operation itself
      // up to syncPolicy.retry.limit times, each attempt from the start
      // (hooks named anew), after a backoff.
      const transient = isRetryable(err.reason);
      const workerRetries = transient && (this.req.attempt ?? 1) <= policy.retry.limit;
      if (workerRetries && err.reason !== 'Terminated') {
        progress.startedHooks = [...started];
        op.message = `${err.describe()}; the operation resumes when the job is retried`;
        const status = this.statusWith(base, drift, plan, applied, commit, op);
        status.conditions.push(this.condition('ReconcileError', err.reason, err.describe()));
        await this.deps.store.putTargetStatus(status, this.lease.fencingToken);
        return { status, error: err, retryable: true, drift: drift.objects };
      }
      if (
        !transient &&
        err.reason !== 'Terminated' &&
        this.mode === 'auto' &&
        op.attempt <= policy.retry.limit
      ) {
        const delayMs = retryBackoffMs(this.app, op.attempt);
        op.reason = err.reason;
        op.message = `attempt ${op.attempt} failed: ${err.describe()}; attempt ${op.attempt + 1} in ${Math.round(delayMs / 1000)}s`;
        op.attempt += 1;
        op.nextAttemptAt = this.iso(this.clock.now() + delayMs);
        op.progress = { stage: 'PreSync', startedHooks: [] };
        const status = this.statusWith(base, drift, plan, applied, commit, op);
        status.conditions.push(this.condition('SyncRetrying', err.reason, op.message));
        await this.deps.store.putTargetStatus(status, this.lease.fencingToken);
        // The failure is reported; the operation, not the worker, retries it.
        return {
          status,
          error: err,
          retryable: false,
          requeueAfterMs: delayMs,
          drift: drift.objects,
        };
      }
      // The operation failed for good (no retry left, here or in the worker,
      // or terminated): its SyncFail hooks run once, best effort, within what
      // is left of the budget.
      try {
        await this.holdLease();
        await runHooks(client, plan.hooks, 'SyncFail', { ...hookOpts(), started: [] });
      } catch {
        // the sync failure is what the user needs to see
      }
      op.phase = transient ? 'Error' : 'Failed';
      op.reason = err.reason;
      op.message = err.describe();
      op.finishedAt = this.iso();
      op.progress = undefined;
      const status = this.statusWith(base, drift, plan, applied, commit, op);
      status.conditions.push(this.condition('SyncFailed', err.reason, err.describe()));
      await this.deps.store.putTargetStatus(status, this.lease.fencingToken);
      await this.deps.store.appendHistory(this.target, op, this.lease.fencingToken);
      await this.report(commit, 'failure', `sync failed: ${err.describe()}`);
      return {
        status,
        error: err,
        retryable: transient,
        drift: drift.objects,
        requeueAfterMs: newest !== commit ? NEXT_REVISION_DELAY_MS : undefined,
      };
    }

    op.phase = op.reason === 'PruneRefused' ? 'Failed' : 'Succeeded';
    if (op.phase === 'Succeeded') op.message = `applied ${op.applied}, pruned ${op.pruned}`;
    op.finishedAt = this.iso();
    op.progress = undefined;
    this.sharedConditions(base, drift);
    const status = this.statusWith(base, drift, plan, applied, commit, op);
    status.syncedRevision = commit;
    const recheck = this.recheckAfter(status);
    await this.deps.store.putTargetStatus(status, this.lease.fencingToken);
    await this.deps.store.appendHistory(this.target, op, this.lease.fencingToken);
    await this.report(
      commit,
      op.phase === 'Succeeded' ? 'success' : 'failure',
      op.phase === 'Succeeded'
        ? `synced ${shortSha(commit)}: ${op.message}; ${status.health}`
        : op.message,
    );
    // A newer revision waited for this operation: sync it next.
    const requeueAfterMs = newest !== commit ? NEXT_REVISION_DELAY_MS : recheck;
    return { status, drift: drift.objects, requeueAfterMs };
  }

  private async applyGroup(
    client: ClusterClient,
    objects: Pick<DesiredObject, 'key' | 'object' | 'file' | 'line' | 'wave' | 'options'>[],
    byKey: Map<string, ObjectDrift>,
    applied: Map<string, KubeObject>,
    wave: number,
  ): Promise<number> {
    if (!objects.length) return 0;
    const items = objects.map((d) => ({
      key: d.key,
      object: byKey.get(d.key)?.applyObject ?? d.object,
      file: d.file,
      line: d.line,
      options: d.options,
      live: byKey.get(d.key)?.live,
    }));
    const result = await applyObjects(client, items, {
      force: this.app.spec.syncPolicy.force,
      concurrency: this.opts.concurrency,
      // Recorded as each lands, so a failure later in the group leaves what did apply Synced.
      onApplied: (key, live) => {
        applied.set(key, live);
        this.deps.onEvent?.({ type: 'applied', target: this.target, key, wave });
      },
      // The object that failed says why in its own status; the others keep theirs.
      onFailed: (key, err) => {
        const o = byKey.get(key);
        if (o) o.reason = err.describe();
      },
    });
    for (const [k, v] of result) {
      applied.set(k, v);
      const o = byKey.get(k);
      if (o) {
        o.state = 'Synced';
        o.live = v;
        o.reason = 'applied';
      }
    }
    return result.size;
  }

  /** Polls the wave's objects (one LIST per kind) until healthy, degraded or out of budget. */
  private async waitWaveHealthy(
    client: ClusterClient,
    objects: { key: string; object: KubeObject }[],
    byKey: Map<string, ObjectDrift>,
    applied: Map<string, KubeObject>,
  ): Promise<HealthResult> {
    const keys = new Set(objects.map((o) => o.key));
    const evaluate = () =>
      appHealth(
        objects.map((o) => {
          const live = applied.get(o.key) ?? byKey.get(o.key)?.live;
          return {
            key: o.key,
            health: live ? evaluateHealth(live) : { status: 'Missing' as const },
          };
        }),
      );
    let health = evaluate();
    while (health.status === 'Progressing' || health.status === 'Unknown') {
      const left = this.waitBudgetMs - (this.clock.now() - this.startedAtMs);
      if (left <= 0) return health;
      await new Promise((r) =>
        setTimeout(r, Math.min(health.recheckAfterMs ?? HEALTH_POLL_MS, HEALTH_POLL_MS, left)),
      );
      const kinds = new Map(
        objects.map((o) => [`${o.object.apiVersion}/${o.object.kind}`, o.object]),
      );
      for (const obj of kinds.values()) {
        const items = await client.list(obj.apiVersion, obj.kind, {
          labelSelector: appSelector(this.app.metadata.name),
        });
        for (const item of items) {
          const k = objectKey(item);
          if (keys.has(k)) applied.set(k, item);
        }
      }
      health = evaluate();
    }
    return health;
  }

  private healthOf(objects: ObjectDrift[], applied: Map<string, KubeObject>) {
    const byKey = new Map<string, HealthResult>();
    for (const o of objects) {
      if (o.state === 'Extra') continue;
      const live = applied.get(o.key) ?? o.live;
      if (o.leftAlone && !live) continue; // not ours to create (ssa: Ignore, reconcile: disabled)
      byKey.set(
        o.key,
        live ? evaluateHealth(live) : { status: 'Missing', message: 'not found in the cluster' },
      );
    }
    return { byKey, app: appHealth([...byKey].map(([key, health]) => ({ key, health }))) };
  }

  private applyHealth(status: TargetStatus, health: HealthResult) {
    status.health = health.status;
    status.healthMessage = health.message;
    if (health.status !== 'Progressing') delete status.progressingSince;
    else if (this.prev?.health !== 'Progressing' || !this.prev.progressingSince) {
      status.progressingSince = this.iso();
    }
  }

  /**
   * When to look again at a target whose health is still Progressing (a
   * rollout, a PVC waiting for its volume) after the operation ended: soon at
   * first, less often the longer it takes, and not at all once it has been
   * Progressing for syncPolicy.healthTimeout (the drift sweep looks again
   * then). Undefined: no re-check.
   */
  private recheckAfter(status: TargetStatus): number | undefined {
    const soonest = recheckOf(status);
    if (soonest === undefined) return undefined;
    const timeout = this.app.spec.syncPolicy.healthTimeout;
    const since = Date.parse(status.progressingSince ?? this.iso());
    const elapsed = this.clock.now() - since;
    if (elapsed >= timeout) {
      status.conditions.push(
        this.condition(
          'HealthCheckStopped',
          'HealthTimeout',
          `still Progressing after ${Math.round(timeout / 1000)}s (syncPolicy.healthTimeout): ${status.healthMessage ?? 'no message'}; re-checks stopped, the next drift check looks again`,
        ),
      );
      return undefined;
    }
    const backedOff = Math.min(Math.max(soonest, elapsed / 4), MAX_RECHECK_MS);
    return Math.max(MIN_RECHECK_MS, Math.min(backedOff, timeout - elapsed));
  }

  private statusWith(
    base: TargetStatus,
    drift: DriftReport,
    plan: SyncPlan,
    applied: Map<string, KubeObject>,
    commit: string,
    op: OperationResult,
  ): TargetStatus {
    const health = this.healthOf(drift.objects, applied);
    const status: TargetStatus = {
      ...base,
      wantedRevision: base.wantedRevision ?? commit,
      // The comparison only: whatever the operation's phase and the health.
      sync: comparisonOf(drift.objects),
      operation: { ...op },
      lastCheckedAt: this.iso(),
    };
    this.applyHealth(status, health.app);
    status.resources = this.resourceStatuses(drift.objects, plan, health.byKey, applied);
    status.inventory = this.inventoryAfter(drift, plan, applied, this.prev?.inventory ?? []);
    return status;
  }

  private resourceStatuses(
    objects: ObjectDrift[],
    plan: SyncPlan,
    health: Map<string, HealthResult>,
    applied: Map<string, KubeObject>,
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
        ...(o.state === 'Extra' && isPruneDisabled(o.live) ? { pruneSkipped: o.reason } : {}),
      };
    });
  }

  /**
   * The inventory the next drift check starts from: every desired object with
   * the hash and resourceVersion it is known to be in sync at. An object seen
   * OutOfSync keeps its old entry (so it is checked again, not fast-pathed);
   * extras not pruned stay tracked.
   */
  private inventoryAfter(
    drift: DriftReport,
    plan: SyncPlan,
    applied: Map<string, KubeObject>,
    previous: InventoryEntry[],
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
          desiredHash: desiredFingerprint(d, this.app.spec.ignoreDifferences),
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

  /** The reconcile failed before or outside a sync; the last known health is kept. */
  private async fail(
    base: TargetStatus,
    err: DriftlessError,
    commit: string | undefined,
  ): Promise<ReconcileOutcome> {
    // Another worker holds the target now: its status stands, ours is not written.
    if (err.reason === 'LeaseLost') return { status: base, error: err, retryable: false };
    const transient = isRetryable(err.reason);
    const running = this.running;
    // A running operation outlives a transient failure around it (Git or the
    // cluster briefly gone, the deadline): the retry resumes it by id. Any
    // other failure of its revision ends it.
    if (running && transient && !this.preview) {
      const status: TargetStatus = {
        ...base,
        operation: {
          ...running,
          message: `${err.describe()}; the operation resumes on the next attempt`,
        },
        lastCheckedAt: this.iso(),
      };
      status.conditions.push(this.condition('ReconcileError', err.reason, err.describe()));
      await this.deps.store.putTargetStatus(status, this.lease.fencingToken);
      return { status, error: err, retryable: true };
    }
    const op: OperationResult = running
      ? {
          ...running,
          phase: transient ? 'Error' : 'Failed',
          reason: err.reason,
          message: err.describe(),
          finishedAt: this.iso(),
          progress: undefined,
        }
      : {
          id: this.req.operationId ?? randomUUID(),
          trigger: this.req.trigger,
          ...(this.req.initiator ? { initiator: this.req.initiator } : {}),
          revision: commit ?? this.req.revision ?? this.app.spec.source.revision,
          phase: transient ? 'Error' : 'Failed',
          reason: err.reason,
          message: err.describe(),
          startedAt: this.iso(this.startedAtMs),
          finishedAt: this.iso(),
          attempt: this.req.attempt ?? 1,
          applied: 0,
          pruned: 0,
          drifted: 0,
        };
    const status: TargetStatus = {
      ...base,
      sync: 'Unknown',
      operation: op,
      lastCheckedAt: this.iso(),
    };
    status.conditions.push(
      this.condition(
        isRetryable(err.reason) ? 'ReconcileError' : 'InvalidRevision',
        err.reason,
        err.describe(),
      ),
    );
    if (!this.preview) {
      await this.deps.store.putTargetStatus(status, this.lease.fencingToken);
      await this.deps.store.appendHistory(this.target, op, this.lease.fencingToken);
      if (commit)
        await this.report(commit, isRetryable(err.reason) ? 'error' : 'failure', err.describe());
    }
    return { status, error: err, retryable: isRetryable(err.reason) };
  }
}

/**
 * Synced when live matches desired: every desired object applied or found in
 * sync, and no extra left that would be pruned. Independent of health and of
 * the operation.
 */
function comparisonOf(objects: ObjectDrift[]): TargetStatus['sync'] {
  const differs = objects.some(
    (o) =>
      o.state === 'OutOfSync' ||
      o.state === 'Missing' ||
      isCountedExtra(o) ||
      // Another app's object this one declares: not applied, so not in sync.
      !!o.sharedWith,
  );
  return differs ? 'OutOfSync' : 'Synced';
}

function needsApply(o: ObjectDrift | undefined): boolean {
  return !o || o.state === 'Missing' || (o.state === 'OutOfSync' && !o.sharedWith);
}

/** An Extra that makes the app OutOfSync: not kept by annotation, not `IgnoreExtraneous`. */
function isCountedExtra(o: ObjectDrift): boolean {
  if (o.state !== 'Extra' || isPruneDisabled(o.live)) return false;
  return !syncOptionsOrDefault(o.live).ignoreExtraneous;
}

/**
 * Argo CD's empty-render guard: a sync whose render is empty, or that would
 * prune every object the app manages, is refused unless the app allows it
 * (syncPolicy.allowEmpty) or a manual sync allows the prune.
 */
function emptyRenderRefusal(
  plan: SyncPlan,
  toPrune: ObjectDrift[],
): { reason: string; message: string } | undefined {
  // As Argo CD: only when every resource of the comparison would be pruned,
  // so a commit that renames every object is not refused.
  if (toPrune.length === 0 || plan.resources.length > 0) return undefined;
  const remedy =
    'Set spec.syncPolicy.allowEmpty: true, or run a manual sync that allows the prune.';
  return plan.hooks.length === 0
    ? {
        reason: 'EmptyRender',
        message: `refused to sync: the source renders no objects, and the sync would prune all ${toPrune.length} the application manages. ${remedy}`,
      }
    : {
        reason: 'WouldPruneAll',
        message: `refused to sync: the source renders only hooks, and the sync would prune every object the application manages (${toPrune.length}). ${remedy}`,
      };
}

/** The soonest recheck among Progressing objects. */
function recheckOf(status: TargetStatus): number | undefined {
  if (status.health !== 'Progressing') return undefined;
  const delays = status.resources
    .filter((r) => r.health?.status === 'Progressing')
    .map((r) => r.health?.recheckAfterMs ?? PROGRESSING_RECHECK_MS);
  return delays.length ? Math.min(...delays) : PROGRESSING_RECHECK_MS;
}
