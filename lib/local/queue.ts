// The job queue of local mode: SQS FIFO semantics where they matter, in one
// process. Jobs of one target run one at a time and in order; different
// targets run concurrently up to a bound; a deduplication id is honoured for
// five minutes; delayed jobs wait on a timer.
//
// What happens after a delivery follows the worker's outcome as the Lambda
// event source does: a retry keeps the job at the head of its target's group
// (later jobs of that target wait, as a FIFO group waits on a message whose
// visibility was extended) and redelivers it after the backoff with the
// attempt counted; a handler that throws is redelivered the same way (as an
// SQS message comes back after its visibility timeout), until the receive
// limit; `dead` — past the app's retry limit, the target already marked
// Degraded by the worker — and the receive limit move it to the dead letters,
// which `driftless redrive` lists and moves back (DeadLetterQueue).

import { randomUUID } from 'node:crypto';
import { asDriftlessError } from '../errors.js';
import type { DeadLetter, DeadLetterQueue, RedriveResult } from '../ports/deadletters.js';
import {
  attemptOfJob,
  isClusterSweep,
  type JobQueue,
  messageGroupOf,
  type QueuedJob,
  type QueuedSweep,
  type QueueMessage,
  type ReconcileJob,
  redrivableJob,
} from '../ports/queue.js';
import type { JobOutcome } from '../worker.js';

const DEDUP_WINDOW_MS = 5 * 60_000;
/** Targets reconciled at once, unless configured otherwise. */
export const LOCAL_QUEUE_CONCURRENCY = 4;
/** A delivery whose handler threw comes back after this (SQS: the visibility timeout). */
export const LOCAL_REDELIVERY_DELAY_MS = 5_000;
/** Deliveries of one job before it is dead-lettered whatever the outcome (SQS: maxReceiveCount). */
export const LOCAL_MAX_RECEIVES = 10;
/** The name dead letters give as their source queue. */
const SOURCE_QUEUE = 'local';

interface Entry {
  job: QueueMessage;
  attempt: number;
}

export type JobHandler = (job: QueueMessage, attempt: number) => Promise<JobOutcome>;

export interface LocalJobQueueOptions {
  concurrency?: number;
  redeliveryDelayMs?: number;
  maxReceives?: number;
}

export class LocalJobQueue implements JobQueue, DeadLetterQueue {
  private readonly groups = new Map<string, Entry[]>();
  /** Targets with a job running or waiting for its redelivery: their group is blocked. */
  private readonly busy = new Set<string>();
  /** Of those, the targets waiting for a redelivery's timer. */
  private readonly waiting = new Set<string>();
  private readonly dedup = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private handler: JobHandler | undefined;
  private running = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly dead: (DeadLetter & { job: ReconcileJob })[] = [];
  private readonly concurrency: number;
  private readonly redeliveryDelayMs: number;
  private readonly maxReceives: number;

  constructor(opts: LocalJobQueueOptions = {}) {
    this.concurrency = opts.concurrency ?? LOCAL_QUEUE_CONCURRENCY;
    this.redeliveryDelayMs = opts.redeliveryDelayMs ?? LOCAL_REDELIVERY_DELAY_MS;
    this.maxReceives = opts.maxReceives ?? LOCAL_MAX_RECEIVES;
  }

  async enqueue(jobs: QueuedJob[]): Promise<void> {
    this.enqueueMessages(jobs);
  }

  async enqueueSweeps(jobs: QueuedSweep[]): Promise<void> {
    this.enqueueMessages(jobs);
  }

  private enqueueMessages(jobs: { job: QueueMessage; dedupId: string }[]): void {
    const now = Date.now();
    for (const [id, at] of this.dedup) if (now - at > DEDUP_WINDOW_MS) this.dedup.delete(id);
    for (const { job, dedupId } of jobs) {
      if (this.dedup.has(dedupId)) continue;
      this.dedup.set(dedupId, now);
      this.push({ job: structuredClone(job), attempt: 1 });
    }
  }

