// One reconcile of one target after its lease is taken: resolve the revision
// (a running operation keeps its own), fetch, render and validate everything
// before touching the cluster, check drift (O(kinds) requests), decide, then
// either record what is (no sync) or run the sync's phase machine (sync.ts).
// A failure before or outside a sync is recorded here (fail).

import { randomUUID } from 'node:crypto';
import { buildPlan, plannedManifests, type SyncPlan } from '../apply/plan.js';
import { checkDrift, type DriftReport, type ObjectDrift } from '../diff/index.js';
import { asDriftlessError, DriftlessError, isRetryable } from '../errors.js';
import { isHook, syncOptionsOrDefault } from '../model/annotations.js';
import type { Manifest } from '../model/manifest.js';
import { appSourcesRefusal, destinationRefusal } from '../model/project.js';
import { shortSha } from '../model/revision.js';
import type { OperationResult, TargetStatus } from '../model/status.js';
import type { ClusterClient, ClusterConnector } from '../ports/cluster.js';
import { renderFetched, SourceDispatcher } from '../source/index.js';
import type { ClusterSchemaCache } from '../validate/presync.js';
import { clientWithDeadline } from './deadline.js';
import type { TargetScope } from './scope.js';
import { emptyStatus, failedView, isCountedExtra } from './status.js';
import { runSync } from './sync.js';
import { type ReconcileOutcome, sourceDigest } from './types.js';

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

export class TargetRun {
  constructor(private readonly s: TargetScope) {}

