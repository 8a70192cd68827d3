// HorizontalPodAutoscaler. autoscaling/v2 reports conditions in
// status.conditions; read as autoscaling/v1 the same conditions travel as JSON
// in an annotation.

import type { KubeObject } from '../model/object.js';
import type { HealthResult } from '../model/status.js';
import { type Condition, condition, conditions, describeCondition, fields, num } from './fields.js';
import { degraded, healthy, progressing, RECHECK_MS, suspended } from './result.js';

const V1_CONDITIONS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/conditions';

function hpaConditions(obj: KubeObject): Condition[] {
  const status = fields(obj, 'status');
  const conds = conditions(status);
  if (conds.length) return conds;
  const raw = obj.metadata.annotations?.[V1_CONDITIONS_ANNOTATION];
  if (!raw) return [];
  try {
    return conditions({ conditions: JSON.parse(raw) as unknown });
  } catch {
    return [];
  }
}

export function horizontalPodAutoscalerHealth(obj: KubeObject): HealthResult {
  const conds = hpaConditions(obj);
  const recheck = RECHECK_MS.HorizontalPodAutoscaler;
  if (!conds.length) return progressing('waiting for the autoscaler to compute metrics', recheck);

  // AbleToScale=False: the scale target cannot be read or updated (FailedGetScale, FailedUpdateScale).
  const able = condition(conds, 'AbleToScale');
  if (able?.status === 'False') return degraded(`AbleToScale: ${describeCondition(able)}`);
  const active = condition(conds, 'ScalingActive');
  if (active?.status === 'False') {
    // The target was scaled to zero on purpose: autoscaling is off, not broken.
    if (active.reason === 'ScalingDisabled') {
      return suspended(`autoscaling disabled: ${describeCondition(active)}`);
    }
    // FailedGetResourceMetric, FailedGetExternalMetric, InvalidSelector, ...
    return degraded(`ScalingActive: ${describeCondition(active)}`);
  }
  if (able?.status === 'True' && active?.status === 'True') {
    // ScalingLimited only says min/max replicas bound the desired count: fine.
    const current = num(fields(obj, 'status').currentReplicas);
    return healthy(current !== undefined ? `${current} replicas` : undefined);
  }
  const unsettled = [able, active].filter((c) => c !== undefined).map(describeCondition);
  return progressing(
    unsettled.length ? `waiting to autoscale: ${unsettled.join('; ')}` : 'waiting to autoscale',
    recheck,
  );
}
