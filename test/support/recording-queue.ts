// A JobQueue that records what it is given (for unit tests of its producers:
// the webhook, the API, the worker, the sweep). Tests about the queue itself
// use the SQS adapter against moto or the local queue.

import type { JobQueue, QueuedJob, QueuedSweep, ReconcileJob } from '../../lib/ports/queue.js';

export class RecordingQueue implements JobQueue {
  sent: QueuedJob[] = [];
  sweeps: QueuedSweep[] = [];
  delayed: { job: ReconcileJob; delaySeconds: number }[] = [];

  async enqueue(jobs: QueuedJob[]): Promise<void> {
    this.sent.push(...jobs);
  }

  async enqueueSweeps(jobs: QueuedSweep[]): Promise<void> {
    this.sweeps.push(...jobs);
  }

  async enqueueDelayed(job: ReconcileJob, delaySeconds: number): Promise<void> {
    this.delayed.push({ job, delaySeconds });
  }
}
