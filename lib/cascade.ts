// The cascade of a deleted app or a removed destination, for one target, run
// by the worker (the API only marks the destination `deleting` and queues a
// job: it holds no cluster credentials for writes). Under the target's lease:
// one LIST per kind of the inventory, then the prune decision of every object
// Driftless applied there — the guard, the app's policy and its project's
// limits hold, Delete=false and Flux's prune: disabled keep an object — and
// deletion in reverse wave order. When nothing is refused, the worker forgets the destination (and the
// app with its last one); a refusal keeps it, with a status that says what to
// change, so the inventory stays until the cascade can run.

import { randomUUID } from 'node:crypto';
import { mapBounded } from './concurrency.js';
import { appSelector } from './diff/index.js';
import { asDriftlessError, DriftlessError, isRetryable } from './errors.js';
import { isHook } from './model/annotations.js';
import type { Application } from './model/application.js';
import { groupKind } from './model/kinds.js';
import { describeRef, type KubeObject, objectKey, parseRefKey } from './model/object.js';
import type { OperationResult, TargetStatus } from './model/status.js';
import type { TargetId } from './model/target.js';
import { systemClock } from './ports/clock.js';
import { DEFAULT_REQUEST_CONCURRENCY } from './ports/cluster.js';
import { appliedByDriftless, decidePrune, executePrune } from './prune/index.js';
import {
  DEFAULT_LEASE_TTL_MS,
  emptyStatus,
  projectOf,
  type ReconcileDeps,
} from './reconcile/index.js';

export interface CascadeOutcome {
  status: TargetStatus;
  /** Everything allowed was deleted: the destination may be forgotten. */
  complete: boolean;
  deleted: string[];
  /** Objects left in the cluster on purpose, with why. */
  kept: { key: string; reason: string }[];
  error?: DriftlessError;
  retryable?: boolean;
}

export interface CascadeOptions {
  concurrency?: number;
  leaseTtlMs?: number;
  holder?: string;
  operationId?: string;
  attempt?: number;
}