  async execute(
    clusterSpec: Parameters<ClusterConnector['connect']>[0],
  ): Promise<ReconcileOutcome> {
    this.s.prev = await this.s.deps.store.getTargetStatus(this.s.target);
    const base: TargetStatus = this.s.prev
      ? { ...this.s.prev, conditions: [] }
      : emptyStatus(this.s.target);
    base.suspended = this.s.app.spec.suspended;
    base.checkStartedAt = this.s.iso(this.s.startedAtMs);
    // One operation per target at a time: a running one is resumed with its
    // own revision; a newer revision waits until it ends.
    const running =
      this.s.prev?.operation?.phase === 'Running' && this.s.prev.operation.progress
        ? this.s.prev.operation
        : undefined;
    if (running?.nextAttemptAt && !this.s.preview) {
      // A failed attempt waiting out its backoff: nothing runs until then,
      // unless someone asked to end it — it ends now (as Argo CD terminates a
      // retrying operation), not after the backoff.
      const wait = Date.parse(running.nextAttemptAt) - this.s.clock.now();
      if (wait > 0 && this.s.prev && !(await this.s.terminationOf(running))) {
        return { status: this.s.prev, requeueAfterMs: wait };
      }
    }
    // A re-check resumes the operation as it was started, whatever triggered the re-check.
    if (running && !this.s.preview) this.s.resume(running);
    let commit: string | undefined;
    let manifests: readonly Manifest[];
    let newest: string | undefined;
    let plan: SyncPlan;
    let client: ClusterClient;
    try {
      // 1. Resolve and fetch the revision; render and validate it all before any cluster write.
      const source = this.s.app.spec.source;
      // The project may have changed since the app was registered: its limits hold now.
      const refused =
        appSourcesRefusal(this.s.project, this.s.app.spec) ??
        destinationRefusal(this.s.project, this.s.target.cluster, this.s.defaultNamespace);
      if (refused) {
        throw new DriftlessError('InvalidSpec', refused.message, { field: refused.field });
      }
      const sources = this.s.deps.sources ?? new SourceDispatcher({ git: this.s.deps.git });
      const credentials = await this.s.deps.credentialsFor?.(this.s.app);
      newest = await sources.resolve(this.s.app.spec, this.s.req.revision, credentials);
      commit = running && !this.s.preview ? running.revision : newest;
      this.s.deps.onEvent?.({ type: 'revision', target: this.s.target, commit });
      base.wantedRevision = newest;
      if (commit !== newest) {
        base.conditions.push(
          this.s.condition(
            'RevisionWaiting',
            'OperationRunning',
            `revision ${shortSha(newest)} waits for the running operation on ${shortSha(commit)}`,
          ),
        );
      }
      const fetched = await this.s.deadline.race(
        sources.fetch(this.s.app.spec, commit, credentials),
        () => `the checkout of ${source.repoURL} at ${shortSha(commit ?? '')}`,
      );
      manifests = await renderFetched(
        this.s.deps.renderer,
        fetched,
        this.s.app,
        this.s.defaultNamespace,
      );
      client = clientWithDeadline(await this.s.deps.clusters.connect(clusterSpec), this.s.deadline);
      plan = await buildPlan(
        manifests,
        this.s.app,
        this.s.defaultNamespace,
        async (apiVersion, kind) => {
          try {
            return (await client.resource(apiVersion, kind)).namespaced;
          } catch (e) {
            if (e instanceof DriftlessError && e.reason === 'UnknownKind') return undefined;
            throw e;
          }
        },
        { project: this.s.project, cluster: this.s.target.cluster },
      );
    } catch (e) {
      return this.fail(base, asDriftlessError(e), commit);
    }

    try {
      // 2. Drift check.
      const drift = await checkDrift({
        client,
        app: this.s.app.metadata.name,
        desired: plan.resources,
        inventory: this.s.prev?.inventory ?? [],
        ignore: this.s.app.spec.ignoreDifferences,
        withDiff: this.s.opts.withDiff ?? this.s.preview,
        concurrency: this.s.opts.concurrency,
      });
      // Hooks are not kept in sync, and never pruned as extras.
      const hookKeys = new Set(plan.hooks.map((h) => h.key));
      drift.objects = drift.objects.filter(
        (o) => !(o.state === 'Extra' && (hookKeys.has(o.key) || isHook(o.live))),
      );
      const outOfSync = drift.objects.filter((o) => o.state === 'OutOfSync' && !o.sharedWith);
      const missing = drift.objects.filter((o) => o.state === 'Missing');
      const extra = drift.objects.filter((o) => o.state === 'Extra');
      const allowPrune = this.s.allowPrune;
      // Extras a sync would prune: not kept by annotation, and a Prune=confirm one only when allowed.
      const toPrune = extra.filter(
        (o) =>
          isCountedExtra(o) && (allowPrune || syncOptionsOrDefault(o.live).prune !== 'confirm'),
      );
      this.s.deps.onEvent?.({
        type: 'drift',
        target: this.s.target,
        outOfSync: outOfSync.length,
        missing: missing.length,
        extra: extra.length,
      });

      // 3. Decide.
      const policy = this.s.app.spec.syncPolicy;
      const resuming = !!running && !this.s.preview;
      const revisionChanged = this.s.prev?.syncedRevision !== commit;
      const pruning = policy.prune || allowPrune;
      const work = outOfSync.length + missing.length + (pruning ? toPrune.length : 0);
      // Argo CD's alreadyAttemptedSync: the last sync was of this commit and
      // source and failed (after its retries): automation waits for a new
      // commit, a change to the source, or a manual sync. (A transient Error
      // is the worker's to retry, and the next sweep tries again.)
      const last = this.s.prev?.operation;
      const failedBefore =
        !!last &&
        last.phase === 'Failed' &&
        last.revision === commit &&
        last.source === sourceDigest(this.s.app);
      const automatic =
        policy.automated &&
        !this.s.app.spec.suspended &&
        work > 0 &&
        !failedBefore &&
        (revisionChanged || policy.selfHeal || this.s.prev === undefined);
      const shouldSync =
        this.s.mode !== 'preview' && (this.s.mode === 'manual' || resuming || automatic);
      if (!shouldSync) {
        const waiting =
          failedBefore && policy.automated && !this.s.app.spec.suspended && work > 0
            ? last
            : undefined;
        return await this.observe(base, drift, plan, commit, revisionChanged, waiting);
      }
      const refusal = emptyRenderRefusal(plan, pruning ? toPrune : []);
      if (refusal && !resuming && !policy.allowEmpty && !(this.s.mode === 'manual' && allowPrune)) {
        base.conditions.push(this.s.condition('SyncRefused', refusal.reason, refusal.message));
        return await this.observe(base, drift, plan, commit, revisionChanged);
      }
      // The cluster's own schemas, before the first write of an operation.
      if (!resuming) {
        const check = await schemaCheck();
        const invalid = await check.presyncSchemaError(
          this.s.deps.schemas ?? check.cache,
          clusterSpec.metadata.name,
          client,
          plannedManifests(plan, manifests),
        );
        if (invalid) return this.fail(base, invalid, commit);
      }
      return await runSync(this.s, {
        base,
        drift,
        plan,
        commit,
        newest,
        client,
        resumed: running && !this.s.preview ? running : undefined,
      });
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
    this.s.sharedConditions(base, drift);
    const status = this.s.statusOf(base, drift, plan, new Map(), commit);
    // Nothing to do for a new revision with no changes: it is synced as it stands.
    if (!prunable.length && revisionChanged && !this.s.preview) status.syncedRevision = commit;
    if (failed) {
      status.conditions.push(
        this.s.condition(
          'SyncError',
          failed.reason ?? 'SyncFailed',
          `automated sync of ${shortSha(commit)} failed after ${failed.attempt} ${failed.attempt === 1 ? 'attempt' : 'attempts'}: ${failed.message}; waiting for a new commit, a change to the source, or a manual sync`,
        ),
      );
    }
    if (prunable.length) {
      const { automated, selfHeal } = this.s.app.spec.syncPolicy;
      const why = this.s.preview
        ? 'preview'
        : base.conditions.some((c) => c.type === 'SyncRefused')
          ? 'sync refused'
          : failed
            ? `the last sync of ${shortSha(commit)} failed`
            : prunable.every((o) => o.sharedWith)
              ? 'managed by another application'
              : this.s.app.spec.suspended
                ? 'the application is suspended'
                : !automated
                  ? 'automated sync is off'
                  : !selfHeal
                    ? 'selfHeal is off'
                    : 'prune is off';
      status.conditions.push(
        this.s.condition(
          'OutOfSync',
          'DriftDetected',
          `${prunable.length} objects differ from Git (${why})`,
        ),
      );
    }
    const requeueAfterMs = this.s.recheckAfter(status);
    await this.s.putStatus(status);
    // A pushed revision with nothing to apply is in sync as it stands: its commit status says so.
    if (!prunable.length && revisionChanged && !this.s.preview && !failed) {
      await this.s.report(
        commit,
        'success',
        `in sync at ${shortSha(commit)}: nothing to apply; ${status.health}`,
      );
    }
    return { status, drift: drift.objects, requeueAfterMs };
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
    const running = this.s.running;
    // A running operation outlives a transient failure around it (Git or the
    // cluster briefly gone, the deadline): the retry resumes it by id. Any
    // other failure of its revision ends it.
    if (running && transient && !this.s.preview) {
      const status: TargetStatus = {
        ...base,
        operation: {
          ...running,
          message: `${err.describe()}; the operation resumes on the next attempt`,
        },
        lastCheckedAt: this.s.iso(),
      };
      status.conditions.push(this.s.condition('ReconcileError', err.reason, err.describe()));
      await this.s.putStatus(status);
      return { status, error: err, retryable: true };
    }
    const op: OperationResult = running
      ? {
          ...running,
          phase: transient ? 'Error' : 'Failed',
          reason: err.reason,
          message: err.describe(),
          finishedAt: this.s.iso(),
          progress: undefined,
        }
      : {
          id: this.s.req.operationId ?? randomUUID(),
          trigger: this.s.req.trigger,
          ...(this.s.req.initiator ? { initiator: this.s.req.initiator } : {}),
          revision: commit ?? this.s.req.revision ?? this.s.app.spec.source.revision,
          phase: transient ? 'Error' : 'Failed',
          reason: err.reason,
          message: err.describe(),
          startedAt: this.s.iso(this.s.startedAtMs),
          finishedAt: this.s.iso(),
          attempt: this.s.req.attempt ?? 1,
          applied: 0,
          pruned: 0,
          drifted: 0,
        };
    const status: TargetStatus = {
      ...base,
      sync: 'Unknown',
      operation: op,
      lastCheckedAt: this.s.iso(),
      // Nothing was compared: the cluster's sweep tries again when the target is next due.
      observed: failedView(base.observed),
    };
    status.conditions.push(
      this.s.condition(
        isRetryable(err.reason) ? 'ReconcileError' : 'InvalidRevision',
        err.reason,
        err.describe(),
      ),
    );
    if (!this.s.preview) {
      await this.s.putStatus(status);
      await this.s.appendHistory(op);
      if (commit)
        await this.s.report(commit, isRetryable(err.reason) ? 'error' : 'failure', err.describe());
    }
    return { status, error: err, retryable: isRetryable(err.reason) };
  }
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
