// One sync operation as an explicit phase machine:
//
//   PreSync hooks → Waves (each applied, its Sync hooks run, healthy before
//   the next) → Prune → PostSync hooks (after everything is healthy) → finalize
//
// Namespaces and CRDs are applied first in every invocation that has not
// reached PostSync. Each step returns the next phase or a yield (what it
// waits for and when to look again); a failure is thrown as a DriftlessError
// and handled in one place: left Running for the worker to retry (transient),
// retried by the operation itself after a backoff (automated syncs), or
// ended — SyncFail hooks run — as Failed or Error. Progress (the phase, the
// wave waited on, the hooks this attempt created) is saved in the operation
// record, so a re-check resumes exactly where the last invocation yielded.

import { randomUUID } from 'node:crypto';
import { runHooks } from '../apply/hooks.js';
import { applyObjects, waitForCrds } from '../apply/index.js';
import type { SyncPlan } from '../apply/plan.js';
import {
  appSelector,
  type DesiredObject,
  type DriftReport,
  type ObjectDrift,
} from '../diff/index.js';
import { asDriftlessError, DriftlessError, isRetryable } from '../errors.js';
import { appHealth, evaluateHealth } from '../health/index.js';
import { isCustomResourceDefinition } from '../model/kinds.js';
import { describeRef, type KubeObject, objectKey, parseRefKey } from '../model/object.js';
import { shortSha } from '../model/revision.js';
import type {
  HealthResult,
  OperationProgress,
  OperationResult,
  StartedHook,
  TargetStatus,
} from '../model/status.js';
import type { ClusterClient } from '../ports/cluster.js';
import { decidePrune, executePrune } from '../prune/index.js';
import type { TargetScope } from './scope.js';
import { needsApply } from './status.js';
import {
  HEALTH_POLL_MS,
  NEXT_REVISION_DELAY_MS,
  type ReconcileOutcome,
  retryBackoffMs,
  sourceDigest,
  WAVE_RECHECK_MS,
} from './types.js';

/** The phases of a sync; the first three are where a re-check resumes (OperationProgress.stage). */
export type SyncPhase = OperationProgress['stage'] | 'Prune' | 'Finalize';

/** What a step decided: go on with a phase, or yield until a re-check. */
export type Step =
  | { kind: 'next'; phase: SyncPhase }
  | { kind: 'yield'; message: string; recheckAfterMs: number };

const next = (phase: SyncPhase): Step => ({ kind: 'next', phase });

export interface SyncInputs {
  base: TargetStatus;
  drift: DriftReport;
  plan: SyncPlan;
  commit: string;
  /** The branch head now (a newer revision waits for this operation). */
  newest: string;
  client: ClusterClient;
  /** The operation this sync resumes; none: a new one starts. */
  resumed: OperationResult | undefined;
}

export function runSync(scope: TargetScope, inputs: SyncInputs): Promise<ReconcileOutcome> {
  return new SyncRun(scope, inputs).run();
}

class SyncRun {
  private readonly op: OperationResult;
  private readonly progress: OperationProgress;
  /** Hooks this attempt created (a status written by an older version kept bare keys). */
  private readonly started: StartedHook[];
  private readonly applied = new Map<string, KubeObject>();
  private readonly byKey: Map<string, ObjectDrift>;
  private readonly hasPostSync: boolean;
  /** Waves of resources and waves that hold only Sync hooks, lowest first. */
  private readonly waveNumbers: number[];
  private readonly steps: Record<OperationProgress['stage'] | 'Prune', () => Promise<Step>> = {
    PreSync: () => this.preSync(),
    Waves: () => this.waves(),
    Prune: () => this.prune(),
    PostSync: () => this.postSync(),
  };

