// The at-rest cost of the synthesized stack (bench/at-rest.ts over the
// CloudFormation template): the default stays within the budget of issue
// #15, and each opt-in adds what it says.

import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  AT_REST_BUDGET,
  AT_REST_PRICES,
  atRestCost,
  ESM_IDLE_POLLERS,
  formatAtRest,
  MINUTES_PER_MONTH,
} from '../../bench/at-rest.js';
import type { DriftlessConfig } from '../../infra/config.js';
import { DriftlessStack } from '../../infra/stack.js';

function costOf(config: Partial<DriftlessConfig> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new DriftlessStack(app, 'Driftless', {
    config,
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  return atRestCost(Template.fromStack(stack).toJSON());
}

const line = (cost: ReturnType<typeof atRestCost>, item: RegExp) =>
  cost.lines.find((l) => item.test(l.item));

describe('the stack at rest', { timeout: 120_000 }, () => {
  const base = costOf();

  it(`costs at most $${AT_REST_BUDGET} a month by default`, () => {
    console.log(formatAtRest(base, 'Default stack at rest'));
    expect(base.total).toBeLessThanOrEqual(AT_REST_BUDGET);
    // What it is made of: the two secrets, three idle event source mappings, one alarm.
    expect(line(base, /^Secrets Manager$/)?.monthly).toBeCloseTo(2 * AT_REST_PRICES.secretMonth);
    expect(base.lines.filter((l) => l.item.startsWith('SQS idle polling'))).toHaveLength(3);
    expect(line(base, /^CloudWatch alarms$/)?.monthly).toBeCloseTo(AT_REST_PRICES.alarmMetricMonth);
    expect(line(base, /dashboards/)).toBeUndefined();
    expect(line(base, /^Custom metrics/)).toBeUndefined();
    expect(line(base, /^X-Ray/)).toBeUndefined();
  });

  it('counts the idle long polls of each event source mapping', () => {
    const polls = ESM_IDLE_POLLERS.withMaxConcurrency * 3 * MINUTES_PER_MONTH;
    const fifo = base.lines.filter((l) => /SQS idle polling/.test(l.item) && /FIFO/.test(l.how));
    expect(fifo).toHaveLength(2); // the job queue and the outbox
    for (const l of fifo) expect(l.monthly).toBeCloseTo(polls * AT_REST_PRICES.sqsFifoRequest);
  });

  it('adds the dashboard and its metrics, every alarm, and tracing only when asked', () => {
    const full = costOf({ alarms: 'all', dashboard: true, tracing: true });
    console.log(formatAtRest(full, 'Every opt-in on'));
    expect(line(full, /dashboards/)?.monthly).toBe(AT_REST_PRICES.dashboardMonth);
    // The sweep's three metrics, emitted every minute.
    expect(line(full, /^Custom metrics/)?.monthly).toBeCloseTo(
      3 * AT_REST_PRICES.customMetricMonth,
    );
    expect(line(full, /^X-Ray/)?.monthly).toBeCloseTo(MINUTES_PER_MONTH * AT_REST_PRICES.xrayTrace);
    // 3 dead-letter queues, the oldest job, errors and throttles of 5 functions.
    expect(line(full, /^CloudWatch alarms$/)?.monthly).toBeCloseTo(
      14 * AT_REST_PRICES.alarmMetricMonth,
    );
    expect(full.total).toBeGreaterThan(base.total + 3);
    const none = costOf({ alarms: 'none' });
    expect(line(none, /^CloudWatch alarms$/)).toBeUndefined();
  });

  it('prices a slower sweep schedule by its rate', () => {
    const five = costOf({ sweepRateMinutes: 5 });
    const every = line(base, /^Schedule/)?.monthly ?? 0;
    expect(line(five, /^Schedule/)?.monthly).toBeCloseTo(every / 5);
  });
});
