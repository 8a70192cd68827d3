// Embedded leases: one holder per target until expiry, with a fencing token
// that grows on every acquisition (the DynamoDB lease has the same contract).

import { DriftlessError } from '../errors.js';
import { type TargetId, targetKey } from '../model/target.js';
import { type Clock, systemClock } from '../ports/clock.js';
import type { Lease, LeaseManager } from '../ports/lease.js';

export class MemoryLeaseManager implements LeaseManager {
  private readonly leases = new Map<string, { holder: string; token: number; expiresAt: number }>();
  private readonly tokens = new Map<string, number>();

  constructor(private readonly clock: Clock = systemClock) {}

  async acquire(target: TargetId, holder: string, ttlMs: number): Promise<Lease | undefined> {
    const key = targetKey(target);
    const now = this.clock.now();
    const current = this.leases.get(key);
    if (current && current.expiresAt > now && current.holder !== holder) return undefined;
    const token = (this.tokens.get(key) ?? 0) + 1;
    this.tokens.set(key, token);
    const lease = { holder, token, expiresAt: now + ttlMs };
    this.leases.set(key, lease);
    return { target, holder, fencingToken: token, expiresAt: lease.expiresAt };
  }

  async renew(lease: Lease, ttlMs: number): Promise<Lease> {
    const key = targetKey(lease.target);
    const current = this.leases.get(key);
    if (!current || current.token !== lease.fencingToken) {
      throw new DriftlessError('LeaseLost', `lease on ${key} was taken over`);
    }
    current.expiresAt = this.clock.now() + ttlMs;
    return { ...lease, expiresAt: current.expiresAt };
  }

  async release(lease: Lease): Promise<void> {
    const key = targetKey(lease.target);
    if (this.leases.get(key)?.token === lease.fencingToken) this.leases.delete(key);
  }
}
