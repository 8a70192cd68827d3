// The commit status outbox: GitHub off the critical path.
//
// Reporting side: OutboxReporter is the CommitStatusReporter the engine, the
// webhook and the worker use. It stamps each report with its time (strictly
// increasing per reporter), gathers the reports of one tick into one send, and
// only enqueues (lib/ports/outbox.ts); it never calls GitHub and never throws.
//
// Consuming side: deliverOutbox takes one batch of queued entries and decides
// each one's fate. Per repository+commit+context only the newest report (by
// its time, not by arrival) is posted; the others are superseded and deleted.
// Posts run a few at a time for the installation (GitHub's secondary limits
// punish concurrent writes); a rate limit pauses the rest of the batch, which
// comes back after the delay GitHub asked for; 5xx and network failures come
// back with exponential backoff; a permanent refusal (422, 404…) is logged and
// dropped. SQS FIFO (one group per key) keeps a retried entry ahead of the
// newer ones of its key, so an older report never lands after a newer one.

import { z } from 'zod';
import { mapBounded } from '../concurrency.js';
import { type Clock, systemClock } from '../ports/clock.js';
import { type OutboxEntry, outboxKey, type StatusOutbox } from '../ports/outbox.js';
import type { CommitStatus, CommitStatusReporter } from '../ports/report.js';
import type { PostResult } from './status.js';

export const OUTBOX_DEFAULTS = {
  /** Posts in flight at once per installation: GitHub asks for serial writes; 2 keep a batch moving. */
  concurrencyPerInstallation: 2,
  /** Backoff after GitHub was unavailable: base × 2^(receives − 1) seconds… */
  backoffBaseS: 5,
  /** …at most this (the backoff of the job queue's retries too). */
  maxBackoffS: 900,
  /** SQS caps a visibility timeout at 12 hours: a longer rate limit waits that long and asks again. */
  maxDelayS: 12 * 3600,
} as const;

/** Structured logs; the functions pass Powertools' logger. */
export interface OutboxLogger {
  info(message: string, ...fields: Record<string, unknown>[]): void;
  warn(message: string, ...fields: Record<string, unknown>[]): void;
}

const silent: OutboxLogger = { info() {}, warn() {} };

// ---------------------------------------------------------------------------
// Reporting

export interface OutboxReporterOptions {
  clock?: Clock;
  logger?: OutboxLogger;
}

/** Enqueues commit statuses on the outbox; reports made in one tick go in one send. */
export class OutboxReporter implements CommitStatusReporter {
  private readonly clock: Clock;
  private readonly logger: OutboxLogger;
  private pending: { entry: OutboxEntry; done: () => void }[] = [];
  private scheduled = false;
  /** Sends run one after another, so one reporter's entries are queued in the order reported. */
  private tail: Promise<void> = Promise.resolve();
  private last = 0;

  constructor(
    private readonly outbox: StatusOutbox,
    opts: OutboxReporterOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silent;
  }

  report(status: CommitStatus): Promise<void> {
    // Strictly increasing: two reports in one millisecond keep their order.
    const at = Math.max(this.clock.now(), this.last + 1);
    this.last = at;
    return new Promise<void>((done) => {
      this.pending.push({ entry: { status, at }, done });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        const batch = this.pending.splice(0);
        this.tail = this.tail.then(() => this.send(batch));
      });
    });
  }

  private async send(batch: { entry: OutboxEntry; done: () => void }[]): Promise<void> {
    try {
      await this.outbox.send(batch.map((b) => b.entry));
    } catch (e) {
      // Reporting never fails what reported; the status is lost, and says so.
      for (const { entry } of batch) {
        this.logger.warn(`commit status ${entry.status.state} not queued`, {
          repoURL: entry.status.repoURL,
          commit: entry.status.commit,
          context: entry.status.context,
          error: e instanceof Error ? e.message : String(e),
        });
      }
    } finally {
      for (const b of batch) b.done();
    }
  }
}

// ---------------------------------------------------------------------------
// Consuming

const OutboxEntrySchema = z.object({
  status: z.object({
    repoURL: z.string().min(1),
    commit: z.string().min(1),
    context: z.string().min(1),
    state: z.enum(['pending', 'success', 'failure', 'error']),
    description: z.string(),
    targetUrl: z.string().optional(),
  }),
  at: z.number().finite(),
}) satisfies z.ZodType<OutboxEntry>;

