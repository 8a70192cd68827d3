// The job queue of local mode: SQS FIFO semantics in one process. Jobs of one
// target run one at a time and in order; different targets run concurrently
// up to a bound; a deduplication id is honoured for five minutes; delayed jobs
// wait on a timer; a retry comes back after its backoff with the attempt
// counted; a job past its retries is kept as dead-lettered.

import { targetKey } from '../model/target.js';
import type { JobQueue, QueuedJob, ReconcileJob } from '../ports/queue.js';
import type { JobOutcome } from '../worker.js';

const DEDUP_WINDOW_MS = 5 * 60_000;
/** Targets reconciled at once, unless configured otherwise. */
export const LOCAL_QUEUE_CONCURRENCY = 4;

interface Entry {
  job: ReconcileJob;
  attempt: number;
}

export type JobHandler = (job: ReconcileJob, attempt: number) => Promise<JobOutcome>;

export class LocalJobQueue implements JobQueue {
  private readonly groups = new Map<string, Entry[]>();
  private readonly busy = new Set<string>();
  private readonly dedup = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private handler: JobHandler | undefined;
  private running = 0;
  private idleWaiters: (() => void)[] = [];
  readonly deadLetters: { job: ReconcileJob; error: string }[] = [];

  constructor(private readonly concurrency = LOCAL_QUEUE_CONCURRENCY) {}

  async enqueue(jobs: QueuedJob[]): Promise<void> {
    const now = Date.now();
    for (const [id, at] of this.dedup) if (now - at > DEDUP_WINDOW_MS) this.dedup.delete(id);
    for (const { job, dedupId } of jobs) {
      if (this.dedup.has(dedupId)) continue;
      this.dedup.set(dedupId, now);
      this.push({ job, attempt: 1 });
    }
  }

  async enqueueDelayed(job: ReconcileJob, delaySeconds: number): Promise<void> {
    this.later({ job, attempt: 1 }, delaySeconds * 1000);
  }

  /** Starts consuming with `handler`. */
  start(handler: JobHandler): void {
    this.handler = handler;
    this.pump();
  }

  /** Stops timers; running jobs finish. */
  stop(): void {
    this.handler = undefined;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Resolves when nothing is queued or running (timers for later jobs aside). */
  idle(): Promise<void> {
    if (this.running === 0 && [...this.groups.values()].every((g) => g.length === 0))
      return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private later(entry: Entry, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.push(entry);
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  private push(entry: Entry): void {
    const key = targetKey(entry.job);
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
    try {
      const outcome = await handler(entry.job, entry.attempt);
      if (outcome.kind === 'retry') {
        // A deferral (budget: false) is not a failed attempt.
        const attempt = outcome.budget === false ? entry.attempt : entry.attempt + 1;
        this.later({ job: entry.job, attempt }, outcome.delaySeconds * 1000);
      } else if (outcome.kind === 'dead') {
        this.deadLetters.push({ job: entry.job, error: outcome.error.describe() });
      }
    } catch (e) {
      this.deadLetters.push({ job: entry.job, error: e instanceof Error ? e.message : String(e) });
    } finally {
      this.busy.delete(key);
      this.running--;
      this.pump();
      if (this.running === 0 && [...this.groups.values()].every((g) => g.length === 0)) {
        for (const w of this.idleWaiters.splice(0)) w();
      }
    }
  }
}