  constructor(
    private readonly scope: TargetScope,
    private readonly inp: SyncInputs,
  ) {
    const { drift, plan, commit, resumed } = inp;
    this.op = resumed
      ? { ...resumed, nextAttemptAt: undefined }
      : {
          id: scope.req.operationId ?? randomUUID(),
          trigger: scope.req.trigger,
          ...(scope.req.initiator ? { initiator: scope.req.initiator } : {}),
          ...(scope.requested(commit) ? { requestedRevision: scope.requested(commit) } : {}),
          revision: commit,
          ...(scope.allowPrune ? { allowPrune: true } : {}),
          source: sourceDigest(scope.app),
          phase: 'Running',
          message: 'syncing',
          startedAt: scope.iso(),
          attempt: 1,
          applied: 0,
          pruned: 0,
          drifted: drift.objects.filter((o) => o.state !== 'Synced').length,
          progress: { stage: 'PreSync', startedHooks: [], startedAt: scope.iso() },
        };
    this.progress = this.op.progress ?? { stage: 'PreSync', startedHooks: [] };
    this.progress.startedAt ??= scope.iso();
    this.op.progress = this.progress;
    this.started = this.progress.startedHooks.filter(
      (h): h is StartedHook => typeof h === 'object' && h !== null,
    );
    this.byKey = new Map(drift.objects.map((o) => [o.key, o]));
    this.hasPostSync = plan.hooks.some((h) => h.phases.includes('PostSync'));
    this.waveNumbers = [
      ...new Set([
        ...plan.waves.map((w) => w.wave),
        ...plan.hooks.filter((h) => h.phases.includes('Sync')).map((h) => h.wave),
      ]),
    ].sort((a, b) => a - b);
  }

  async run(): Promise<ReconcileOutcome> {
    if (!this.inp.resumed) {
      await this.scope.report(this.inp.commit, 'pending', `syncing ${shortSha(this.inp.commit)}`);
    }
    try {
      await this.scope.holdLease();
      await this.scope.unlessTerminated(this.op);
      let phase: SyncPhase = this.progress.stage;
      if (phase !== 'PostSync') await this.foundation();
      while (phase !== 'Finalize') {
        const step = await this.steps[phase]();
        if (step.kind === 'yield') return await this.yieldFor(step.message, step.recheckAfterMs);
        phase = step.phase;
        if (phase === 'Waves' || phase === 'PostSync') this.progress.stage = phase;
      }
    } catch (e) {
      return this.failed(asDriftlessError(e));
    }
    return this.finalize();
  }

  private hookOpts() {
    return {
      run: { operationId: this.op.id, attempt: this.op.attempt },
      started: this.started,
      waitBudgetMs: this.scope.budgetLeft(),
      force: this.scope.app.spec.syncPolicy.force,
      onEvent: (e: { key: string; phase: string; action: string }) =>
        this.scope.deps.onEvent?.({ type: 'hook', target: this.scope.target, ...e }),
    };
  }

  /** Namespaces and CRDs first (hooks need their namespace); CRDs Established before their kinds resolve. */
  private async foundation(): Promise<void> {
    const { plan, client } = this.inp;
    const foundation = plan.foundation.filter((d) => needsApply(this.byKey.get(d.key)));
    this.op.applied += await this.applyGroup(foundation, 0);
    const crds = plan.foundation.filter((d) => isCustomResourceDefinition(d.object));
    if (crds.length) {
      await waitForCrds(
        client,
        crds.map((d) => this.applied.get(d.key) ?? d.object),
      );
    }
  }

  private async preSync(): Promise<Step> {
    const pre = await runHooks(this.inp.client, this.inp.plan.hooks, 'PreSync', this.hookOpts());
    if (pre.state === 'pending') {
      return { kind: 'yield', message: pre.message, recheckAfterMs: pre.recheckAfterMs };
    }
    if (pre.state === 'failed') {
      throw new DriftlessError('HookFailed', pre.message, {
        object: describeRef(parseRefKey(pre.key)),
      });
    }
    return next('Waves');
  }

