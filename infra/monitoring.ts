// Alarms and the dashboard. Alarms say something needs a person: a job was
// dead-lettered, jobs wait too long, a function fails or is throttled. The
// dashboard shows what the worker does (its Powertools metrics: Reconciles,
// DriftDetected, ReconcileDuration, JobsSkipped, DeadLettered and
// Errors<Reason>, dimension `service`) next to the queues and the functions.
//
// Each alarm costs $0.10 a month and the dashboard $3 whatever the traffic,
// so by default (driftless:alarms "essential") only the alarms whose signal
// nothing else gives are created: see ESSENTIAL_ALARMS. The rest ("all") and
// the dashboard (driftless:dashboard) are opt-in.

import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { AlarmSet } from './config.js';

/**
 * The alarms of driftless:alarms "essential", the default. The sweep's
 * errors: a failing sweep stops drift detection and leaves every target's
 * status as it was, so nothing else shows it. What the others watch shows
 * elsewhere for free: a dead-lettered job marks its target Degraded (status
 * API, CLI, commit status); a failing or throttled worker leaves targets
 * stuck or Degraded there too; the webhook's failures are in GitHub's
 * delivery log; the API's are answered to the caller; the outbox's only
 * delay advisory commit statuses. A second alarm would take the default
 * stack past $2 a month at rest (test/unit/infra.test.ts).
 */
export const ESSENTIAL_ALARMS: readonly string[] = ['SweepErrors'];

export interface DriftlessMonitoringProps {
  functions: Record<'webhook' | 'worker' | 'sweep' | 'api' | 'outbox', lambda.IFunction>;
  jobQueue: sqs.IQueue;
  delayQueue: sqs.IQueue;
  deadLetterQueues: sqs.IQueue[];
  /** Commit statuses GitHub kept refusing or failing for their whole retry budget. */
  outboxDeadLetterQueue?: sqs.IQueue;
  metricsNamespace: string;
  maxQueueAgeSeconds: number;
  topic?: sns.ITopic;
  /** Which alarms (driftless:alarms). */
  alarms: AlarmSet;
  /** The dashboard (driftless:dashboard). */
  dashboard: boolean;
}

export class DriftlessMonitoring extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: DriftlessMonitoringProps) {
    super(scope, id);
    const fiveMinutes = Duration.minutes(5);
    const wanted = (alarmId: string) =>
      props.alarms === 'all' ||
      (props.alarms === 'essential' && ESSENTIAL_ALARMS.includes(alarmId));
    const alarm = (alarmId: string, metric: cloudwatch.IMetric, opts: AlarmOptions) => {
      if (!wanted(alarmId)) return;
      const a = new cloudwatch.Alarm(this, alarmId, {
        metric,
        threshold: opts.threshold,
        evaluationPeriods: opts.evaluationPeriods ?? 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: opts.description,
      });
      if (props.topic) {
        a.addAlarmAction(new actions.SnsAction(props.topic));
        a.addOkAction(new actions.SnsAction(props.topic));
      }
      this.alarms.push(a);
    };

