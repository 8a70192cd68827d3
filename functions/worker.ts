// The reconcile worker: SQS events from the FIFO job queue (one group per
// target) and from the delayed health-check queue. Each record is one job;
// partial batch failures keep one bad target from failing the others. The
// batch's message groups run concurrently (lib/message-groups.ts, at most
// DRIFTLESS_WORKER_GROUP_CONCURRENCY at once), each group's records in order;
// a failing group stops there so its order is kept. A retry comes back
// after the app's backoff (the message's visibility timeout); past the retry
// limit the target is Degraded and the message goes to the dead-letter queue.
// Each reconcile gets the invocation's deadline (the Lambda context's
// remaining time), so it stops and writes its status before Lambda kills it.

import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseMessage } from '../lib/aws/queue.js';
import { DriftlessError } from '../lib/errors.js';
import { processGroups } from '../lib/message-groups.js';
import { attemptOfJob, isClusterSweep, redrivableJob } from '../lib/ports/queue.js';
import { processJob, processMessage } from '../lib/worker.js';
import { configFromEnv, observability } from './wiring/config.js';
import { workerPlane } from './wiring/worker.js';

const config = configFromEnv(process.env);
const { logger: rootLogger, metrics, tracer } = observability('worker');
const plane = workerPlane(config, rootLogger);

/** The invocation being served: its remaining time is each reconcile's deadline. */
let invocation: Context | undefined;

/** Errors thrown to report a retry (already logged with its reason and delay). */
const retried = new WeakSet<object>();

async function handleRecord(record: SQSRecord): Promise<void> {
  // Records run concurrently: each has its own logger, so one record's keys
  // (app, cluster, revision) never land on another's lines.
  const logger: Logger = rootLogger.createChild();
  let job: ReturnType<typeof parseMessage>;
  try {
    job = parseMessage(record.body);
  } catch (e) {
    // Retrying cannot fix a message that is not a job: dead-letter it now.
    const error = e instanceof DriftlessError ? e : new DriftlessError('InvalidSpec', String(e));
    logger.error('unparseable message dead-lettered', {
      error: error.describe(),
      messageId: record.messageId,
    });
    await plane.messages.deadLetter(deadLettered(record), errorOf(error), attemptOf(record));
    return;
  }
  const attempt = attemptOf(record);
  if (isClusterSweep(job)) return sweepRecord(logger, job, attempt);
  logger.appendKeys({
    app: job.app,
    cluster: job.cluster,
    trigger: job.trigger,
    deliveryId: job.deliveryId,
    attempt,
  });
  const started = Date.now();
  const deps = plane.workerDeps((e) => {
    if (e.type === 'revision') logger.appendKeys({ revision: e.commit });
  });
  const outcome = await processJob(deps, job, attempt, {
    waitBudgetMs: config.waitBudgetMs,
    leaseTtlMs: config.leaseTtlMs,
    deadline: invocation ? Date.now() + invocation.getRemainingTimeInMillis() : undefined,
  });
  metrics.addMetric('ReconcileDuration', 'Milliseconds', Date.now() - started);
  switch (outcome.kind) {
    case 'skipped':
      logger.info('job skipped', { reason: outcome.reason });
      metrics.addMetric('JobsSkipped', 'Count', 1);
      return;
    case 'done': {
      const op = outcome.status?.operation;
      logger.info('reconciled', {
        revision: outcome.status?.wantedRevision,
        operationId: op?.id,
        sync: outcome.status?.sync,
        health: outcome.status?.health,
        phase: op?.phase,
        requeuedAfterSeconds: outcome.requeuedAfterSeconds,
      });
      metrics.addMetric('Reconciles', 'Count', 1);
      const drifted = outcome.status?.resources.filter((r) => r.sync !== 'Synced').length ?? 0;
      if (drifted) metrics.addMetric('DriftDetected', 'Count', drifted);
      if (op?.phase === 'Failed') metrics.addMetric(`Errors${op.reason ?? 'Unknown'}`, 'Count', 1);
      return;
    }
    case 'deferred':
      logger.info('job deferred', { reason: outcome.reason, delaySeconds: outcome.delaySeconds });
      metrics.addMetric('JobsDeferred', 'Count', 1);
      return;
    case 'retry':
      logger.warn('reconcile failed, retrying', {
        reason: outcome.error.reason,
        error: outcome.error.describe(),
        delaySeconds: outcome.delaySeconds,
      });
      metrics.addMetric(`Errors${outcome.error.reason}`, 'Count', 1);
      await plane.messages.defer(record.eventSourceARN, record.receiptHandle, outcome.delaySeconds);
      retried.add(outcome.error);
      throw outcome.error; // reported as a batch item failure: the message comes back after the delay
    case 'dead':
      logger.error('retries exhausted: dead-lettered', {
        reason: outcome.error.reason,
        error: outcome.error.describe(),
      });
      metrics.addMetric('DeadLettered', 'Count', 1);
      // The job without this run's bookkeeping: a redrive starts a fresh budget.
      await plane.messages.deadLetter(
        { ...deadLettered(record), body: JSON.stringify(redrivableJob(job)) },
        errorOf(outcome.error),
        attemptOfJob(job, attempt),
      );
      return;
  }
}

