// Constructors for HealthResult and how long to wait before looking again at
// something still rolling out. The worker re-enqueues a delayed health check
// after `recheckAfterMs` instead of holding a Lambda open for the rollout.

import type { HealthResult } from '../model/status.js';
import { clip } from './fields.js';

/**
 * Recheck delays by how fast each kind usually converges: a Pod or a
 * ReplicaSet moves within seconds, a StatefulSet rolls pod by pod, a load
 * balancer or a volume waits on infrastructure outside the cluster.
 */
export const RECHECK_MS = {
  Deployment: 5_000,
  ReplicaSet: 5_000,
  Pod: 5_000,
  Namespace: 5_000,
  CustomResourceDefinition: 5_000,
  Deletion: 5_000,
  DaemonSet: 10_000,
  StatefulSet: 10_000,
  Job: 10_000,
  APIService: 10_000,
  Generic: 10_000,
  PersistentVolumeClaim: 15_000,
  Service: 15_000,
  Ingress: 15_000,
  HorizontalPodAutoscaler: 15_000,
} as const;

export function healthy(message?: string): HealthResult {
  return message ? { status: 'Healthy', message: clip(message) } : { status: 'Healthy' };
}

export function progressing(message: string, recheckAfterMs: number): HealthResult {
  return { status: 'Progressing', message: clip(message), recheckAfterMs };
}

export function degraded(message: string): HealthResult {
  return { status: 'Degraded', message: clip(message) };
}

export function suspended(message: string): HealthResult {
  return { status: 'Suspended', message: clip(message) };
}

export function unknown(message: string): HealthResult {
  return { status: 'Unknown', message: clip(message) };
}
