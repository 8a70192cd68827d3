// The dead-letter port: jobs that ran out of retries (or were never jobs),
// kept with the original message as it was queued, listed and moved back to
// the job queue. SQS in AWS (lib/aws/deadletters.ts), in-process in local
// mode (lib/local/queue.ts).

import type { ReconcileJob } from './queue.js';

/** Why a message was dead-lettered (absent when the queue moved it itself, past its receive limit). */
export interface DeadLetterError {
  /** A DriftlessError reason. */
  reason?: string;
  message?: string;
  /** Attempts made before it was given up. */
  attempts?: number;
  /** The queue it came from. */
  sourceQueue?: string;
  /** When it was dead-lettered (ISO). */
  deadLetteredAt?: string;
}

export interface DeadLetter {
  /** The dead-letter queue's id for it. */
  id: string;
  /** The job, when the body is one: what a redrive queues again. */
  job?: ReconcileJob;
  /** The body, shortened, when it is not a job (it is never redriven). */
  body?: string;
  error?: DeadLetterError;
}

export interface RedriveResult {
  /** Moved back to the job queue (with dryRun: would be). */
  redriven: DeadLetter[];
  /** Left where they are, and why. */
  skipped: { deadLetter: DeadLetter; reason: string }[];
}

export interface DeadLetterQueue {
  /** Up to `max` dead letters, oldest first, left where they are. */
  list(max: number): Promise<DeadLetter[]>;
  /**
   * Moves up to `max` dead letters that are jobs back to the job queue: each
   * is sent again (its target's group, a fresh deduplication id) and removed
   * from the dead letters only after the send succeeded. dryRun: moves nothing.
   */
  redrive(opts: { max: number; dryRun?: boolean }): Promise<RedriveResult>;
}

/** Dead letters a listing or a redrive handles unless told otherwise, and the most in one call. */
export const DEFAULT_DEAD_LETTER_BATCH = 10;
export const MAX_DEAD_LETTER_BATCH = 100;
