// Health of live objects (docs/architecture.md, lib/health): per kind for the built-in
// workloads and API kinds, generic conditions/observedGeneration for the rest.
//
// evaluateHealth is a pure function of one live object as the API server
// returned it, status included. It never waits: anything still rolling out is
// Progressing with a recheckAfterMs, and the worker re-enqueues a delayed
// health check rather than holding the Lambda open.

import { groupKindOf } from '../model/kinds.js';
import { describeRef, type KubeObject, parseRefKey } from '../model/object.js';
import { HEALTH_ORDER, type HealthResult, worstHealth } from '../model/status.js';
import { apiServiceHealth, customResourceDefinitionHealth } from './api.js';
import { horizontalPodAutoscalerHealth } from './autoscaling.js';
import { cronJobHealth, jobHealth } from './batch.js';
import {
  ingressHealth,
  namespaceHealth,
  persistentVolumeClaimHealth,
  serviceHealth,
} from './core.js';
import { clip, list, str } from './fields.js';
import { genericHealth } from './generic.js';
import { podHealth } from './pod.js';
import { progressing, RECHECK_MS, unknown } from './result.js';
import {
  daemonSetHealth,
  deploymentHealth,
  replicaSetHealth,
  statefulSetHealth,
} from './workloads.js';

export { RECHECK_MS } from './result.js';

type Evaluate = (obj: KubeObject) => HealthResult;

/** Keyed by `group/Kind` so a custom `Deployment` in another group stays generic. */
const BY_KIND: Record<string, Evaluate> = {
  'apps/Deployment': deploymentHealth,
  'extensions/Deployment': deploymentHealth,
  'apps/StatefulSet': statefulSetHealth,
  'apps/DaemonSet': daemonSetHealth,
  'extensions/DaemonSet': daemonSetHealth,
  'apps/ReplicaSet': replicaSetHealth,
  'extensions/ReplicaSet': replicaSetHealth,
  '/Pod': podHealth,
  '/PersistentVolumeClaim': persistentVolumeClaimHealth,
  '/Service': serviceHealth,
  '/Namespace': namespaceHealth,
  'batch/Job': jobHealth,
  'batch/CronJob': cronJobHealth,
  'networking.k8s.io/Ingress': ingressHealth,
  'extensions/Ingress': ingressHealth,
  'apiextensions.k8s.io/CustomResourceDefinition': customResourceDefinitionHealth,
  'autoscaling/HorizontalPodAutoscaler': horizontalPodAutoscalerHealth,
  'apiregistration.k8s.io/APIService': apiServiceHealth,
};

/** The health of one live object. */
export function evaluateHealth(obj: KubeObject): HealthResult {
  // Items of a LIST response come without apiVersion and kind; the caller must fill them in.
  if (typeof obj.kind !== 'string' || typeof obj.apiVersion !== 'string') {
    return unknown('object has no apiVersion/kind (set them on LIST items before evaluating)');
  }
  try {
    if (obj.kind !== 'Namespace' && obj.metadata.deletionTimestamp) return beingDeleted(obj);
    const evaluate = BY_KIND[groupKindOf(obj)] ?? genericHealth;
    return evaluate(obj);
  } catch (e) {
    // Only a malformed object gets here; report it rather than failing the reconcile.
    return unknown(`cannot evaluate health: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function beingDeleted(obj: KubeObject): HealthResult {
  const finalizers = list(obj.metadata.finalizers)
    .map(str)
    .filter((f): f is string => Boolean(f));
  return progressing(
    finalizers.length
      ? `being deleted, waiting for finalizers: ${finalizers.join(', ')}`
      : 'being deleted',
    RECHECK_MS.Deletion,
  );
}

/** One object's health under its key (refKey: `group/Kind/namespace/name`), as in ResourceStatus. */
export interface ObjectHealth {
  key: string;
  /** Objects without a health yet (not evaluated) are left out. */
  health?: HealthResult;
}

/** How many not-Healthy objects an app's message names before "and N more". */
const MAX_LISTED = 3;

/**
 * The app's health: the worst of its objects', with a message naming the
 * objects that are not Healthy, worst first. recheckAfterMs is the soonest of
 * the Progressing objects', set whenever any object is still Progressing
 * (even if another is Degraded) so the worker keeps watching the rollout.
 */
export function appHealth(objects: Iterable<ObjectHealth>): HealthResult {
  const evaluated: { key: string; health: HealthResult }[] = [];
  for (const o of objects) if (o.health) evaluated.push({ key: o.key, health: o.health });
  const status = worstHealth(evaluated.map((o) => o.health.status));
  const rank = (o: { health: HealthResult }) => HEALTH_ORDER.indexOf(o.health.status);
  const notHealthy = evaluated.filter((o) => o.health.status !== 'Healthy');
  notHealthy.sort((a, b) => rank(b) - rank(a));

  const rechecks = evaluated
    .filter((o) => o.health.status === 'Progressing' && o.health.recheckAfterMs !== undefined)
    .map((o) => o.health.recheckAfterMs as number);
  const recheckAfterMs = rechecks.length ? Math.min(...rechecks) : undefined;

  if (!notHealthy.length) {
    const n = evaluated.length;
    return { status, message: n === 1 ? '1 object healthy' : `${n} objects healthy` };
  }
  const listed = notHealthy.slice(0, MAX_LISTED).map(({ key, health }) => {
    const detail = health.message ? ` (${clip(health.message, 120)})` : '';
    return `${displayKey(key)} ${health.status}${detail}`;
  });
  const more = notHealthy.length - listed.length;
  const message =
    `${notHealthy.length} of ${evaluated.length} objects not healthy: ${listed.join('; ')}` +
    (more > 0 ? `; and ${more} more` : '');
  const result: HealthResult = { status, message };
  if (recheckAfterMs !== undefined) result.recheckAfterMs = recheckAfterMs;
  return result;
}

/** `Deployment/prod/web` for a refKey, the key itself for anything else. */
function displayKey(key: string): string {
  if (key.split('/').length < 4) return key;
  return describeRef(parseRefKey(key));
}
