// Commit statuses from the webhook and the worker: the outbox's reporter,
// which only enqueues (lib/github/outbox.ts); the outbox function posts them
// to GitHub (functions/wiring/outbox.ts). No GitHub client or credentials here.

import type { SQSClient } from '@aws-sdk/client-sqs';
import { SqsStatusOutbox } from '../../lib/aws/outbox.js';
import { type OutboxLogger, OutboxReporter } from '../../lib/github/outbox.js';
import { type CommitStatusReporter, noReporter } from '../../lib/ports/report.js';
import type { DataPlaneConfig } from './config.js';

export function reporterPlane(
  config: DataPlaneConfig,
  sqs: SQSClient,
  logger?: OutboxLogger,
): { reporter: CommitStatusReporter } {
  const reporter: CommitStatusReporter = config.outboxQueueUrl
    ? new OutboxReporter(new SqsStatusOutbox({ client: sqs, queueUrl: config.outboxQueueUrl }), {
        logger,
      })
    : noReporter;
  return { reporter };
}
