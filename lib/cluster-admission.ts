// What the worker does around one reconcile to protect its cluster: take one
// of the cluster's `spec.concurrency` slots from the guard
// (lib/ports/cluster-guard.ts) before it, and give it back after with what
// the cluster answered (reached, unreachable, throttled), which moves the
// circuit breaker and shares a 429's pause with every other worker. A
// refusal defers the job until the guard says to look again; a deferral is
// not a failed attempt.

import { randomUUID } from 'node:crypto';
import { DriftlessError, type ErrorReason } from './errors.js';
import { targetKey } from './model/target.js';
import type { Clock } from './ports/clock.js';
import type { ClusterConnector } from './ports/cluster.js';
import {
  type ClusterAnswer,
  type ClusterGuard,
  DEFAULT_CLUSTER_SLOT_TTL_MS,
} from './ports/cluster-guard.js';
import type { Store } from './ports/store.js';

/** Longest a deferred job waits before asking again (SQS's delay cap is 15 minutes). */
export const MAX_DEFER_SECONDS = 15 * 60;
/** Jitter added to a deferral, so deferred jobs do not come back together. */
export const DEFER_JITTER_SECONDS = 2;

export interface AdmissionDeps {
  guard?: ClusterGuard;
  store: Pick<Store, 'getCluster'>;
  clusters: ClusterConnector;
  clock?: Clock;
}

export type ClusterAdmission =
  | { granted: true; release(error: DriftlessError | undefined): Promise<void> }
  | { granted: false; delaySeconds: number; error: DriftlessError };

/** Failures that prove the API server answered (it refused, throttled or judged the objects). */
const ANSWERED: ReadonlySet<ErrorReason> = new Set([
  'ClusterThrottled',
  'Unauthorized',
  'Forbidden',
  'NotFound',
  'UnknownKind',
  'ApplyConflict',
  'ApplyRejected',
  'PruneRefused',
  'HookFailed',
  'Unhealthy',
  'HealthTimeout',
]);

export function clusterAnswerFor(error: DriftlessError | undefined): ClusterAnswer['reached'] {
  if (!error) return 'answered';
  if (error.reason === 'ClusterUnreachable') return 'unreachable';
  return ANSWERED.has(error.reason) ? 'answered' : 'unknown';
}

const NO_GUARD: ClusterAdmission = { granted: true, release: async () => {} };

export async function admitToCluster(
  deps: AdmissionDeps,
  target: { app: string; cluster: string },
  opts: { ttlMs?: number; random?: () => number } = {},
): Promise<ClusterAdmission> {
  const guard = deps.guard;
  if (!guard) return NO_GUARD;
  // An unregistered cluster has nothing to guard: the reconcile says so.
  const cluster = await deps.store.getCluster(target.cluster);
  if (!cluster) return NO_GUARD;
  const now = () => deps.clock?.now() ?? Date.now();
  const admission = await guard.acquire({
    cluster: target.cluster,
    concurrency: cluster.spec.concurrency,
    holder: `${targetKey(target)}:${randomUUID()}`,
    ttlMs: opts.ttlMs ?? DEFAULT_CLUSTER_SLOT_TTL_MS,
  });
  if (!admission.granted) {
    const wait = Math.max(0, admission.retryAt - now()) / 1000;
    const jitter = (opts.random ?? Math.random)() * DEFER_JITTER_SECONDS;
    return {
      granted: false,
      delaySeconds: Math.min(MAX_DEFER_SECONDS, Math.max(1, Math.ceil(wait + jitter))),
      error: new DriftlessError('ClusterDeferred', admission.message, {
        object: `Cluster/${target.cluster}`,
      }),
    };
  }
  const { slot } = admission;
  return {
    granted: true,
    async release(error) {
      const throttling = deps.clusters.takeThrottling?.(target.cluster) ?? { throttled: 0 };
      const answer: ClusterAnswer = {
        reached: clusterAnswerFor(error),
        ...(error ? { error: error.describe() } : {}),
        ...throttling,
      };
      try {
        await guard.release(slot, answer);
      } catch {
        // The slot expires at its TTL; the reconcile's own outcome stands.
      }
    },
  };
}