/** An outbox message body, or why it is not one (naming the field). */
export function parseOutboxEntry(body: string): OutboxEntry | { invalid: string } {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { invalid: 'the message body is not JSON' };
  }
  const out = OutboxEntrySchema.safeParse(value);
  if (out.success) return out.data;
  const issue = out.error.issues[0];
  return { invalid: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}` };
}

/** One received message: its id, body and how often it was received (1 the first time). */
export interface OutboxRecord {
  id: string;
  body: string;
  receiveCount: number;
}

export type OutboxDecision =
  | { id: string; action: 'delete'; why: 'posted' | 'superseded' | 'rejected' | 'invalid' }
  /** Leave it on the queue; it comes back after delaySeconds (its visibility). */
  | { id: string; action: 'retry'; delaySeconds: number; why: 'rate-limited' | 'unavailable' };

export interface Coalesced<T> {
  /** The newest entry of each key, in the order the keys first appear. */
  latest: T[];
  /** Every other entry: older reports of a key with a newer one in the batch. */
  superseded: T[];
}

/** Per key, the newest entry by `at`; equal times: the later in the batch (FIFO order). */
export function coalesce<T extends { entry: OutboxEntry }>(items: readonly T[]): Coalesced<T> {
  const newest = new Map<string, T>();
  for (const item of items) {
    const key = outboxKey(item.entry.status);
    const held = newest.get(key);
    if (!held || item.entry.at >= held.entry.at) newest.set(key, item);
  }
  const kept = new Set(newest.values());
  return {
    latest: [...newest.values()],
    superseded: items.filter((i) => !kept.has(i)),
  };
}

/** Seconds before the n-th retry of an entry GitHub could not take (n = receives so far). */
export function unavailableBackoffS(receiveCount: number): number {
  const n = Math.max(1, Math.floor(receiveCount));
  return Math.min(OUTBOX_DEFAULTS.maxBackoffS, OUTBOX_DEFAULTS.backoffBaseS * 2 ** (n - 1));
}

/** Posts statuses for one installation (lib/github/status.ts GitHubStatusClient). */
export interface StatusPoster {
  /** Whose rate limits the posts count against. */
  readonly installation: string;
  post(status: CommitStatus): Promise<PostResult>;
}

export interface DeliverOptions {
  poster: StatusPoster;
  logger?: OutboxLogger;
  /** Posts in flight at once (default OUTBOX_DEFAULTS.concurrencyPerInstallation). */
  concurrency?: number;
}

/** Decides the fate of every record of one batch; posts the newest status per key. */
export async function deliverOutbox(
  opts: DeliverOptions,
  records: readonly OutboxRecord[],
): Promise<OutboxDecision[]> {
  const logger = opts.logger ?? silent;
  const decisions: OutboxDecision[] = [];
  const parsed: { record: OutboxRecord; entry: OutboxEntry }[] = [];
  for (const record of records) {
    const entry = parseOutboxEntry(record.body);
    if ('invalid' in entry) {
      logger.warn('outbox message dropped: not a commit status', {
        messageId: record.id,
        error: entry.invalid,
      });
      decisions.push({ id: record.id, action: 'delete', why: 'invalid' });
    } else parsed.push({ record, entry });
  }
  const { latest, superseded } = coalesce(parsed);
  for (const s of superseded)
    decisions.push({ id: s.record.id, action: 'delete', why: 'superseded' });

  // A rate limit answered for one post holds the installation: the rest of the
  // batch waits as long, without asking.
  let paused: number | undefined;
  const results = await mapBounded(
    latest,
    opts.concurrency ?? OUTBOX_DEFAULTS.concurrencyPerInstallation,
    async ({ record, entry }): Promise<OutboxDecision> => {
      const fields = {
        messageId: record.id,
        installation: opts.poster.installation,
        repoURL: entry.status.repoURL,
        commit: entry.status.commit,
        context: entry.status.context,
        state: entry.status.state,
        attempt: record.receiveCount,
      };
      if (paused !== undefined) {
        return { id: record.id, action: 'retry', delaySeconds: paused, why: 'rate-limited' };
      }
      const result = await opts.poster.post(entry.status);
      switch (result.kind) {
        case 'posted':
          return { id: record.id, action: 'delete', why: 'posted' };
        case 'rate-limited': {
          const delay = Math.min(OUTBOX_DEFAULTS.maxDelayS, Math.max(1, result.retryAfterS));
          paused = Math.max(paused ?? 0, delay);
          logger.warn(`GitHub ${result.limit} rate limit: commit status retried in ${delay}s`, {
            ...fields,
            status: result.status,
            retryAfterS: result.retryAfterS,
          });
          return { id: record.id, action: 'retry', delaySeconds: delay, why: 'rate-limited' };
        }
        case 'unavailable': {
          const delay = unavailableBackoffS(record.receiveCount);
          logger.warn(`GitHub unavailable: commit status retried in ${delay}s`, {
            ...fields,
            status: result.status,
            error: result.message,
          });
          return { id: record.id, action: 'retry', delaySeconds: delay, why: 'unavailable' };
        }
        case 'rejected':
          logger.warn(`commit status ${entry.status.state} dropped: GitHub refused it`, {
            ...fields,
            status: result.status,
            error: result.message,
          });
          return { id: record.id, action: 'delete', why: 'rejected' };
      }
    },
  );
  return [...decisions, ...results];
}
