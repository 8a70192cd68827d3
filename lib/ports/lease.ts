// The lease port: one holder per target at a time, fenced. DynamoDB in AWS
// (lib/aws/lease.ts), memory in local mode (lib/local/lease.ts).

import type { TargetId } from '../model/target.js';

export interface Lease {
  target: TargetId;
  holder: string;
  /** Monotonically increasing per target; every status write is conditional on it. */
  fencingToken: number;
  expiresAt: number;
}

export interface LeaseManager {
  /**
   * Takes the lease, or returns undefined while someone else holds an
   * unexpired one. Every acquisition (the holder's own included) gets a
   * higher token than any before it on the target, releases and deletions
   * notwithstanding; from then on, writes with older tokens are fenced out.
   */
  acquire(target: TargetId, holder: string, ttlMs: number): Promise<Lease | undefined>;
  /** Extends the lease; LeaseLost once it expired, was taken over or released, or the target was deleted. */
  renew(lease: Lease, ttlMs: number): Promise<Lease>;
  /** Gives the lease up if it is still this one (a stale release frees nothing). */
  release(lease: Lease): Promise<void>;
}
