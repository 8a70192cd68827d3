// Every kind without its own rules, custom resources included, read through
// the conventions most controllers follow (kstatus, Flux, Crossplane, ...):
// observedGeneration, then the Stalled / Reconciling / Ready conditions.

import type { KubeObject } from '../model/object.js';
import type { HealthResult } from '../model/status.js';
import {
  condition,
  conditions,
  describeCondition,
  fields,
  generationPending,
  hasStatus,
} from './fields.js';
import { degraded, healthy, progressing, RECHECK_MS } from './result.js';

/** Conditions that, when True, mean the controller gave up until something changes. */
const FAILURE_CONDITIONS = ['Stalled', 'Failed', 'Degraded'];

/** Ready=False reasons that name a failure, checked before the in-progress ones. */
const FAILURE_REASON =
  /fail|error|invalid|denied|forbidden|exceeded|backoff|conflict|timeout|timedout/i;
/** Ready=False reasons that say the controller is still working. */
const IN_PROGRESS_REASON =
  /progress|reconcil|pending|waiting|creat|provision|initializ|updat|install|upgrad|start|dependencynotready/i;

export function genericHealth(obj: KubeObject): HealthResult {
  // Kinds without status (ConfigMap, Secret, ServiceAccount, Role, ...) are healthy once they exist.
  if (!hasStatus(obj)) return healthy();
  const status = fields(obj, 'status');
  const recheck = RECHECK_MS.Generic;
  const generation = generationPending(obj, status);
  if (generation) {
    return progressing(`waiting for the controller to observe the spec (${generation})`, recheck);
  }

  const conds = conditions(status);
  for (const type of FAILURE_CONDITIONS) {
    const c = condition(conds, type);
    if (c?.status === 'True') return degraded(`${type}: ${describeCondition(c)}`);
  }
  const reconciling = condition(conds, 'Reconciling');
  if (reconciling?.status === 'True') {
    return progressing(`reconciling: ${describeCondition(reconciling)}`, recheck);
  }

  // Where a Ready condition exists it is the controller's own verdict.
  const ready = condition(conds, 'Ready');
  if (ready) {
    if (ready.status === 'True') return healthy(ready.message);
    if (ready.status === 'False') {
      const reason = ready.reason ?? '';
      if (!FAILURE_REASON.test(reason) && IN_PROGRESS_REASON.test(reason)) {
        return progressing(`not ready: ${describeCondition(ready)}`, recheck);
      }
      return degraded(`not ready: ${describeCondition(ready)}`);
    }
    return progressing(`readiness unknown: ${describeCondition(ready)}`, recheck);
  }

  // Progressing=True alongside Available=True is Deployment-style "rollout
  // complete" (reason NewReplicaSetAvailable), not work in progress.
  const progress = condition(conds, 'Progressing');
  if (progress?.status === 'True' && condition(conds, 'Available')?.status !== 'True') {
    return progressing(`progressing: ${describeCondition(progress)}`, recheck);
  }
  return healthy();
}