export async function cascadeDelete(
  deps: ReconcileDeps,
  app: Application,
  target: TargetId,
  opts: CascadeOptions = {},
): Promise<CascadeOutcome> {
  const clock = deps.clock ?? systemClock;
  const iso = () => new Date(clock.now()).toISOString();
  const destination = app.spec.destinations.find((d) => d.cluster === target.cluster);
  const prev = (await deps.store.getTargetStatus(target)) ?? emptyStatus(target);
  const base: TargetStatus = {
    ...prev,
    conditions: prev.conditions.filter((c) => c.type !== 'PruneRefused'),
  };
  const ttl = opts.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  let lease = await deps.leases.acquire(target, opts.holder ?? randomUUID(), ttl);
  if (!lease) {
    const error = new DriftlessError(
      'LeaseHeld',
      `another worker is reconciling ${target.app} on ${target.cluster}`,
    );
    return { status: prev, complete: false, deleted: [], kept: [], error, retryable: true };
  }
  const op: OperationResult = {
    id: opts.operationId ?? randomUUID(),
    trigger: 'delete',
    revision: prev.syncedRevision ?? prev.wantedRevision ?? app.spec.source.revision,
    phase: 'Running',
    message: 'deleting the objects of the application',
    startedAt: iso(),
    attempt: opts.attempt ?? 1,
    applied: 0,
    pruned: 0,
    drifted: 0,
  };
  try {
    const cluster = await deps.store.getCluster(target.cluster);
    if (!cluster) {
      throw new DriftlessError('InvalidSpec', `cluster ${target.cluster} is not registered`);
    }
    const client = await deps.clusters.connect(cluster);
    const concurrency = opts.concurrency ?? DEFAULT_REQUEST_CONCURRENCY;
    const inventory = prev.inventory;
    const inInventory = new Set(inventory.map((i) => i.key));

    // One LIST per kind the inventory names.
    const kinds = new Map<string, { apiVersion: string; kind: string }>();
    for (const i of inventory) {
      const { group, kind } = parseRefKey(i.key);
      kinds.set(groupKind(group, kind), { apiVersion: i.apiVersion, kind });
    }
    const live: KubeObject[] = [];
    await mapBounded([...kinds.values()], concurrency, async ({ apiVersion, kind }) => {
      try {
        live.push(
          ...(await client.list(apiVersion, kind, { labelSelector: appSelector(target.app) })),
        );
      } catch (e) {
        // The kind is gone (its CRD deleted): so are its objects.
        if (e instanceof DriftlessError && e.reason === 'UnknownKind') return;
        throw e;
      }
    });
    const candidates = live
      .filter(
        (o) => inInventory.has(objectKey(o)) && appliedByDriftless(o, target.app) && !isHook(o),
      )
      .map((o) => ({ key: objectKey(o), live: o }));

    const decision = decidePrune(
      candidates,
      inventory,
      {
        app: target.app,
        syncPolicy: app.spec.syncPolicy,
        policy: app.spec.policy,
        project: { project: await projectOf(deps.store, app), cluster: target.cluster },
      },
      { cascade: true, allowGuarded: destination?.deleting?.allowPrune === true },
    );
    lease = await deps.leases.renew(lease, ttl);
    const deleted = await executePrune(client, decision, inventory, concurrency, (key) =>
      deps.onEvent?.({ type: 'pruned', target, key }),
    );
    op.pruned = deleted.length;
    op.finishedAt = iso();
    const keptText = decision.kept.length
      ? `; kept ${decision.kept.map((k) => `${describeRef(parseRefKey(k.key))} (${k.reason})`).join(', ')}`
      : '';
    // The guard or the policy refused: nothing here may be forgotten yet.
    const refused = decision.kept.filter(
      (k) => k.code === 'Guarded' || k.code === 'ForbiddenByPolicy',
    );
    const deletedKeys = new Set(deleted);
    const status: TargetStatus = {
      ...base,
      operation: op,
      lastCheckedAt: iso(),
      inventory: inventory.filter((i) => !deletedKeys.has(i.key)),
      resources: base.resources.filter((r) => !deletedKeys.has(r.key)),
    };
    if (refused.length && decision.refusal) {
      // Keep the destination (and its inventory) until the cascade is
      // allowed (--prune, a wider policy) or the objects are gone, and say how.
      op.phase = 'Failed';
      op.reason = 'PruneRefused';
      op.message = `deleted ${deleted.length} objects, then ${decision.refusal}`;
      status.conditions.push({
        type: 'PruneRefused',
        reason: 'PruneRefused',
        message: decision.refusal,
        lastTransitionTime: iso(),
      });
    } else {
      op.phase = 'Succeeded';
      op.message = `deleted ${deleted.length} objects${keptText}`;
    }
    await deps.store.putTargetStatus(status, lease.fencingToken);
    await deps.store.appendHistory(target, op, lease.fencingToken);
    return {
      status,
      complete: op.phase === 'Succeeded',
      deleted,
      kept: decision.kept.map(({ key, reason }) => ({ key, reason })),
    };
  } catch (e) {
    const err = asDriftlessError(e);
    op.phase = isRetryable(err.reason) ? 'Error' : 'Failed';
    op.reason = err.reason;
    op.message = `cascade failed: ${err.describe()}`;
    op.finishedAt = iso();
    const status: TargetStatus = { ...base, operation: op, lastCheckedAt: iso() };
    await deps.store.putTargetStatus(status, lease.fencingToken).catch(() => {});
    await deps.store.appendHistory(target, op, lease.fencingToken).catch(() => {});
    return {
      status,
      complete: false,
      deleted: [],
      kept: [],
      error: err,
      retryable: isRetryable(err.reason),
    };
  } finally {
    const held = lease;
    await deps.leases.release(held).catch(() => {});
  }
}
