// The production JobQueue on SQS.
//
// - Jobs go to a FIFO queue: MessageGroupId = app#cluster (one target's jobs
//   in order, different targets in parallel), MessageDeduplicationId = the
//   job's dedupId (SQS drops a repeat within its 5-minute window). Ids SQS
//   would refuse (over 128 characters, or characters other than printable
//   ASCII) are replaced by their SHA-256, so equal ids still collapse.
// - Sent 10 per SendMessageBatch call. Entries SQS fails for its own reasons
//   (SenderFault false: throttling, internal errors) are retried with backoff;
//   entries it refuses as invalid (SenderFault true) fail at once. Either way
//   enqueue ends in a DriftlessError naming the targets not queued.
// - Delayed jobs (health re-checks) go to a second, standard queue, because a
//   FIFO queue cannot delay one message. SQS delays at most 900 s, so longer
//   delays are capped at 900 s: the re-check then comes early, which is
//   harmless (a reconcile of a target still rolling out just asks again). A
//   standard queue may deliver twice; the per-target lease still serializes
//   reconciles and reconciles are idempotent. The worker consumes both queues.
// - The message body is the ReconcileJob as JSON; parseJob validates it.

import { createHash } from 'node:crypto';
import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { DriftlessError } from '../errors.js';
import { ApplicationFields } from '../model/application.js';
import { targetKey } from '../model/target.js';
import {
  type ClusterSweepJob,
  type JobQueue,
  messageGroupOf,
  type QueuedJob,
  type QueuedSweep,
  type QueueMessage,
  type ReconcileJob,
} from '../ports/queue.js';

/** Longest DelaySeconds SQS accepts. */
export const MAX_DELAY_SECONDS = 900;
/** Most entries SendMessageBatch accepts. */
export const BATCH_SIZE = 10;

/** Attempts per batch entry before an enqueue gives up, unless configured otherwise. */
export const DEFAULT_SEND_ATTEMPTS = 4;

export interface SqsJobQueueOptions {
  client: SQSClient;
  /** URL of the FIFO job queue (name ends in .fifo). */
  queueUrl: string;
  /** URL of the standard queue for delayed jobs. */
  delayedQueueUrl: string;
  /** Attempts per batch entry before enqueue gives up (default DEFAULT_SEND_ATTEMPTS). */
  maxAttempts?: number;
  /** Backoff before the n-th retry (default 100 ms × 2^(n-1)). */
  backoffMs?: (retry: number) => number;
}

export class SqsJobQueue implements JobQueue {
  private readonly client: SQSClient;
  private readonly queueUrl: string;
  private readonly delayedQueueUrl: string;
  private readonly maxAttempts: number;
  private readonly backoffMs: (retry: number) => number;

  constructor(opts: SqsJobQueueOptions) {
    this.client = opts.client;
    this.queueUrl = opts.queueUrl;
    this.delayedQueueUrl = opts.delayedQueueUrl;
    this.maxAttempts = opts.maxAttempts ?? DEFAULT_SEND_ATTEMPTS;
    this.backoffMs = opts.backoffMs ?? ((n) => 100 * 2 ** (n - 1));
  }

  async enqueue(jobs: QueuedJob[]): Promise<void> {
    await this.send(jobs);
  }

  async enqueueSweeps(jobs: QueuedSweep[]): Promise<void> {
    await this.send(jobs);
  }

  private async send(jobs: { job: QueueMessage; dedupId: string }[]): Promise<void> {
    // Repeats within one call would be dropped by SQS anyway; dropping them here
    // keeps them out of the batches.
    const unique = new Map<string, { job: QueueMessage; dedupId: string }>();
    for (const j of jobs) {
      const id = sqsMessageId(j.dedupId);
      if (!unique.has(id)) unique.set(id, j);
    }
    const entries = [...unique].map(
      ([dedupId, { job }]): SendMessageBatchRequestEntry => ({
        Id: '', // assigned per batch
        MessageBody: JSON.stringify(job),
        MessageGroupId: sqsMessageId(messageGroupOf(job)),
        MessageDeduplicationId: dedupId,
      }),
    );
    await sendInBatches(entries, (batch) => this.sendBatch(batch), {
      maxAttempts: this.maxAttempts,
      backoffMs: this.backoffMs,
      queue: this.queueUrl,
    });
  }

  async enqueueDelayed(job: ReconcileJob, delaySeconds: number): Promise<void> {
    try {
      await this.client.send(
        new SendMessageCommand({
          QueueUrl: this.delayedQueueUrl,
          MessageBody: JSON.stringify(job),
          DelaySeconds: delayFor(delaySeconds),
        }),
      );
    } catch (e) {
      throw sqsError(e, `delayed job for ${targetKey(job)} not queued on ${this.delayedQueueUrl}`);
    }
  }

  private async sendBatch(entries: SendMessageBatchRequestEntry[]): Promise<FailedEntry[]> {
    try {
      const out = await this.client.send(
        new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }),
      );
      return (out.Failed ?? []).map((f) => ({
        id: f.Id ?? '',
        senderFault: f.SenderFault ?? false,
        code: f.Code ?? 'Unknown',
        message: f.Message ?? '',
      }));
    } catch (e) {
      throw sqsError(e, `${entries.length} jobs not queued on ${this.queueUrl}`);
    }
  }
}

/** DelaySeconds SQS accepts: whole seconds in [0, 900]; longer delays are capped. */
export function delayFor(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds <= 0) return 0;
  return Math.min(MAX_DELAY_SECONDS, Math.ceil(seconds));
}

/**
 * An id SQS accepts as MessageDeduplicationId or MessageGroupId: 1–128
 * characters of printable ASCII. Anything else becomes its SHA-256 (hex).
 */
