// The reconcile worker: SQS events from the FIFO job queue (one group per
// target) and from the delayed health-check queue. Each record is one job;
// partial batch failures keep one bad target from failing the others, and a
// failing FIFO group stops there so its order is kept. A retry comes back
// after the app's backoff (the message's visibility timeout); past the retry
// limit the target is Degraded and the message goes to the dead-letter queue.
// Each reconcile gets the invocation's deadline (the Lambda context's
// remaining time), so it stops and writes its status before Lambda kills it.

import {
  BatchProcessor,
  EventType,
  FullBatchFailureError,
  processPartialResponse,
  SqsFifoPartialProcessorAsync,
} from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseMessage } from '../lib/aws/queue.js';
import { DriftlessError } from '../lib/errors.js';
import { attemptOfJob, isClusterSweep, redrivableJob } from '../lib/ports/queue.js';
import { processJob, processMessage } from '../lib/worker.js';
import { configFromEnv, observability } from './wiring/config.js';
import { workerPlane } from './wiring/worker.js';

const config = configFromEnv(process.env);
const { logger, metrics, tracer } = observability('worker');
const plane = workerPlane(config, logger);

/** The invocation being served: its remaining time is each reconcile's deadline. */
let invocation: Context | undefined;

async function handleRecord(record: SQSRecord): Promise<void> {
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
  if (isClusterSweep(job)) return sweepRecord(job, attempt);
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

/** Processes a batch; every record failing is still a partial response (each carries its own backoff). */
async function processBatch(
  records: SQSRecord[],
  processor: SqsFifoPartialProcessorAsync | BatchProcessor,
  context: Context,
): Promise<SQSBatchResponse['batchItemFailures']> {
  try {
    // skipGroupOnError: after a failure, the rest of that FIFO group waits (order kept).
    const res = await processPartialResponse({ Records: records }, handleRecord, processor, {
      context,
      skipGroupOnError: true,
    });
    return res.batchItemFailures;
  } catch (e) {
    if (e instanceof FullBatchFailureError)
      return records.map((r) => ({ itemIdentifier: r.messageId }));
    throw e;
  }
}

export const handler = middy(
  async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    invocation = context;
    const fifo = event.Records.filter((r) => r.eventSourceARN.endsWith('.fifo'));
    const standard = event.Records.filter((r) => !r.eventSourceARN.endsWith('.fifo'));
    const failures: SQSBatchResponse['batchItemFailures'] = [];
    if (fifo.length)
      failures.push(...(await processBatch(fifo, new SqsFifoPartialProcessorAsync(), context)));
    if (standard.length) {
      failures.push(...(await processBatch(standard, new BatchProcessor(EventType.SQS), context)));
    }
    return { batchItemFailures: failures };
  },
)
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
