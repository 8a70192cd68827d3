// Embedded leases with the contract of lib/aws/lease.ts. The lease lives in
// the memory store's slot for the target (as the DynamoDB lease lives on the
// target's record item), so the store's fence sees a newer lease the moment
// it is taken. Acquiring bumps the token (never reset: release clears the
// holder and keeps it); renew needs the lease unexpired, still this holder's
// and this token's, and the target not deleted.

import { DriftlessError } from '../errors.js';
import { type TargetId, targetKey } from '../model/target.js';
import { type Clock, systemClock } from '../ports/clock.js';
import type { Lease, LeaseManager } from '../ports/lease.js';
import { MemoryStore } from './store.js';

export class MemoryLeaseManager implements LeaseManager {
  /**
   * `store`: the store whose writes these leases fence (a lease manager of
   * its own when omitted, which fences nothing but itself).
   */
  constructor(
    private readonly store: MemoryStore = new MemoryStore(),
    private readonly clock: Clock = systemClock,
  ) {}

  async acquire(target: TargetId, holder: string, ttlMs: number): Promise<Lease | undefined> {
    const now = this.clock.now();
    const s = this.store.slot(target, true);
    const free =
      s.leaseHolder === undefined || (s.leaseExpiresAt ?? 0) <= now || s.leaseHolder === holder;
    if (!free) return undefined;
    const fencingToken = (s.leaseToken ?? 0) + 1;
    s.leaseToken = fencingToken;
    s.leaseHolder = holder;
    s.leaseExpiresAt = now + ttlMs;
    return { target, holder, fencingToken, expiresAt: s.leaseExpiresAt };
  }

  async renew(lease: Lease, ttlMs: number): Promise<Lease> {
    const now = this.clock.now();
    const s = this.store.slot(lease.target);
    const key = targetKey(lease.target);
    if (!s || s.leaseHolder !== lease.holder || s.leaseToken !== lease.fencingToken) {
      throw new DriftlessError(
        'LeaseLost',
        `lease on ${key} was taken over` +
          (s?.leaseHolder ? ` by ${s.leaseHolder} (token ${s.leaseToken})` : ' or released') +
          `; holder ${lease.holder} with token ${lease.fencingToken} must stop`,
      );
    }
    if (s.tombstone) {
      throw new DriftlessError(
        'LeaseLost',
        `lease on ${key} cannot be renewed: the target was deleted; holder ${lease.holder} must stop`,
      );
    }
    if ((s.leaseExpiresAt ?? 0) <= now) {
      throw new DriftlessError(
        'LeaseLost',
        `lease on ${key} expired before it was renewed; holder ${lease.holder} with token ${lease.fencingToken} must stop`,
      );
    }
    s.leaseExpiresAt = now + ttlMs;
    return { ...lease, expiresAt: s.leaseExpiresAt };
  }

  async release(lease: Lease): Promise<void> {
    const s = this.store.slot(lease.target);
    if (s && s.leaseHolder === lease.holder && s.leaseToken === lease.fencingToken) {
      s.leaseHolder = undefined;
      s.leaseExpiresAt = undefined;
    }
  }
}
