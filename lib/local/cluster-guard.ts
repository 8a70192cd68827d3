// The embedded cluster guard: one GuardRecord per cluster in memory, moved by
// the port's rules (lib/ports/cluster-guard.ts) like the DynamoDB guard, so
// `driftless dev` bounds a cluster's reconciles and opens its breaker alike.

import { type Clock, systemClock } from '../ports/clock.js';
import {
  type Admission,
  admit,
  type BreakerPolicy,
  type ClusterAnswer,
  type ClusterGuard,
  type ClusterGuardState,
  type ClusterSlot,
  DEFAULT_BREAKER_POLICY,
  emptyGuardRecord,
  type GuardRecord,
  guardState,
  type SlotRequest,
  settle,
} from '../ports/cluster-guard.js';

export class MemoryClusterGuard implements ClusterGuard {
  private readonly records = new Map<string, GuardRecord>();

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly policy: BreakerPolicy = DEFAULT_BREAKER_POLICY,
  ) {}

  async acquire(req: SlotRequest): Promise<Admission> {
    const { record, admission } = admit(this.get(req.cluster), req, this.clock.now());
    this.records.set(req.cluster, record);
    return admission;
  }

  async release(slot: ClusterSlot, answer: ClusterAnswer): Promise<void> {
    const rec = settle(this.get(slot.cluster), slot, answer, this.clock.now(), this.policy);
    this.records.set(slot.cluster, rec);
  }

  async state(cluster: string, concurrency: number): Promise<ClusterGuardState> {
    return guardState(this.get(cluster), cluster, concurrency, this.clock.now());
  }

  private get(cluster: string): GuardRecord {
    return structuredClone(this.records.get(cluster) ?? emptyGuardRecord());
  }
}
