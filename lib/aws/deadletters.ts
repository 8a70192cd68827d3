// Dead letters on SQS. A dead letter's body is the message exactly as it was
// queued (a ReconcileJob), so SQS's own redrive (the console's "start DLQ
// redrive", StartMessageMoveTask) and `driftless redrive` both hand the worker
// a job it reprocesses. Why it died travels in message attributes (reason,
// message, attempts, source queue, time); a message SQS moved itself (past
// maxReceiveCount) has none. The worker keeps the target's MessageGroupId;
// deduplication ids are SHA-256 hashes, never truncations, so two different
// messages can never collapse into one.
//
// Listing receives with a short visibility timeout and makes what it saw
// visible again. A redrive receives, sends the job to the FIFO job queue with
// the target's group and a fresh hashed deduplication id (from the dead
// letter's own id, so a redrive retried after a crash is still sent once),
// and deletes the dead letter only after the send succeeded. A FIFO group
// hands out its next message only once the one before is deleted or visible
// again, so a listing may show fewer than are there; a redrive gets them all.

import { createHash } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { DriftlessError } from '../errors.js';
import { targetKey } from '../model/target.js';
import type {
  DeadLetter,
  DeadLetterError,
  DeadLetterQueue,
  RedriveResult,
} from '../ports/deadletters.js';
import type { ReconcileJob } from '../ports/queue.js';
import { parseJob, sqsMessageId } from './queue.js';

/** The message attributes a dead letter carries (SQS allows 10; names are case-sensitive). */
export const DEAD_LETTER_ATTRIBUTES = {
  reason: 'DriftlessErrorReason',
  message: 'DriftlessErrorMessage',
  attempts: 'DriftlessAttempts',
  sourceQueue: 'DriftlessSourceQueue',
  deadLetteredAt: 'DriftlessDeadLetteredAt',
} as const;

/** An error message attribute is cut here: the body must stay within SQS's 256 KB with it. */
const MAX_ERROR_MESSAGE_CHARS = 8 * 1024;
/** How long a listing hides what it read (it makes it visible again when done). */
const LIST_VISIBILITY_SECONDS = 30;
/** How long a redrive holds a dead letter it could not move (it comes back after). */
const REDRIVE_VISIBILITY_SECONDS = 60;
/** A body that is not a job, as listed. */
const BODY_PREVIEW_CHARS = 500;
/** The group of a dead letter that is not a job and came from a queue without groups. */
export const UNPARSEABLE_GROUP = 'unparseable';

/** A SHA-256 (hex) deduplication id: never a truncation, so distinct inputs never collide. */
export function hashedDedupId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\n'), 'utf8').digest('hex');
}

/** The attributes that say why a message was dead-lettered. */
export function deadLetterAttributes(
  error: DeadLetterError,
): Record<string, MessageAttributeValue> {
  const out: Record<string, MessageAttributeValue> = {};
  const put = (name: string, value: string | undefined, type: 'String' | 'Number' = 'String') => {
    if (value !== undefined && value !== '') out[name] = { DataType: type, StringValue: value };
  };
  put(DEAD_LETTER_ATTRIBUTES.reason, error.reason);
  put(DEAD_LETTER_ATTRIBUTES.message, error.message?.slice(0, MAX_ERROR_MESSAGE_CHARS));
  put(
    DEAD_LETTER_ATTRIBUTES.attempts,
    error.attempts === undefined ? undefined : String(error.attempts),
    'Number',
  );
  put(DEAD_LETTER_ATTRIBUTES.sourceQueue, error.sourceQueue);
  put(DEAD_LETTER_ATTRIBUTES.deadLetteredAt, error.deadLetteredAt);
  return out;
}