  private async waves(): Promise<Step> {
    const { plan, client } = this.inp;
    const scope = this.scope;
    for (const [index, wave] of this.waveNumbers.entries()) {
      if (this.progress.wave !== undefined && wave < this.progress.wave) continue;
      const objects = plan.waves.find((w) => w.wave === wave)?.objects ?? [];
      await scope.holdLease();
      await scope.unlessTerminated(this.op);
      scope.deps.onEvent?.({ type: 'wave', target: scope.target, wave, state: 'applying' });
      const todo = objects.filter((d) => needsApply(this.byKey.get(d.key)));
      this.op.applied += await this.applyGroup(todo, wave);
      // Sync hooks of this wave run with it.
      const syncHooks = await runHooks(client, plan.hooks, 'Sync', this.hookOpts(), wave);
      if (syncHooks.state === 'pending') {
        this.progress.wave = wave;
        return {
          kind: 'yield',
          message: syncHooks.message,
          recheckAfterMs: syncHooks.recheckAfterMs,
        };
      }
      if (syncHooks.state === 'failed') throw new DriftlessError('HookFailed', syncHooks.message);
      // Each wave healthy before the next. The last one, with no PostSync
      // hook to wait for, ends the operation once applied; its health is
      // evaluated and reported from then on (as Argo CD does).
      if (index === this.waveNumbers.length - 1 && !this.hasPostSync) break;
      const health = await this.waitHealthy(objects);
      if (health.status === 'Degraded') {
        throw new DriftlessError('Unhealthy', `wave ${wave} is degraded: ${health.message ?? ''}`);
      }
      if (
        health.status !== 'Healthy' &&
        health.status !== 'Suspended' &&
        health.status !== 'Missing'
      ) {
        this.progress.wave = wave;
        scope.deps.onEvent?.({ type: 'wave', target: scope.target, wave, state: 'waiting' });
        return {
          kind: 'yield',
          message: `waiting for wave ${wave}: ${health.message ?? health.status}`,
          recheckAfterMs: health.recheckAfterMs ?? WAVE_RECHECK_MS,
        };
      }
      scope.deps.onEvent?.({ type: 'wave', target: scope.target, wave, state: 'healthy' });
    }
    return next('Prune');
  }

  /** Prune what Git no longer has (never yields). */
  private async prune(): Promise<Step> {
    const scope = this.scope;
    const { drift, base, client } = this.inp;
    await scope.holdLease();
    const inventory = scope.prev?.inventory ?? [];
    const extras = drift.objects.filter((o) => o.state === 'Extra' && o.live);
    const decision = decidePrune(
      extras.map((o) => ({ key: o.key, live: o.live as KubeObject })),
      inventory,
      {
        app: scope.app.metadata.name,
        syncPolicy: scope.app.spec.syncPolicy,
        policy: scope.app.spec.policy,
        project: { project: scope.project, cluster: scope.target.cluster },
      },
      { allowGuarded: scope.allowPrune },
    );
    const pruned = await executePrune(client, decision, inventory, scope.opts.concurrency, (key) =>
      scope.deps.onEvent?.({ type: 'pruned', target: scope.target, key }),
    );
    this.op.pruned += pruned.length;
    for (const key of pruned) {
      const o = this.byKey.get(key);
      if (o) o.reason = 'pruned';
      drift.objects = drift.objects.filter((x) => x.key !== key);
    }
    for (const k of decision.kept) {
      const o = this.byKey.get(k.key);
      if (o) o.reason = k.reason;
    }
    const awaiting = decision.kept.filter((k) => k.code === 'AwaitingConfirmation');
    if (awaiting.length) {
      base.conditions.push(
        scope.condition(
          'PruneConfirmationRequired',
          'AwaitingConfirmation',
          `${awaiting.length} objects annotated Prune=confirm wait for a manual sync that allows the prune: ` +
            awaiting.map((k) => describeRef(parseRefKey(k.key))).join(', '),
        ),
      );
    }
    if (decision.refusal) {
      base.conditions.push(scope.condition('PruneRefused', 'PruneRefused', decision.refusal));
      this.op.reason = 'PruneRefused';
      this.op.message = decision.refusal;
    }
    this.progress.wave = undefined;
    return next('PostSync');
  }

