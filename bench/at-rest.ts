// What a synthesized Driftless stack costs a month at rest — deployed, no
// push, no drift, nothing due — read from its CloudFormation template with a
// small price table. Used by test/unit/infra.test.ts (the default stack
// stays within AT_REST_BUDGET) and by bench/cost.bench.ts (its at-rest
// section, with the idle sweep's measured duration).
//
// What is assumed, beyond the prices:
// - An SQS event source mapping long-polls an idle queue (20 s receives):
//   Lambda keeps 5 pollers on it when the mapping has a maximum concurrency
//   (Lambda's scale-down to 2 pollers "is not available when you enable the
//   maximum concurrency setting", Lambda developer guide, SQS scaling), 2
//   otherwise. Each empty receive is a billed request.
// - A scheduled Lambda runs every tick with nothing to do: IDLE_RUN (its
//   billed duration, the DynamoDB reads, the bytes it logs, the custom
//   metrics it emits — functions/sweep.ts emits two every run — and one
//   trace when tracing is on).
// - A month is 30 days; list prices without any free tier (the always-free
//   tiers — 1 M SQS and Lambda requests, 10 alarms and metrics, 3
//   dashboards, 100 k traces — would cover most of this in an otherwise
//   empty account, but an account rarely is).
// - Storage of the near-empty table (and its point-in-time recovery) rounds
//   to nothing; API Gateway, Function URLs, SNS and every other per-request
//   resource cost nothing without requests.

import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { DriftlessConfig } from '../infra/config.js';
import { DriftlessStack } from '../infra/stack.js';

/** us-east-1 on-demand list prices (USD), as known on AT_REST_PRICES_DATE; not fetched. */
export const AT_REST_PRICES = {
  alarmMetricMonth: 0.1,
  compositeAlarmMonth: 0.5,
  dashboardMonth: 3.0,
  customMetricMonth: 0.3,
  kmsKeyMonth: 1.0,
  secretMonth: 0.4,
  sqsStandardRequest: 0.4 / 1e6,
  sqsFifoRequest: 0.5 / 1e6,
  schedulerInvocation: 1.0 / 1e6,
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecond: { arm64: 0.0000133334, x86_64: 0.0000166667 },
  xrayTrace: 5.0 / 1e6,
  logsIngestGb: 0.5,
  logsStoreGbMonth: 0.03,
  dynamoRru: 0.125 / 1e6,
} as const;
export const AT_REST_PRICES_DATE = '2025-11 (AWS pricing pages, us-east-1)';

/** The default stack at rest must cost at most this a month (issue #15). */
export const AT_REST_BUDGET = 2.0;

export const MINUTES_PER_MONTH = 30 * 24 * 60;
const LONG_POLL_SECONDS = 20;
/** Idle pollers of an SQS event source mapping, with and without a maximum concurrency. */
export const ESM_IDLE_POLLERS = { withMaxConcurrency: 5, without: 2 } as const;

/** One scheduled run with nothing to do (the sweep of an idle installation). */
export interface IdleRun {
  /** Billed duration of the run. */
  ms: number;
  /** DynamoDB read request units per run. */
  rru: number;
  /** CloudWatch Logs bytes per run (START/END/REPORT and its one JSON line). */
  logBytes: number;
  /** Custom metrics emitted every run (each a metric billed the whole month). */
  customMetrics: number;
}

/**
 * The sweep's tick with no cluster to sweep (functions/sweep.ts → sweepTick):
 * one Query of the cluster listing (0.5 RRU, eventually consistent) and two
 * metrics; 230 ms is what the previous sweep's idle run measured at 512 MB
 * (2026-12-02), kept as an upper bound; bench/cost passes its own measurement.
 */
export const IDLE_RUN: IdleRun = { ms: 230, rru: 0.5, logBytes: 800, customMetrics: 2 };

export interface CostLine {
  item: string;
  monthly: number;
  how: string;
}

export interface AtRestCost {
  lines: CostLine[];
  total: number;
}

type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties?: Json;
}

/** The logical id a `Ref` or `Fn::GetAtt` names. */
function refOf(v: unknown): string | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Json;
  if (typeof o.Ref === 'string') return o.Ref;
  const att = o['Fn::GetAtt'];
  if (Array.isArray(att) && typeof att[0] === 'string') return att[0];
  return undefined;
}