    const [jobDlq, delayDlq] = props.deadLetterQueues;
    for (const [name, dlq] of [
      ['JobDeadLetterQueueNotEmpty', jobDlq],
      ['DelayDeadLetterQueueNotEmpty', delayDlq],
    ] as const) {
      if (!dlq) continue;
      alarm(
        name,
        dlq.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: 'Maximum',
        }),
        {
          threshold: 1,
          description:
            'A job was dead-lettered: its target is Degraded with the last error (GET /apps/{name}). Inspect the message, fix the cause, then redrive or purge.',
        },
      );
    }
    if (props.outboxDeadLetterQueue) {
      alarm(
        'OutboxDeadLetterQueueNotEmpty',
        props.outboxDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: 'Maximum',
        }),
        {
          threshold: 1,
          description:
            "A commit status could not be posted to GitHub through its whole retry budget (GitHub down or rate limiting for long, or credentials failing): see the outbox function's log group; statuses are advisory, syncs are not affected.",
        },
      );
    }
    alarm(
      'JobQueueOldestMessage',
      props.jobQueue.metricApproximateAgeOfOldestMessage({
        period: fiveMinutes,
        statistic: 'Maximum',
      }),
      {
        threshold: props.maxQueueAgeSeconds,
        evaluationPeriods: 2,
        description:
          'Jobs wait too long: the worker is failing, throttled or at its maximum concurrency.',
      },
    );
    for (const [name, fn] of Object.entries(props.functions)) {
      const label = name.charAt(0).toUpperCase() + name.slice(1);
      alarm(`${label}Errors`, fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' }), {
        threshold: 1,
        description: `The ${name} function failed (an unhandled error, timeout or out of memory); see its log group.`,
      });
      alarm(`${label}Throttles`, fn.metricThrottles({ period: fiveMinutes, statistic: 'Sum' }), {
        threshold: 1,
        description: `The ${name} function was throttled: raise the account's concurrency or lower Driftless's.`,
      });
    }

    if (!props.dashboard) return;
    // Dashboard.
    const ns = props.metricsNamespace;
    const worker = (metricName: string, statistic = 'Sum', label?: string) =>
      new cloudwatch.Metric({
        namespace: ns,
        metricName,
        dimensionsMap: { service: 'driftless-worker' },
        statistic,
        period: fiveMinutes,
        label: label ?? metricName,
      });
    const service = (svc: string, metricName: string) =>
      new cloudwatch.Metric({
        namespace: ns,
        metricName,
        dimensionsMap: { service: `driftless-${svc}` },
        statistic: 'Sum',
        period: fiveMinutes,
      });
    const fns = Object.entries(props.functions);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Reconciles and drift',
            left: [worker('Reconciles'), worker('DriftDetected'), worker('JobsSkipped')],
            right: [worker('DeadLettered')],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Reconcile duration (ms)',
            left: [
              worker('ReconcileDuration', 'p50', 'p50'),
              worker('ReconcileDuration', 'p90', 'p90'),
              worker('ReconcileDuration', 'Maximum', 'max'),
            ],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Errors by reason',
            // One series per Errors<Reason> metric the worker has emitted.
            left: [
              new cloudwatch.SearchExpression({
                expression: `SEARCH('{"${ns}",service} service="driftless-worker" Errors', 'Sum', 300)`,
                label: '',
                period: fiveMinutes,
              }),
            ],
            width: 8,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Job queue',
            left: [
              props.jobQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes }),
              props.jobQueue.metricApproximateNumberOfMessagesNotVisible({ period: fiveMinutes }),
              props.delayQueue.metricApproximateNumberOfMessagesDelayed({ period: fiveMinutes }),
            ],
            right: [
              props.jobQueue.metricApproximateAgeOfOldestMessage({
                period: fiveMinutes,
                statistic: 'Maximum',
              }),
            ],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Dead-letter queues',
            left: [
              ...props.deadLetterQueues,
              ...(props.outboxDeadLetterQueue ? [props.outboxDeadLetterQueue] : []),
            ].map((q) =>
              q.metricApproximateNumberOfMessagesVisible({
                period: fiveMinutes,
                statistic: 'Maximum',
              }),
            ),
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Webhook, sweep, commit statuses and API',
            left: [
              service('webhook', 'TargetsRouted'),
              service('webhook', 'WebhookRejected'),
              service('sweep', 'SweepEnqueued'),
              service('sweep', 'SweepDeferred'),
              service('outbox', 'StatusesPosted'),
              service('outbox', 'StatusesRateLimited'),
            ],
            right: [
              service('api', 'ApiOk'),
              service('api', 'ApiClientError'),
              service('api', 'ApiServerError'),
            ],
            width: 8,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Function errors and throttles',
            left: fns.map(([name, fn]) =>
              fn.metricErrors({ period: fiveMinutes, label: `${name} errors` }),
            ),
            right: fns.map(([name, fn]) =>
              fn.metricThrottles({ period: fiveMinutes, label: `${name} throttles` }),
            ),
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Function duration p90 (ms)',
            left: fns.map(([name, fn]) =>
              fn.metricDuration({ period: fiveMinutes, statistic: 'p90', label: name }),
            ),
            width: 12,
          }),
        ],
      ],
    });
  }
}

interface AlarmOptions {
  threshold: number;
  evaluationPeriods?: number;
  description: string;
}
