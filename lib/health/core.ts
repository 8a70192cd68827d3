// Kinds whose health is one field of their status: PersistentVolumeClaim,
// Service, Ingress, Namespace.

import type { KubeObject } from '../model/object.js';
import type { HealthResult } from '../model/status.js';
import { conditions, describeCondition, type Fields, fields, records, str } from './fields.js';
import { degraded, healthy, progressing, RECHECK_MS } from './result.js';

export function persistentVolumeClaimHealth(obj: KubeObject): HealthResult {
  const spec = fields(obj, 'spec');
  const phase = str(fields(obj, 'status').phase);
  const volume = str(spec.volumeName);
  if (phase === 'Bound') return healthy(volume ? `bound to volume ${volume}` : 'bound');
  if (phase === 'Lost') {
    return degraded(volume ? `volume ${volume} lost` : 'claim lost its volume');
  }
  // Pending: no matching volume yet, a provisioner still working, or a
  // WaitForFirstConsumer class waiting for a pod to use the claim.
  const storageClass = str(spec.storageClassName);
  return progressing(
    storageClass
      ? `waiting for a volume to bind (storage class ${storageClass})`
      : 'waiting for a volume to bind',
    RECHECK_MS.PersistentVolumeClaim,
  );
}

function loadBalancerAddresses(status: Fields): string[] {
  return records(fields(status, 'loadBalancer').ingress)
    .map((i) => str(i.hostname) ?? str(i.ip) ?? '')
    .filter(Boolean);
}

function hasLoadBalancerIngress(status: Fields): boolean {
  return records(fields(status, 'loadBalancer').ingress).length > 0;
}

export function serviceHealth(obj: KubeObject): HealthResult {
  const type = str(fields(obj, 'spec').type) ?? 'ClusterIP';
  if (type !== 'LoadBalancer') return healthy();
  const status = fields(obj, 'status');
  if (!hasLoadBalancerIngress(status)) {
    return progressing('waiting for a load balancer address', RECHECK_MS.Service);
  }
  const addresses = loadBalancerAddresses(status);
  return healthy(addresses.length ? `load balancer at ${addresses.join(', ')}` : undefined);
}

/**
 * Argo CD semantics: an Ingress is Progressing until an ingress controller
 * publishes an address in status.loadBalancer.ingress. On a cluster without
 * an ingress controller (or one that never writes status) it stays
 * Progressing; that is the signal that nothing is serving it.
 */
export function ingressHealth(obj: KubeObject): HealthResult {
  const status = fields(obj, 'status');
  if (!hasLoadBalancerIngress(status)) {
    return progressing(
      'waiting for an ingress controller to publish an address (status.loadBalancer.ingress)',
      RECHECK_MS.Ingress,
    );
  }
  const addresses = loadBalancerAddresses(status);
  return healthy(addresses.length ? `served at ${addresses.join(', ')}` : undefined);
}

export function namespaceHealth(obj: KubeObject): HealthResult {
  const status = fields(obj, 'status');
  if (str(status.phase) === 'Terminating') {
    // The namespace controller explains what it is still deleting in True conditions.
    const blocking = conditions(status)
      .filter((c) => c.status === 'True')
      .map(describeCondition);
    return progressing(
      blocking.length ? `terminating: ${blocking.join('; ')}` : 'terminating',
      RECHECK_MS.Namespace,
    );
  }
  return healthy();
}