/** A received dead letter as the port describes it. */
export function deadLetterOf(m: Message): { letter: DeadLetter; job?: ReconcileJob } {
  const attr = (name: string) => m.MessageAttributes?.[name]?.StringValue;
  const attempts = attr(DEAD_LETTER_ATTRIBUTES.attempts);
  const error: DeadLetterError = {
    reason: attr(DEAD_LETTER_ATTRIBUTES.reason),
    message: attr(DEAD_LETTER_ATTRIBUTES.message),
    attempts: attempts === undefined ? undefined : Number(attempts),
    sourceQueue: attr(DEAD_LETTER_ATTRIBUTES.sourceQueue),
    deadLetteredAt: attr(DEAD_LETTER_ATTRIBUTES.deadLetteredAt),
  };
  const known = Object.fromEntries(Object.entries(error).filter(([, v]) => v !== undefined));
  const letter: DeadLetter = { id: m.MessageId ?? '' };
  if (Object.keys(known).length) letter.error = known as DeadLetterError;
  const body = m.Body ?? '';
  try {
    const job = parseJob(body);
    letter.job = job;
    return { letter, job };
  } catch {
    letter.body = body.length > BODY_PREVIEW_CHARS ? `${body.slice(0, BODY_PREVIEW_CHARS)}…` : body;
    return { letter };
  }
}

export interface SqsDeadLettersOptions {
  client: SQSClient;
  /** The FIFO dead-letter queue of the job queue. */
  deadLetterQueueUrl: string;
  /** The FIFO job queue redriven jobs go back to. */
  jobQueueUrl: string;
}

export class SqsDeadLetters implements DeadLetterQueue {
  constructor(private readonly opts: SqsDeadLettersOptions) {}

  async list(max: number): Promise<DeadLetter[]> {
    const seen = await this.receive(max, LIST_VISIBILITY_SECONDS);
    // Visible again for the next listing or redrive (best effort: they come back anyway).
    await Promise.allSettled(seen.map((m) => this.setVisibility(m, 0)));
    return seen.map((m) => deadLetterOf(m).letter);
  }

  async redrive({
    max,
    dryRun = false,
  }: {
    max: number;
    dryRun?: boolean;
  }): Promise<RedriveResult> {
    const result: RedriveResult = { redriven: [], skipped: [] };
    const held: Message[] = [];
    try {
      while (result.redriven.length + result.skipped.length < max) {
        const batch = await this.receive(
          Math.min(10, max - result.redriven.length - result.skipped.length),
          REDRIVE_VISIBILITY_SECONDS,
        );
        if (!batch.length) break;
        for (const m of batch) {
          const { letter, job } = deadLetterOf(m);
          if (!job) {
            // Kept invisible until this call ends, so it is not received again here.
            held.push(m);
            result.skipped.push({ deadLetter: letter, reason: 'the body is not a reconcile job' });
            continue;
          }
          if (dryRun) {
            held.push(m);
            result.redriven.push(letter);
            continue;
          }
          await this.send(m, job);
          await this.opts.client.send(
            new DeleteMessageCommand({
              QueueUrl: this.opts.deadLetterQueueUrl,
              ReceiptHandle: m.ReceiptHandle,
            }),
          );
          result.redriven.push(letter);
        }
      }
    } finally {
      if (dryRun) await Promise.allSettled(held.map((m) => this.setVisibility(m, 0)));
    }
    return result;
  }

  private async send(m: Message, job: ReconcileJob): Promise<void> {
    try {
      await this.opts.client.send(
        new SendMessageCommand({
          QueueUrl: this.opts.jobQueueUrl,
          // The body exactly as it was: the worker parses what the webhook queued.
          MessageBody: m.Body,
          MessageGroupId: sqsMessageId(targetKey(job)),
          MessageDeduplicationId: hashedDedupId('redrive', m.MessageId ?? '', m.Body ?? ''),
        }),
      );
    } catch (e) {
      throw new DriftlessError(
        'Internal',
        `dead letter ${m.MessageId} (${targetKey(job)}) not redriven to ${this.opts.jobQueueUrl}: ` +
          `${(e as Error).message}; it stays in the dead-letter queue`,
        {},
        { cause: e },
      );
    }
  }

  private async receive(max: number, visibilitySeconds: number): Promise<Message[]> {
    const out: Message[] = [];
    while (out.length < max) {
      const res = await this.opts.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.opts.deadLetterQueueUrl,
          MaxNumberOfMessages: Math.min(10, max - out.length),
          VisibilityTimeout: visibilitySeconds,
          // Long polling for a second: short polls may miss messages SQS holds.
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
        }),
      );
      const messages = res.Messages ?? [];
      if (!messages.length) break;
      out.push(...messages);
    }
    return out;
  }

  private async setVisibility(m: Message, seconds: number): Promise<void> {
    await this.opts.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.opts.deadLetterQueueUrl,
        ReceiptHandle: m.ReceiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  }
}
