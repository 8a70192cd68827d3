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

import { randomUUID } from 'node:crypto';
import { DriftlessError } from '../errors.js';
import type { Application } from '../model/application.js';
import { DEFAULT_PROJECT, implicitDefaultProject, type Project } from '../model/project.js';
import { modeOf } from '../model/status.js';
import { systemClock } from '../ports/clock.js';
import { TargetRun } from './run.js';
import { TargetScope } from './scope.js';
import { emptyStatus } from './status.js';
import {
  DEFAULT_LEASE_TTL_MS,
  type ReconcileDeps,
  type ReconcileOptions,
  type ReconcileOutcome,
  type ReconcileRequest,
} from './types.js';

export { emptyStatus } from './status.js';
export * from './types.js';

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
  const project = await projectOf(deps.store, app);

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
    const scope = new TargetScope(
      deps,
      req,
      opts,
      app,
      destination.namespace,
      lease,
      clock,
      leaseTtl,
      project,
    );
    const outcome = await new TargetRun(scope).execute(cluster);
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

/**
 * The app's Project as it is now (its limits hold for every write and
 * delete, including a cascade's); the implicit `default` when none is
 * registered under that name.
 */
export async function projectOf(
  store: Pick<ReconcileDeps['store'], 'getProject'>,
  app: Application,
): Promise<Project> {
  const project =
    (await store.getProject(app.spec.project)) ??
    (app.spec.project === DEFAULT_PROJECT ? implicitDefaultProject() : undefined);
  if (!project) {
    throw new DriftlessError(
      'InvalidSpec',
      `application ${app.metadata.name} names project ${app.spec.project}, which is not registered`,
      { field: 'spec.project' },
    );
  }
  return project;
}