/** One cluster's sweep for a tick: never retried (the next tick sweeps again). */
async function sweepRecord(
  logger: Logger,
  job: Extract<ReturnType<typeof parseMessage>, { kind: 'cluster-sweep' }>,
  attempt: number,
): Promise<void> {
  logger.appendKeys({ cluster: job.cluster, trigger: 'sweep', attempt });
  const outcome = await processMessage(plane.workerDeps(), job, attempt, {
    sweep: { perClusterLimit: config.sweepPerClusterLimit },
    deadline: invocation ? Date.now() + invocation.getRemainingTimeInMillis() : undefined,
  });
  if (outcome.kind !== 'swept') return;
  const record = outcome.result.record;
  if (!record) {
    logger.info('cluster sweep skipped: tick already swept', { tick: job.tick });
    return;
  }
  metrics.addMetric('SweepEnqueued', 'Count', record.counters.enqueued);
  metrics.addMetric('SweepDeferred', 'Count', record.counters.deferred);
  logger.info('cluster swept', { ...record.counters, error: record.error });
}

function attemptOf(record: SQSRecord): number {
  return Number(record.attributes.ApproximateReceiveCount ?? '1');
}

function deadLettered(record: SQSRecord) {
  return {
    body: record.body,
    messageId: record.messageId,
    groupId: record.attributes.MessageGroupId,
    sourceArn: record.eventSourceARN,
  };
}

function errorOf(e: DriftlessError) {
  return { reason: e.reason, message: e.describe() };
}

export const handler = middy(
  async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    invocation = context;
    const records = event.Records;
    const outcomes = await processGroups(records, {
      // A standard queue's records have no group: each runs on its own.
      groupOf: (r) => r.attributes.MessageGroupId,
      limit: config.workerGroupConcurrency,
      handle: handleRecord,
    });
    const failures: SQSBatchResponse['batchItemFailures'] = [];
    const skipped: SQSRecord[] = [];
    outcomes.forEach((outcome, i) => {
      const record = records[i] as SQSRecord;
      if (outcome.kind === 'done') return;
      failures.push({ itemIdentifier: record.messageId });
      if (outcome.kind === 'skipped') skipped.push(record);
      else if (!(outcome.error instanceof Object && retried.has(outcome.error)))
        rootLogger.error('job failed', {
          messageId: record.messageId,
          error:
            outcome.error instanceof DriftlessError
              ? outcome.error.describe()
              : String(outcome.error),
        });
    });
    // A skipped record is back at once rather than after the queue's long
    // visibility timeout: its group stays blocked behind the failed record
    // (SQS FIFO delivers nothing of a group while one of its messages is in
    // flight), so it still comes after it.
    await Promise.all(
      skipped.map((r) =>
        plane.messages.defer(r.eventSourceARN, r.receiptHandle, 0).catch((e: unknown) =>
          rootLogger.warn('skipped record not released early', {
            messageId: r.messageId,
            error: String(e),
          }),
        ),
      ),
    );
    return { batchItemFailures: failures };
  },
)
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(rootLogger, { resetKeys: true }))
  .use(logMetrics(metrics));
