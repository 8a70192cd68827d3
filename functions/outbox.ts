// The commit status outbox's consumer: SQS events from the FIFO outbox queue
// (one group per repository+commit+context). lib/github/outbox.ts decides
// each message's fate; this handler deletes what is done and defers the rest
// to the delay it was given (its visibility timeout: GitHub's Retry-After, or
// a backoff), reporting those as batch item failures so they come back.

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { deliverOutbox } from '../lib/github/outbox.js';
import { configFromEnv, observability } from './wiring/config.js';
import { outboxPlane } from './wiring/outbox.js';

const config = configFromEnv(process.env);
const plane = outboxPlane(config);
const { logger, metrics, tracer } = observability('outbox');

export const handler = middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
  const records = event.Records;
  const decisions = await deliverOutbox(
    { poster: plane.poster, logger },
    records.map((r) => ({
      id: r.messageId,
      body: r.body,
      receiveCount: Number(r.attributes.ApproximateReceiveCount ?? '1'),
    })),
  );
  const byId = new Map(records.map((r) => [r.messageId, r]));
  const failures: SQSBatchResponse['batchItemFailures'] = [];
  for (const d of decisions) {
    metrics.addMetric(
      `Statuses${d.why === 'rate-limited' ? 'RateLimited' : capitalize(d.why)}`,
      'Count',
      1,
    );
    if (d.action === 'delete') continue;
    const record = byId.get(d.id);
    if (!record) continue;
    try {
      await plane.messages.defer(record.eventSourceARN, record.receiptHandle, d.delaySeconds);
    } catch (e) {
      // It still comes back, after the queue's own visibility timeout.
      logger.warn('outbox retry delay not set', {
        messageId: d.id,
        delaySeconds: d.delaySeconds,
        error: e instanceof Error ? e.message : String(e),
      });
    }
    failures.push({ itemIdentifier: d.id });
  }
  return { batchItemFailures: failures };
})
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