/** A logical id without CDK's hash suffix (JobQueueEE3AD499 → JobQueue). */
function short(id: string): string {
  return id.replace(/[0-9A-F]{8}$/, '');
}

function count(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : `${n}`;
}

/** Runs a month of a schedule expression (`rate(…)`; a cron is priced as every minute, the most). */
function runsPerMonth(expression: string): number {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!m) return MINUTES_PER_MONTH;
  const n = Number(m[1]);
  const unit = m[2]?.startsWith('minute') ? 1 : m[2]?.startsWith('hour') ? 60 : 1440;
  return MINUTES_PER_MONTH / (n * unit);
}

/** The at-rest monthly cost of a CloudFormation template (`Template.toJSON()`). */
export function atRestCost(
  template: { Resources?: Record<string, unknown> },
  idle = IDLE_RUN,
): AtRestCost {
  const P = AT_REST_PRICES;
  const resources = (template.Resources ?? {}) as Record<string, Resource>;
  const ofType = (type: string) =>
    Object.entries(resources).filter(([, r]) => r.Type === type) as [string, Resource][];
  const lines: CostLine[] = [];
  const add = (item: string, monthly: number, how: string) => {
    if (monthly > 0) lines.push({ item, monthly, how });
  };

  // CloudWatch: an alarm is billed per metric it evaluates.
  const alarms = ofType('AWS::CloudWatch::Alarm');
  const alarmMetrics = alarms.reduce((n, [, r]) => {
    const math = r.Properties?.Metrics as Json[] | undefined;
    return n + (math ? math.filter((m) => m.MetricStat).length : 1);
  }, 0);
  add(
    'CloudWatch alarms',
    alarmMetrics * P.alarmMetricMonth,
    `${alarms.length} alarms (${alarms.map(([id]) => short(id).replace(/^Monitoring/, '')).join(', ')}), ${alarmMetrics} metrics × $${P.alarmMetricMonth}`,
  );
  const composite = ofType('AWS::CloudWatch::CompositeAlarm').length;
  add('CloudWatch composite alarms', composite * P.compositeAlarmMonth, `${composite} × $0.50`);
  const dashboards = ofType('AWS::CloudWatch::Dashboard').length;
  add(
    'CloudWatch dashboards',
    dashboards * P.dashboardMonth,
    `${dashboards} × $${P.dashboardMonth}`,
  );
  const keys = ofType('AWS::KMS::Key').length;
  add('KMS keys', keys * P.kmsKeyMonth, `${keys} customer managed × $${P.kmsKeyMonth}`);
  const secrets = ofType('AWS::SecretsManager::Secret').length;
  add('Secrets Manager', secrets * P.secretMonth, `${secrets} secrets × $${P.secretMonth}`);

  // Event source mappings: empty long polls of idle queues.
  for (const [, r] of ofType('AWS::Lambda::EventSourceMapping')) {
    const queueId = refOf(r.Properties?.EventSourceArn);
    const queue = queueId ? resources[queueId] : undefined;
    if (!queueId || queue?.Type !== 'AWS::SQS::Queue') continue;
    const fifo = queue.Properties?.FifoQueue === true || queue.Properties?.FifoQueue === 'true';
    const capped =
      (r.Properties?.ScalingConfig as Json | undefined)?.MaximumConcurrency !== undefined;
    const pollers = capped ? ESM_IDLE_POLLERS.withMaxConcurrency : ESM_IDLE_POLLERS.without;
    const requests = pollers * (60 / LONG_POLL_SECONDS) * MINUTES_PER_MONTH;
    const price = fifo ? P.sqsFifoRequest : P.sqsStandardRequest;
    add(
      `SQS idle polling: ${short(queueId)}`,
      requests * price,
      `${pollers} pollers × ${60 / LONG_POLL_SECONDS} empty ${LONG_POLL_SECONDS} s receives/min = ${count(requests)} × $${(price * 1e6).toFixed(2)}/M (${fifo ? 'FIFO' : 'standard'}${capped ? ', maximum concurrency set' : ''})`,
    );
  }

  // Schedules: the schedule itself and what its target function does each tick.
  const schedules = [
    ...ofType('AWS::Scheduler::Schedule').map(([id, r]) => ({
      id,
      expression: String(r.Properties?.ScheduleExpression ?? ''),
      target: refOf((r.Properties?.Target as Json | undefined)?.Arn),
      price: P.schedulerInvocation,
    })),
    // EventBridge rules on a schedule are free; their targets are not.
    ...ofType('AWS::Events::Rule')
      .filter(([, r]) => r.Properties?.ScheduleExpression)
      .map(([id, r]) => ({
        id,
        expression: String(r.Properties?.ScheduleExpression),
        target: refOf(((r.Properties?.Targets as Json[] | undefined) ?? [])[0]?.Arn),
        price: 0,
      })),
  ];
  for (const s of schedules) {
    const runs = runsPerMonth(s.expression);
    add(
      `Schedule ${s.id}`,
      runs * s.price,
      `${count(runs)} invocations × $1.00/M (${s.expression})`,
    );
    const fn = s.target ? resources[s.target] : undefined;
    if (!s.target || fn?.Type !== 'AWS::Lambda::Function') continue;
    const target = short(s.target);
    const p = fn.Properties ?? {};
    const memoryMb = Number(p.MemorySize ?? 128);
    const arch = (p.Architectures as string[] | undefined)?.[0] === 'arm64' ? 'arm64' : 'x86_64';
    const env = ((p.Environment as Json | undefined)?.Variables ?? {}) as Json;
    const compute =
      runs * (P.lambdaRequest + (idle.ms / 1000) * (memoryMb / 1024) * P.lambdaGbSecond[arch]);
    add(
      `Lambda ${target} (idle runs)`,
      compute,
      `${count(runs)} × (1 request + ${idle.ms} ms at ${memoryMb} MB ${arch})`,
    );
    add(
      `DynamoDB reads of ${target}`,
      runs * idle.rru * P.dynamoRru,
      `${count(runs)} × ${idle.rru} RRU`,
    );
    const logGroupId = refOf((p.LoggingConfig as Json | undefined)?.LogGroup);
    const retention = Number(
      (logGroupId ? resources[logGroupId]?.Properties?.RetentionInDays : undefined) ?? 3653,
    );
    const gb = (runs * idle.logBytes) / 1e9;
    add(
      `CloudWatch Logs of ${target}`,
      gb * P.logsIngestGb + gb * Math.min(retention / 30, 120) * P.logsStoreGbMonth,
      `${count(runs)} × ${idle.logBytes} B ingested, kept ${retention} days`,
    );
    if (env.POWERTOOLS_METRICS_DISABLED !== 'true')
      add(
        `Custom metrics of ${target}`,
        idle.customMetrics * P.customMetricMonth,
        `${idle.customMetrics} metrics emitted every run × $${P.customMetricMonth} (driftless:metrics)`,
      );
    if ((p.TracingConfig as Json | undefined)?.Mode === 'Active')
      add(
        `X-Ray traces of ${target}`,
        runs * P.xrayTrace,
        `${count(runs)} traces × $5.00/M (driftless:tracing)`,
      );
  }

  lines.sort((a, b) => b.monthly - a.monthly);
  return { lines, total: lines.reduce((n, l) => n + l.monthly, 0) };
}

/** The breakdown as a Markdown table. */
export function formatAtRest(cost: AtRestCost, title = 'At rest'): string {
  const usd = (x: number) => `$${x.toFixed(x < 0.1 ? 3 : 2)}`;
  return [
    `**${title}** (a month, no traffic; list prices ${AT_REST_PRICES_DATE}, no free tier)`,
    '',
    '| item | per month | how |',
    '|---|---:|---|',
    ...cost.lines.map((l) => `| ${l.item} | ${usd(l.monthly)} | ${l.how} |`),
    `| **Total** | **${usd(cost.total)}** | |`,
  ].join('\n');
}

/** The at-rest cost of the stack synthesized with `config` (bundling skipped: only the template counts). */
export function stackAtRest(config: Partial<DriftlessConfig> = {}, idle = IDLE_RUN): AtRestCost {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new DriftlessStack(app, 'Driftless', {
    config,
    env: { account: '123456789012', region: 'us-east-1' },
  });
  return atRestCost(Template.fromStack(stack).toJSON(), idle);
}
