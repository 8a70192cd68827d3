// What the worker does to an SQS message besides deleting it: put it back
// for later (a retry's backoff, through its visibility timeout) or move it to
// the dead-letter queue, body unchanged, with the error that exhausted its
// retries in message attributes (lib/aws/deadletters.ts).

import {
  ChangeMessageVisibilityCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { DriftlessError } from '../errors.js';
import { targetKey } from '../model/target.js';
import { deadLetterAttributes, hashedDedupId, UNPARSEABLE_GROUP } from './deadletters.js';
import { parseJob, sqsMessageId } from './queue.js';

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

  /**
   * Sends a message to the dead-letter queue as it came (so a redrive hands
   * the worker the same job), with the error that ended it in message
   * attributes, under the message's group (its target's), deduplicated by a
   * hash of its own id (a worker retried after sending sends it once).
   */
  async deadLetter(
    message: DeadLetteredMessage,
    error: { reason: string; message: string },
    attempts: number,
  ): Promise<void> {
    if (!this.deadLetterQueueUrl) {
      throw new DriftlessError(
        'InvalidSpec',
        'no dead-letter queue configured (DRIFTLESS_DLQ_URL)',
      );
    }
    let group = message.groupId;
    if (!group) {
      try {
        group = sqsMessageId(targetKey(parseJob(message.body)));
      } catch {
        group = UNPARSEABLE_GROUP;
      }
    }
    const fifo = this.deadLetterQueueUrl.endsWith('.fifo');
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.deadLetterQueueUrl,
        MessageBody: message.body,
        MessageAttributes: deadLetterAttributes({
          reason: error.reason,
          message: error.message,
          attempts,
          sourceQueue: message.sourceArn.split(':').pop(),
          deadLetteredAt: new Date().toISOString(),
        }),
        ...(fifo
          ? {
              MessageGroupId: group,
              MessageDeduplicationId: hashedDedupId('dead', message.messageId),
            }
          : {}),
      }),
    );
  }
}

/** What the worker knows of a message it dead-letters (an SQS record). */
export interface DeadLetteredMessage {
  body: string;
  messageId: string;
  /** The FIFO group it was in; absent on the standard (delayed) queue. */
  groupId?: string;
  /** The ARN of the queue it came from. */
  sourceArn: string;
}
