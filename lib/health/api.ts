// Kinds that extend the API: CustomResourceDefinition and APIService.

import type { KubeObject } from '../model/object.js';
import type { HealthResult } from '../model/status.js';
import { condition, conditions, describeCondition, fields } from './fields.js';
import { degraded, healthy, progressing, RECHECK_MS } from './result.js';

export function customResourceDefinitionHealth(obj: KubeObject): HealthResult {
  const conds = conditions(fields(obj, 'status'));
  const names = condition(conds, 'NamesAccepted');
  // A name clash with another CRD never resolves by waiting.
  if (names?.status === 'False') return degraded(`names not accepted: ${describeCondition(names)}`);
  if (condition(conds, 'Established')?.status === 'True') return healthy('established');
  return progressing('waiting for the CRD to be established', RECHECK_MS.CustomResourceDefinition);
}

/**
 * An unavailable APIService is Progressing rather than Degraded, as in Argo
 * CD: it usually waits for the Service behind it, deployed alongside.
 */
export function apiServiceHealth(obj: KubeObject): HealthResult {
  const available = condition(conditions(fields(obj, 'status')), 'Available');
  if (available?.status === 'True') return healthy();
  return progressing(
    available ? `not available: ${describeCondition(available)}` : 'waiting to become available',
    RECHECK_MS.APIService,
  );
}
