// Controllers that roll out pods: Deployment, StatefulSet, DaemonSet,
// ReplicaSet. Each is Progressing until its controller has observed the
// current spec and every replica it wants is updated and available.

import type { KubeObject } from '../model/object.js';
import type { HealthResult } from '../model/status.js';
import {
  condition,
  conditions,
  counted,
  describeCondition,
  type Fields,
  fields,
  num,
  str,
} from './fields.js';
import { degraded, healthy, progressing, RECHECK_MS, suspended } from './result.js';

/**
 * Stricter than the generic check: a workload without observedGeneration has
 * not been seen by its controller yet, so its (empty) status proves nothing.
 */
function notYetObserved(obj: KubeObject, status: Fields): string | undefined {
  const observed = num(status.observedGeneration);
  const generation = obj.metadata.generation;
  if (observed === undefined) return 'waiting for the controller to observe the spec';
  if (generation !== undefined && observed < generation) {
    return `waiting for rollout to be observed (observed generation ${observed} < generation ${generation})`;
  }
  return undefined;
}

/** spec.replicas as the API server defaults it: 1 when absent. */
function wantedReplicas(spec: Fields): number {
  return num(spec.replicas) ?? 1;
}

export function deploymentHealth(obj: KubeObject): HealthResult {
  const spec = fields(obj, 'spec');
  const status = fields(obj, 'status');
  const recheck = RECHECK_MS.Deployment;
  // Paused first: a paused rollout never finishes, and that is intended.
  if (spec.paused === true) return suspended('rollout paused (spec.paused)');
  const pending = notYetObserved(obj, status);
  if (pending) return progressing(pending, recheck);

  const conds = conditions(status);
  const progress = condition(conds, 'Progressing');
  if (progress?.reason === 'ProgressDeadlineExceeded') {
    const why = progress.message ? `: ${progress.message}` : '';
    return degraded(`rollout exceeded its progress deadline${why}`);
  }
  const failure = condition(conds, 'ReplicaFailure');
  if (failure?.status === 'True') return degraded(describeCondition(failure));

  const replicas = wantedReplicas(spec);
  const updated = num(status.updatedReplicas) ?? 0;
  const total = num(status.replicas) ?? 0;
  const available = num(status.availableReplicas) ?? 0;
  if (updated < replicas) {
    return progressing(`waiting for rollout: ${updated} of ${replicas} replicas updated`, recheck);
  }
  if (total > updated) {
    return progressing(
      `waiting for rollout: ${counted(total - updated, 'old replica')} pending termination`,
      recheck,
    );
  }
  if (available < updated) {
    return progressing(
      `waiting for rollout: ${available} of ${updated} updated replicas are available`,
      recheck,
    );
  }
  return healthy(`${available} of ${replicas} replicas available`);
}

export function statefulSetHealth(obj: KubeObject): HealthResult {
  const spec = fields(obj, 'spec');
  const status = fields(obj, 'status');
  const recheck = RECHECK_MS.StatefulSet;
  const pending = notYetObserved(obj, status);
  if (pending) return progressing(pending, recheck);

  const replicas = wantedReplicas(spec);
  const ready = num(status.readyReplicas) ?? 0;
  const total = num(status.replicas) ?? 0;
  const updated = num(status.updatedReplicas) ?? 0;
  // availableReplicas (minReadySeconds) is absent from old API servers; then ready counts.
  const available = num(status.availableReplicas) ?? ready;
  if (ready < replicas) return progressing(`${ready} of ${replicas} replicas ready`, recheck);
  if (available < replicas) {
    return progressing(`${available} of ${replicas} replicas available`, recheck);
  }
  if (total > replicas) {
    return progressing(
      `${counted(total - replicas, 'extra replica')} pending termination`,
      recheck,
    );
  }

  const strategy = fields(spec, 'updateStrategy');
  if (str(strategy.type) === 'OnDelete') {
    // The controller never replaces pods itself; stale pods are the user's call.
    const stale = replicas - updated;
    return healthy(
      stale > 0
        ? `${ready} of ${replicas} replicas ready; ${stale} on an old revision (OnDelete)`
        : `${ready} of ${replicas} replicas ready`,
    );
  }
  const partition = num(fields(strategy, 'rollingUpdate').partition) ?? 0;
  if (partition > 0) {
    const toUpdate = Math.max(0, replicas - partition);
    if (updated < toUpdate) {
      return progressing(
        `partitioned rollout: ${updated} of ${toUpdate} replicas updated (partition ${partition})`,
        recheck,
      );
    }
    return healthy(
      `partitioned rollout complete: ${updated} of ${replicas} replicas updated (partition ${partition})`,
    );
  }
  const updateRevision = str(status.updateRevision);
  if (updateRevision && str(status.currentRevision) !== updateRevision) {
    return progressing(
      `rolling update: ${updated} of ${replicas} replicas at revision ${updateRevision}`,
      recheck,
    );
  }
  return healthy(`${ready} of ${replicas} replicas ready`);
}

export function daemonSetHealth(obj: KubeObject): HealthResult {
  const spec = fields(obj, 'spec');
  const status = fields(obj, 'status');
  const recheck = RECHECK_MS.DaemonSet;
  const pending = notYetObserved(obj, status);
  if (pending) return progressing(pending, recheck);

  const desired = num(status.desiredNumberScheduled) ?? 0;
  const updated = num(status.updatedNumberScheduled) ?? 0;
  const available = num(status.numberAvailable) ?? 0;
  const onDelete = str(fields(spec, 'updateStrategy').type) === 'OnDelete';
  if (!onDelete && updated < desired) {
    return progressing(`waiting for rollout: ${updated} of ${desired} pods updated`, recheck);
  }
  // Availability matters whatever the update strategy: OnDelete only changes who replaces pods.
  if (available < desired) {
    return progressing(`waiting for rollout: ${available} of ${desired} pods available`, recheck);
  }
  const stale = desired - updated;
  return healthy(
    onDelete && stale > 0
      ? `${available} of ${desired} pods available; ${stale} on an old revision (OnDelete)`
      : `${available} of ${desired} pods available`,
  );
}

export function replicaSetHealth(obj: KubeObject): HealthResult {
  const spec = fields(obj, 'spec');
  const status = fields(obj, 'status');
  const recheck = RECHECK_MS.ReplicaSet;
  const pending = notYetObserved(obj, status);
  if (pending) return progressing(pending, recheck);

  const failure = condition(conditions(status), 'ReplicaFailure');
  if (failure?.status === 'True') return degraded(describeCondition(failure));
  const replicas = wantedReplicas(spec);
  const available = num(status.availableReplicas) ?? 0;
  if (available < replicas) {
    return progressing(`${available} of ${replicas} replicas available`, recheck);
  }
  return healthy(`${available} of ${replicas} replicas available`);
}
