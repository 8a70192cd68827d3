// The status outbox on SQS FIFO: one message per report, MessageGroupId the
// report's repository+commit+context (lib/ports/outbox.ts outboxKey, hashed
// when SQS would refuse it), so the reports of one context are delivered in
// order and a retried one holds back the newer ones behind it; distinct
// contexts flow in parallel (high-throughput FIFO). The deduplication id is
// the body's hash: the same report sent twice within five minutes is queued once.

import { createHash } from 'node:crypto';
import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { OutboxEntry, StatusOutbox } from '../ports/outbox.js';
import { outboxKey } from '../ports/outbox.js';
import { DEFAULT_SEND_ATTEMPTS, type FailedEntry, sendInBatches, sqsMessageId } from './queue.js';

export interface SqsStatusOutboxOptions {
  client: SQSClient;
  /** URL of the FIFO outbox queue. */
  queueUrl: string;
  maxAttempts?: number;
  backoffMs?: (retry: number) => number;
}

export class SqsStatusOutbox implements StatusOutbox {
  constructor(private readonly opts: SqsStatusOutboxOptions) {}

  async send(entries: OutboxEntry[]): Promise<void> {
    const messages = entries.map((entry): SendMessageBatchRequestEntry => {
      const body = JSON.stringify(entry);
      return {
        Id: '',
        MessageBody: body,
        MessageGroupId: sqsMessageId(outboxKey(entry.status)),
        MessageDeduplicationId: createHash('sha256').update(body).digest('hex'),
      };
    });
    await sendInBatches(messages, (batch) => this.sendBatch(batch), {
      maxAttempts: this.opts.maxAttempts ?? DEFAULT_SEND_ATTEMPTS,
      backoffMs: this.opts.backoffMs ?? ((n) => 100 * 2 ** (n - 1)),
      queue: this.opts.queueUrl,
    });
  }

  private async sendBatch(entries: SendMessageBatchRequestEntry[]): Promise<FailedEntry[]> {
    const out = await this.opts.client.send(
      new SendMessageBatchCommand({ QueueUrl: this.opts.queueUrl, Entries: entries }),
    );
    return (out.Failed ?? []).map((f) => ({
      id: f.Id ?? '',
      senderFault: f.SenderFault ?? false,
      code: f.Code ?? 'Unknown',
      message: f.Message ?? '',
    }));
  }
}
