// What the worker does to an SQS message besides deleting it: put it back
// for later (a retry's backoff, through its visibility timeout) or move it to
// the dead-letter queue with the error that exhausted its retries.

import {
  ChangeMessageVisibilityCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { DriftlessError } from '../errors.js';
import { parseJob } from './queue.js';

/** SQS caps a visibility timeout at 12 hours. */
const MAX_VISIBILITY_SECONDS = 12 * 3600;

export class MessageControl {
  constructor(
    private readonly client: SQSClient,
    /** Queue URLs by queue name (the worker's event sources). */
    private readonly queueUrls: string[],
    private readonly deadLetterQueueUrl: string | undefined,
  ) {}

  /** The URL of the queue an event source ARN names. */
  urlFor(eventSourceArn: string): string {
    const name = eventSourceArn.split(':').pop() ?? '';
    const url = this.queueUrls.find((u) => u.split('/').pop() === name);
    if (!url) throw new DriftlessError('Internal', `no queue URL configured for ${eventSourceArn}`);
    return url;
  }

  /** The message comes back after `seconds` instead of the queue's default visibility timeout. */
  async defer(eventSourceArn: string, receiptHandle: string, seconds: number): Promise<void> {
    await this.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.urlFor(eventSourceArn),
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: Math.min(MAX_VISIBILITY_SECONDS, Math.max(0, Math.round(seconds))),
      }),
    );
  }

  /** Sends the job to the dead-letter queue with the error that ended it. */
  async deadLetter(body: string, error: Record<string, unknown>): Promise<void> {
    if (!this.deadLetterQueueUrl) {
      throw new DriftlessError(
        'InvalidSpec',
        'no dead-letter queue configured (DRIFTLESS_DLQ_URL)',
      );
    }
    // A message that is not a job at all is kept as it came, under one group.
    let job:
      | ReturnType<typeof parseJob>
      | { raw: string; app: string; cluster: string; enqueuedAt: string };
    try {
      job = parseJob(body);
    } catch {
      job = {
        raw: body.slice(0, 200_000),
        app: 'invalid',
        cluster: 'message',
        enqueuedAt: new Date().toISOString(),
      };
    }
    const fifo = this.deadLetterQueueUrl.endsWith('.fifo');
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.deadLetterQueueUrl,
        MessageBody: JSON.stringify({ job, error, deadLetteredAt: new Date().toISOString() }),
        ...(fifo
          ? {
              MessageGroupId: `${job.app}#${job.cluster}`,
              MessageDeduplicationId:
                `dead:${job.app}#${job.cluster}:${Date.parse(job.enqueuedAt) || Date.now()}`.slice(
                  0,
                  128,
                ),
            }
          : {}),
      }),
    );
  }
}
