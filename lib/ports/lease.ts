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
  /** Takes the lease, or returns undefined while someone else holds an unexpired one. */
  acquire(target: TargetId, holder: string, ttlMs: number): Promise<Lease | undefined>;
  renew(lease: Lease, ttlMs: number): Promise<Lease>;
  release(lease: Lease): Promise<void>;
}