  /** PostSync hooks, once everything is applied and healthy. */
  private async postSync(): Promise<Step> {
    const { plan, client } = this.inp;
    if (this.hasPostSync) {
      const health = await this.waitHealthy(plan.waves.flatMap((w) => w.objects));
      if (health.status === 'Degraded') {
        throw new DriftlessError('Unhealthy', `degraded: ${health.message ?? ''}`);
      }
      if (health.status === 'Progressing' || health.status === 'Unknown') {
        return {
          kind: 'yield',
          message: `waiting for health before PostSync hooks: ${health.message ?? health.status}`,
          recheckAfterMs: health.recheckAfterMs ?? WAVE_RECHECK_MS,
        };
      }
    }
    await this.scope.holdLease();
    await this.scope.unlessTerminated(this.op);
    const post = await runHooks(client, plan.hooks, 'PostSync', this.hookOpts());
    if (post.state === 'pending') {
      return { kind: 'yield', message: post.message, recheckAfterMs: post.recheckAfterMs };
    }
    if (post.state === 'failed') throw new DriftlessError('HookFailed', post.message);
    return next('Finalize');
  }

  /** Saves where the operation stands and asks to be called again; past healthTimeout it fails. */
  private async yieldFor(message: string, recheckAfterMs: number): Promise<ReconcileOutcome> {
    const policy = this.scope.app.spec.syncPolicy;
    const since = Date.parse(this.progress.startedAt ?? this.op.startedAt);
    if (this.scope.clock.now() - since > policy.healthTimeout) {
      return this.failed(
        new DriftlessError(
          'HealthTimeout',
          `${message}; gave up after ${policy.healthTimeout / 1000}s (syncPolicy.healthTimeout)`,
        ),
      );
    }
    this.progress.startedHooks = [...this.started];
    this.op.message = message;
    const status = this.statusNow();
    await this.scope.putStatus(status);
    return { status, requeueAfterMs: recheckAfterMs, drift: this.inp.drift.objects };
  }

  private statusNow() {
    const { base, drift, plan, commit } = this.inp;
    return this.scope.statusOf(base, drift, plan, this.applied, commit, this.op);
  }

