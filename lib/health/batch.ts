// Jobs and CronJobs.

import type { KubeObject } from '../model/object.js';
import type { HealthResult } from '../model/status.js';
import { condition, conditions, describeCondition, fields, num, str } from './fields.js';
import { degraded, healthy, progressing, RECHECK_MS, suspended } from './result.js';

export function jobHealth(obj: KubeObject): HealthResult {
  const spec = fields(obj, 'spec');
  const status = fields(obj, 'status');
  const conds = conditions(status);
  const isTrue = (type: string) => {
    const c = condition(conds, type);
    return c?.status === 'True' ? c : undefined;
  };

  // FailureTarget is set as soon as the controller decides the Job failed,
  // before its pods are gone and Failed is added: it is already final.
  const failed = isTrue('Failed') ?? isTrue('FailureTarget');
  if (failed) return degraded(describeCondition(failed));
  const succeeded = num(status.succeeded) ?? 0;
  if (isTrue('Complete')) return healthy(`completed: ${succeeded} succeeded`);
  if (spec.suspend === true || isTrue('Suspended'))
    return suspended('job is suspended (spec.suspend)');

  const active = num(status.active) ?? 0;
  const failedPods = num(status.failed) ?? 0;
  // completions is null for work-queue Jobs: they finish when any pod succeeds.
  const completions = num(spec.completions);
  const parts = [
    `${active} active`,
    completions !== undefined
      ? `${succeeded} of ${completions} succeeded`
      : `${succeeded} succeeded`,
  ];
  if (failedPods > 0) parts.push(`${failedPods} failed`);
  return progressing(`running: ${parts.join(', ')}`, RECHECK_MS.Job);
}

export function cronJobHealth(obj: KubeObject): HealthResult {
  const spec = fields(obj, 'spec');
  const status = fields(obj, 'status');
  if (spec.suspend === true) return suspended('cron job is suspended (spec.suspend)');
  const last = str(status.lastScheduleTime);
  return healthy(last ? `last scheduled at ${last}` : 'not scheduled yet');
}
