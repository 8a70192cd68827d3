// What every step of one reconcile shares: the request, the app, the lease
// (renewed before each cluster write), the invocation's deadline and wait
// budget, the previous status, the operation being resumed, and the helpers
// that write conditions, commit statuses and statuses the same way.

import type { SyncPlan } from '../apply/plan.js';
import { type DriftReport, SHARED_ADOPTION_HINT } from '../diff/index.js';
import { DriftlessError } from '../errors.js';
import { type Application, specHash } from '../model/application.js';
import { describeRef, type KubeObject, parseRefKey } from '../model/object.js';
import type { Project } from '../model/project.js';
import {
  modeOf,
  type ObservedState,
  type OperationMode,
  type OperationResult,
  type StatusCondition,
  type TargetStatus,
} from '../model/status.js';
import type { TargetId } from '../model/target.js';
import type { Clock } from '../ports/clock.js';
import type { Lease } from '../ports/lease.js';
import { commitStatusContext } from '../ports/report.js';
import type { TerminationRequest } from '../ports/store.js';
import { DEADLINE_RESERVE_MS, Deadline } from './deadline.js';
import { buildStatus, recheckOf, sameObserved } from './status.js';
import {
  DEFAULT_WAIT_BUDGET_MS,
  MAX_RECHECK_MS,
  MIN_RECHECK_MS,
  type ReconcileDeps,
  type ReconcileOptions,
  type ReconcileRequest,
} from './types.js';

export class TargetScope {
  readonly target: TargetId;
  /** The status before this reconcile (read once by the run). */
  prev: TargetStatus | undefined;
  readonly waitBudgetMs: number;
  readonly startedAtMs: number;
  readonly deadline: Deadline;
  /** The operation this run resumes, if one is Running. */
  running: OperationResult | undefined;
  /** The operation's mode: a resumed operation keeps the one it was started with. */
  mode: OperationMode;
  /** Whether the operation allows guarded prunes: the request's, or the resumed record's. */
  allowPrune: boolean;
  readonly preview: boolean;
  /** The sweep's view this run wrote last (until then, the previous status's is what is stored). */
  private observedWritten: ObservedState | undefined;

  constructor(
    readonly deps: ReconcileDeps,
    readonly req: ReconcileRequest,
    readonly opts: ReconcileOptions,
    readonly app: Application,
    readonly defaultNamespace: string | undefined,
    private lease: Lease,
    readonly clock: Clock,
    private readonly leaseTtlMs: number,
    /** The app's Project: its limits bound what the sync applies and prunes. */
    readonly project: Project,
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

  /** Resumes `op` as it was started, whatever triggered this reconcile. */
  resume(op: OperationResult): void {
    this.running = op;
    this.mode = modeOf(op.trigger);
    this.allowPrune = op.allowPrune === true;
  }

  /** Wait budget left in this invocation. */
  budgetLeft(): number {
    return Math.max(0, this.waitBudgetMs - (this.clock.now() - this.startedAtMs));
  }

  /** The revision asked for, when it is not the commit itself. */
  requested(commit: string): string | undefined {
    const asked = this.req.revision ?? this.app.spec.source.revision;
    return asked === commit ? undefined : asked;
  }

  iso(ms = this.clock.now()): string {
    return new Date(ms).toISOString();
  }

  async report(
    commit: string,
    state: 'pending' | 'success' | 'failure' | 'error',
    description: string,
  ): Promise<void> {
    // Commit statuses belong to a Git commit: a chart version is none, and a
    // multi-source revision (`a,b`) reports the first source's commit.
    const source = this.app.spec.source;
    if (this.preview || source.chart !== undefined) return;
    await this.deps.reporter.report({
      repoURL: source.repoURL,
      commit: commit.split(',')[0] ?? commit,
      context: commitStatusContext(this.target),
      state,
      description,
      targetUrl: this.deps.statusUrl?.(this.target),
    });
  }

  async putStatus(status: TargetStatus): Promise<void> {
    if (this.preview) return;
    if (status.observed) status.observed.spec = specHash(this.app);
    await this.deps.store.putTargetStatus(status, this.lease.fencingToken);
    // The cluster's sweep reads this view instead of the status: written when it changed.
    if (
      status.observed &&
      !sameObserved(this.observedWritten ?? this.prev?.observed, status.observed)
    ) {
      await this.deps.store.putObserved(this.target, status.observed);
      this.observedWritten = status.observed;
    }
  }

  async appendHistory(op: OperationResult): Promise<void> {
    if (!this.preview)
      await this.deps.store.appendHistory(this.target, op, this.lease.fencingToken);
  }

  /**
   * Renews the lease before each step that writes to the cluster (a wave, a
   * prune, hooks, SyncFail hooks): a worker whose lease was taken over (it
   * stalled past the TTL), or whose target was deleted meanwhile (the lease
   * lives on the target's record), stops here with LeaseLost instead of
   * applying over the newer holder's work.
   */
  async holdLease(): Promise<void> {
    this.lease = await this.deps.leases.renew(this.lease, this.leaseTtlMs);
  }

  /** The request to end this operation (`driftless terminate`), if someone made one. */
  async terminationOf(op: OperationResult): Promise<TerminationRequest | undefined> {
    if (this.preview) return undefined;
    const asked = (await this.deps.store.getTargetRecord(this.target))?.termination;
    return asked?.operationId === op.id ? asked : undefined;
  }

  /** Stops with Terminated when someone asked to end this operation (`driftless terminate`). */
  async unlessTerminated(op: OperationResult): Promise<void> {
    const asked = await this.terminationOf(op);
    if (asked) {
      throw new DriftlessError(
        'Terminated',
        `operation ${op.id} terminated by ${asked.by} at ${this.iso(asked.at)}`,
      );
    }
  }

  /** A condition; one that persists keeps the time it first appeared (and the status stays byte-identical). */
  condition(type: string, reason: string, message: string): StatusCondition {
    const same = this.prev?.conditions.find(
      (c) => c.type === type && c.reason === reason && c.message === message,
    );
    return { type, reason, message, lastTransitionTime: same?.lastTransitionTime ?? this.iso() };
  }

  /** One SharedResource condition naming the objects another app manages. */
  sharedConditions(base: TargetStatus, drift: DriftReport): void {
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

  /** The status from the steps' results (lib/reconcile/status.ts buildStatus). */
  statusOf(
    base: TargetStatus,
    drift: DriftReport,
    plan: SyncPlan,
    applied: ReadonlyMap<string, KubeObject>,
    commit: string,
    operation?: OperationResult,
  ): TargetStatus {
    return buildStatus({
      base,
      prev: this.prev,
      drift,
      plan,
      applied,
      operation,
      commit,
      ignore: this.app.spec.ignoreDifferences,
      now: this.iso(),
    });
  }

  /**
   * When to look again at a target whose health is still Progressing (a
   * rollout, a PVC waiting for its volume) after the operation ended: soon at
   * first, less often the longer it takes, and not at all once it has been
   * Progressing for syncPolicy.healthTimeout (the drift sweep looks again
   * then). Undefined: no re-check.
   */
  recheckAfter(status: TargetStatus): number | undefined {
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
}