  private async finalize(): Promise<ReconcileOutcome> {
    const scope = this.scope;
    const { base, drift, commit, newest } = this.inp;
    const op = this.op;
    op.phase = op.reason === 'PruneRefused' ? 'Failed' : 'Succeeded';
    if (op.phase === 'Succeeded') op.message = `applied ${op.applied}, pruned ${op.pruned}`;
    op.finishedAt = scope.iso();
    op.progress = undefined;
    scope.sharedConditions(base, drift);
    const status = this.statusNow();
    status.syncedRevision = commit;
    const recheck = scope.recheckAfter(status);
    await scope.putStatus(status);
    await scope.appendHistory(op);
    await scope.report(
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

  /**
   * The one place a sync's failure is decided. A transient error (the
   * cluster or the network, the invocation's deadline) leaves the operation
   * Running where it stands, and the worker retries the job (lib/worker.ts),
   * which resumes it by id; only when the worker's retries are spent does it
   * end as Error. Any other failure of an automated operation is retried by
   * the operation itself up to syncPolicy.retry.limit times, each attempt
   * from the start (hooks named anew), after a backoff. Otherwise — or when
   * terminated — it ends, and its SyncFail hooks run once, best effort.
   */
  private async failed(err: DriftlessError): Promise<ReconcileOutcome> {
    const scope = this.scope;
    const { drift, commit, newest, client, plan } = this.inp;
    const op = this.op;
    const policy = scope.app.spec.syncPolicy;
    // Another worker holds the target now: it owns the cluster and the status.
    if (err.reason === 'LeaseLost') {
      return { status: this.inp.base, error: err, retryable: false };
    }
    const transient = isRetryable(err.reason);
    const terminated = err.reason === 'Terminated';
    const workerRetries = transient && (scope.req.attempt ?? 1) <= policy.retry.limit;
    if (workerRetries && !terminated) {
      this.progress.startedHooks = [...this.started];
      op.message = `${err.describe()}; the operation resumes when the job is retried`;
      const status = this.statusNow();
      status.conditions.push(scope.condition('ReconcileError', err.reason, err.describe()));
      await scope.putStatus(status);
      return { status, error: err, retryable: true, drift: drift.objects };
    }
    if (!transient && !terminated && scope.mode === 'auto' && op.attempt <= policy.retry.limit) {
      const delayMs = retryBackoffMs(scope.app, op.attempt);
      op.reason = err.reason;
      op.message = `attempt ${op.attempt} failed: ${err.describe()}; attempt ${op.attempt + 1} in ${Math.round(delayMs / 1000)}s`;
      op.attempt += 1;
      op.nextAttemptAt = scope.iso(scope.clock.now() + delayMs);
      op.progress = { stage: 'PreSync', startedHooks: [] };
      const status = this.statusNow();
      status.conditions.push(scope.condition('SyncRetrying', err.reason, op.message));
      await scope.putStatus(status);
      // The failure is reported; the operation, not the worker, retries it.
      return {
        status,
        error: err,
        retryable: false,
        requeueAfterMs: delayMs,
        drift: drift.objects,
      };
    }
    try {
      await scope.holdLease();
      await runHooks(client, plan.hooks, 'SyncFail', { ...this.hookOpts(), started: [] });
    } catch {
      // the sync failure is what the user needs to see
    }
    op.phase = transient ? 'Error' : 'Failed';
    op.reason = err.reason;
    op.message = err.describe();
    op.finishedAt = scope.iso();
    op.progress = undefined;
    const status = this.statusNow();
    status.conditions.push(scope.condition('SyncFailed', err.reason, err.describe()));
    await scope.putStatus(status);
    await scope.appendHistory(op);
    await scope.report(commit, 'failure', `sync failed: ${err.describe()}`);
    return {
      status,
      error: err,
      retryable: transient,
      drift: drift.objects,
      requeueAfterMs: newest !== commit ? NEXT_REVISION_DELAY_MS : undefined,
    };
  }

  private async applyGroup(
    objects: Pick<DesiredObject, 'key' | 'object' | 'file' | 'line' | 'wave' | 'options'>[],
    wave: number,
  ): Promise<number> {
    if (!objects.length) return 0;
    const scope = this.scope;
    const byKey = this.byKey;
    const items = objects.map((d) => ({
      key: d.key,
      object: byKey.get(d.key)?.applyObject ?? d.object,
      file: d.file,
      line: d.line,
      options: d.options,
      live: byKey.get(d.key)?.live,
    }));
    const result = await applyObjects(this.inp.client, items, {
      force: scope.app.spec.syncPolicy.force,
      concurrency: scope.opts.concurrency,
      // Recorded as each lands, so a failure later in the group leaves what did apply Synced.
      onApplied: (key, live) => {
        this.applied.set(key, live);
        scope.deps.onEvent?.({ type: 'applied', target: scope.target, key, wave });
      },
      // The object that failed says why in its own status; the others keep theirs.
      onFailed: (key, err) => {
        const o = byKey.get(key);
        if (o) o.reason = err.describe();
      },
    });
    for (const [k, v] of result) {
      this.applied.set(k, v);
      const o = byKey.get(k);
      if (o) {
        o.state = 'Synced';
        o.live = v;
        o.reason = 'applied';
      }
    }
    return result.size;
  }

  /** Polls the objects (one LIST per kind) until healthy, degraded or out of budget. */
  private async waitHealthy(objects: { key: string; object: KubeObject }[]): Promise<HealthResult> {
    const keys = new Set(objects.map((o) => o.key));
    const evaluate = () =>
      appHealth(
        objects.map((o) => {
          const live = this.applied.get(o.key) ?? this.byKey.get(o.key)?.live;
          return {
            key: o.key,
            health: live ? evaluateHealth(live) : { status: 'Missing' as const },
          };
        }),
      );
    let health = evaluate();
    while (health.status === 'Progressing' || health.status === 'Unknown') {
      const left = this.scope.budgetLeft();
      if (left <= 0) return health;
      await new Promise((r) =>
        setTimeout(r, Math.min(health.recheckAfterMs ?? HEALTH_POLL_MS, HEALTH_POLL_MS, left)),
      );
      const kinds = new Map(
        objects.map((o) => [`${o.object.apiVersion}/${o.object.kind}`, o.object]),
      );
      for (const obj of kinds.values()) {
        const items = await this.inp.client.list(obj.apiVersion, obj.kind, {
          labelSelector: appSelector(this.scope.app.metadata.name),
        });
        for (const item of items) {
          const k = objectKey(item);
          if (keys.has(k)) this.applied.set(k, item);
        }
      }
      health = evaluate();
    }
    return health;
  }
}