export function sqsMessageId(id: string): string {
  if (/^[\x21-\x7e]{1,128}$/.test(id)) return id;
  return createHash('sha256').update(id, 'utf8').digest('hex');
}

export interface FailedEntry {
  id: string;
  senderFault: boolean;
  code: string;
  message: string;
}

/**
 * Sends entries BATCH_SIZE at a time through `send`, which returns the
 * entries that failed. Retryable failures are sent again (with backoff, in
 * new batches) up to maxAttempts; sender faults are not retried.
 */
export async function sendInBatches<E extends { Id?: string; MessageGroupId?: string }>(
  entries: E[],
  send: (batch: E[]) => Promise<FailedEntry[]>,
  opts: {
    maxAttempts: number;
    backoffMs: (retry: number) => number;
    queue: string;
    sleep?: (ms: number) => Promise<void>;
  },
): Promise<void> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let pending = entries;
  const refused: { entry: E; failure: FailedEntry }[] = [];
  let lastFailures: { entry: E; failure: FailedEntry }[] = [];
  for (let attempt = 1; pending.length && attempt <= opts.maxAttempts; attempt++) {
    if (attempt > 1) await sleep(opts.backoffMs(attempt - 1));
    const retry: E[] = [];
    lastFailures = [];
    for (let i = 0; i < pending.length; i += BATCH_SIZE) {
      // Batch entry ids only need to be unique within the batch.
      const batch = pending.slice(i, i + BATCH_SIZE).map((e, n) => ({ ...e, Id: String(n) }));
      const failed = await send(batch);
      for (const failure of failed) {
        const entry = batch[Number(failure.id)];
        if (!entry) continue;
        if (failure.senderFault) refused.push({ entry, failure });
        else {
          retry.push(entry);
          lastFailures.push({ entry, failure });
        }
      }
    }
    pending = retry;
  }
  if (!refused.length && !pending.length) return;
  const describe = ({ entry, failure }: { entry: E; failure: FailedEntry }) =>
    `${entry.MessageGroupId ?? '?'}: ${failure.code} ${failure.message}`.trim();
  const parts: string[] = [];
  if (refused.length) {
    parts.push(
      `${refused.length} refused as invalid (${refused.slice(0, 3).map(describe).join('; ')})`,
    );
  }
  if (pending.length) {
    parts.push(
      `${pending.length} still failing after ${opts.maxAttempts} attempts (${lastFailures.slice(0, 3).map(describe).join('; ')})`,
    );
  }
  throw new DriftlessError(
    'Internal',
    `SQS did not queue ${refused.length + pending.length} of ${entries.length} jobs on ${opts.queue}: ${parts.join('; ')}. ` +
      'The others were queued; enqueueing again is safe (deduplicated).',
  );
}

const TRIGGERS = [
  'webhook',
  'sweep',
  'manual',
  'rollback',
  'health-check',
  'local',
  'delete',
] as const satisfies readonly ReconcileJob['trigger'][];
const name = ApplicationFields.shape.metadata.shape.name;

export const ReconcileJobSchema = z.object({
  app: name,
  cluster: name,
  trigger: z.enum(TRIGGERS),
  revision: z.string().min(1).optional(),
  allowPrune: z.boolean().optional(),
  deliveryId: z.string().min(1).optional(),
  commit: z
    .string()
    .regex(/^[0-9a-f]{40}$/, 'must be a full commit SHA')
    .optional(),
  repoURL: z.string().min(1).optional(),
  enqueuedAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO timestamp'),
  operationId: z.string().min(1).max(200).optional(),
  recheckToken: z.string().min(1).max(200).optional(),
  priorAttempts: z.number().int().min(0).optional(),
  initiator: z.string().min(1).max(2048).optional(),
}) satisfies z.ZodType<ReconcileJob>;

export const ClusterSweepJobSchema = z.object({
  kind: z.literal('cluster-sweep'),
  cluster: name,
  tick: z.number().int().min(0),
  enqueuedAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO timestamp'),
}) satisfies z.ZodType<ClusterSweepJob>;

/** Validates a job queue message: a reconcile job or a cluster's sweep (`kind: cluster-sweep`). */
export function parseMessage(body: string): QueueMessage {
  const value = parseBody(body);
  if (typeof value === 'object' && value !== null && 'kind' in value) {
    return validated(ClusterSweepJobSchema, value, body, 'cluster sweep job');
  }
  return validated(ReconcileJobSchema, value, body, 'reconcile job');
}

/** Validates a queue message body; a malformed one is an InvalidSpec error naming the field. */
export function parseJob(body: string): ReconcileJob {
  return validated(ReconcileJobSchema, parseBody(body), body, 'reconcile job');
}

function parseBody(body: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    throw new DriftlessError(
      'InvalidSpec',
      `malformed reconcile job: the message body is not JSON (${(e as Error).message}): ${preview(body)}`,
    );
  }
  return value;
}

function validated<T>(schema: z.ZodType<T>, value: unknown, body: string, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.map(String).join('.') || undefined;
    throw new DriftlessError(
      'InvalidSpec',
      `malformed ${what}: ${field ?? 'body'}: ${issue?.message ?? 'invalid'}: ${preview(body)}`,
      { field },
    );
  }
  return result.data;
}

function preview(body: string): string {
  return body.length > 200 ? `${body.slice(0, 200)}…` : body;
}

function sqsError(e: unknown, what: string): DriftlessError {
  if (e instanceof DriftlessError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const hint =
    err.name === 'QueueDoesNotExist' || err.name === 'AWS.SimpleQueueService.NonExistentQueue'
      ? ' (check the queue URL the function was configured with)'
      : '';
  return new DriftlessError(
    'Internal',
    `${what}: ${err.name}: ${err.message}${hint}`,
    {},
    {
      cause: e,
    },
  );
}