  async enqueueDelayed(job: ReconcileJob, delaySeconds: number): Promise<void> {
    this.after(delaySeconds * 1000, () => this.push({ job: structuredClone(job), attempt: 1 }));
  }

  /** Dead letters, oldest first: the job as it was queued and why it died. */
  async list(max: number): Promise<DeadLetter[]> {
    return structuredClone(this.dead.slice(0, max));
  }

  /** Moves dead letters back to the end of their target's group, as new jobs (attempt 1). */
  async redrive({
    max,
    dryRun = false,
  }: {
    max: number;
    dryRun?: boolean;
  }): Promise<RedriveResult> {
    const chosen = dryRun ? this.dead.slice(0, max) : this.dead.splice(0, max);
    if (!dryRun) for (const d of chosen) this.push({ job: structuredClone(d.job), attempt: 1 });
    return { redriven: structuredClone(chosen), skipped: [] };
  }

  /** Starts consuming with `handler`. */
  start(handler: JobHandler): void {
    this.handler = handler;
    this.pump();
  }

  /** Stops timers (pending redeliveries and delayed jobs are dropped); running jobs finish. */
  stop(): void {
    this.handler = undefined;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const key of this.waiting) this.busy.delete(key);
    this.waiting.clear();
    if (this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when nothing is queued, running or waiting for a redelivery (delayed jobs aside). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.busy.size === 0 && [...this.groups.values()].every((g) => g.length === 0);
  }

  private after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  private push(entry: Entry): void {
    const key = messageGroupOf(entry.job);
    const group = this.groups.get(key) ?? [];
    group.push(entry);
    this.groups.set(key, group);
    this.pump();
  }

  private pump(): void {
    const handler = this.handler;
    if (!handler) return;
    for (const [key, group] of this.groups) {
      if (this.running >= this.concurrency) return;
      if (this.busy.has(key) || group.length === 0) continue;
      const entry = group.shift() as Entry;
      this.busy.add(key);
      this.running++;
      void this.run(handler, key, entry);
    }
  }

  private async run(handler: JobHandler, key: string, entry: Entry): Promise<void> {
    let redeliverAfterMs: number | undefined;
    try {
      let outcome: JobOutcome;
      try {
        outcome = await handler(entry.job, entry.attempt);
      } catch (e) {
        const error = asDriftlessError(e);
        if (entry.attempt >= this.maxReceives) {
          this.deadLetter(entry, error.reason, error.describe());
        } else {
          redeliverAfterMs = this.redeliveryDelayMs;
        }
        return;
      }
      if (outcome.kind === 'retry') redeliverAfterMs = outcome.delaySeconds * 1000;
      else if (outcome.kind === 'dead') {
        this.deadLetter(entry, outcome.error.reason, outcome.error.describe());
      }
    } finally {
      this.running--;
      // Stopped meanwhile: the redelivery is dropped with the other timers.
      if (redeliverAfterMs === undefined || !this.handler) this.busy.delete(key);
      else {
        // The group stays blocked: its head comes back first, with the attempt counted.
        const next = { job: entry.job, attempt: entry.attempt + 1 };
        this.waiting.add(key);
        this.after(redeliverAfterMs, () => {
          const group = this.groups.get(key) ?? [];
          group.unshift(next);
          this.groups.set(key, group);
          this.waiting.delete(key);
          this.busy.delete(key);
          this.pump();
        });
      }
      this.pump();
      if (this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private deadLetter(entry: Entry, reason: string, message: string): void {
    // A cluster's sweep is not retried past its tick: the next tick sweeps again.
    if (isClusterSweep(entry.job)) return;
    this.dead.push({
      id: randomUUID(),
      // Without this run's bookkeeping: a redrive starts a fresh budget.
      job: redrivableJob(entry.job),
      error: {
        reason,
        message,
        attempts: attemptOfJob(entry.job, entry.attempt),
        sourceQueue: SOURCE_QUEUE,
        deadLetteredAt: new Date().toISOString(),
      },
    });
  }
}
