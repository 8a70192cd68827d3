// The cluster guard port: what protects one cluster's API server from
// Driftless itself, shared by every worker. A reconcile takes one of the
// cluster's `spec.concurrency` slots first and gives it back with what the
// cluster answered; a cluster that keeps failing to answer opens a circuit
// breaker (jobs for it are deferred, then one probe is let through after a
// cool-down that doubles per failed probe); a cluster that throttled
// (429 + Retry-After) is left alone until the time it asked for. DynamoDB in
// AWS (lib/aws/cluster-guard.ts), memory in local mode
// (lib/local/cluster-guard.ts); both keep one GuardRecord per cluster and
// move it only with the pure functions below, so they agree by construction.

export type BreakerState = 'closed' | 'open' | 'half-open';

/** Consecutive ClusterUnreachable reconciles that open the breaker. */
export const DEFAULT_BREAKER_THRESHOLD = 3;
/** The first cool-down before a half-open probe; each failed probe doubles it, up to the cap. */
export const DEFAULT_BREAKER_COOL_DOWN_MS = 30_000;
export const DEFAULT_BREAKER_MAX_COOL_DOWN_MS = 10 * 60_000;
/**
 * How long a slot is held at most: a reconcile holds it no longer than its
 * lease, and a crashed holder's slot is free again after this.
 */
export const DEFAULT_CLUSTER_SLOT_TTL_MS = 5 * 60_000;
/** When a job that found the cluster full looks again (plus jitter). */
export const CLUSTER_FULL_RETRY_MS = 3_000;

export interface BreakerPolicy {
  threshold: number;
  coolDownMs: number;
  maxCoolDownMs: number;
}

export const DEFAULT_BREAKER_POLICY: BreakerPolicy = {
  threshold: DEFAULT_BREAKER_THRESHOLD,
  coolDownMs: DEFAULT_BREAKER_COOL_DOWN_MS,
  maxCoolDownMs: DEFAULT_BREAKER_MAX_COOL_DOWN_MS,
};

/** One cluster's guard as stored (epoch ms throughout). */
export interface GuardRecord {
  /** Who holds a slot, until when; the half-open probe is marked. */
  holders: Record<string, { expiresAt: number; probe?: boolean }>;
  breaker: BreakerState;
  /** When the breaker last changed state. */
  since?: number;
  /** Consecutive reconciles that could not reach the cluster. */
  failures: number;
  /** Consecutive openings without the cluster answering (the cool-down's exponent). */
  opens: number;
  /** While open: when a probe may run. */
  probeAt?: number;
  lastError?: string;
  /** Until when the cluster asked to be left alone (Retry-After of a 429). */
  backoffUntil?: number;
  /** 429s the cluster answered, counted over the guard's life. */
  throttled: number;
}

export function emptyGuardRecord(): GuardRecord {
  return { holders: {}, breaker: 'closed', failures: 0, opens: 0, throttled: 0 };
}

export interface SlotRequest {
  cluster: string;
  /** The cluster's `spec.concurrency`. */
  concurrency: number;
  /** Unique per attempt (a job's delivery id and attempt). */
  holder: string;
  ttlMs: number;
}

export interface ClusterSlot {
  cluster: string;
  holder: string;
  /** This reconcile is the half-open breaker's probe. */
  probe: boolean;
}

export type RefusalReason = 'full' | 'open' | 'backoff';

export type Admission =
  | { granted: true; slot: ClusterSlot }
  | {
      granted: false;
      reason: RefusalReason;
      /** When asking again may succeed (epoch ms). */
      retryAt: number;
      message: string;
    };

/** What a reconcile learnt about its cluster, reported when it gives its slot back. */
export interface ClusterAnswer {
  /**
   * answered: the API server answered (success, a refusal, a 429 are all answers);
   * unreachable: it could not be reached (ClusterUnreachable);
   * unknown: the reconcile ended before it asked (a source or render failure).
   */
  reached: 'answered' | 'unreachable' | 'unknown';
  error?: string;
  /** 429s seen, and until when the cluster asked to be left alone. */
  throttled?: number;
  backoffUntil?: number;
}

/** A cluster's guard as the API and the CLI show it. */
export interface ClusterGuardState {
  cluster: string;
  breaker: BreakerState;
  /** ISO times. */
  since?: string;
  failures: number;
  lastError?: string;
  /** While open: when the next probe may run. */
  probeAt?: string;
  /** Set only while still in the future. */
  backoffUntil?: string;
  throttled: number;
  slotsInUse: number;
  concurrency: number;
}

export interface ClusterGuard {
  /** A slot on the cluster, or why not now and when to ask again. */
  acquire(req: SlotRequest): Promise<Admission>;
  /** Gives the slot back and records the cluster's answer (breaker, throttling). */
  release(slot: ClusterSlot, answer: ClusterAnswer): Promise<void>;
  state(cluster: string, concurrency: number): Promise<ClusterGuardState>;
}

// ---------------------------------------------------------------------------
// The guard's rules, one place for both adapters.

function live(rec: GuardRecord, now: number): GuardRecord['holders'] {
  return Object.fromEntries(Object.entries(rec.holders).filter(([, h]) => h.expiresAt > now));
}

/** Cool-down after the n-th consecutive opening (from 1): doubling, capped. */
export function coolDownMs(opens: number, policy: BreakerPolicy = DEFAULT_BREAKER_POLICY): number {
  return Math.min(policy.maxCoolDownMs, policy.coolDownMs * 2 ** Math.max(0, opens - 1));
}

/** Whether a slot is granted, and the record after it (expired holders dropped). */
export function admit(
  rec: GuardRecord,
  req: SlotRequest,
  now: number,
): { record: GuardRecord; admission: Admission } {
  const holders = live(rec, now);
  const base: GuardRecord = { ...rec, holders };
  const refuse = (reason: RefusalReason, retryAt: number, message: string) => ({
    record: base,
    admission: { granted: false as const, reason, retryAt, message },
  });
  const grant = (record: GuardRecord, probe: boolean) => ({
    record: {
      ...record,
      holders: {
        ...holders,
        [req.holder]: { expiresAt: now + req.ttlMs, ...(probe ? { probe } : {}) },
      },
    },
    admission: {
      granted: true as const,
      slot: { cluster: req.cluster, holder: req.holder, probe },
    },
  });
  if (rec.backoffUntil !== undefined && rec.backoffUntil > now) {
    return refuse(
      'backoff',
      rec.backoffUntil,
      `cluster ${req.cluster} asked to be left alone (429, Retry-After) until ${new Date(rec.backoffUntil).toISOString()}`,
    );
  }
  const why = rec.lastError ? `: ${rec.lastError}` : '';
  if (rec.breaker === 'open') {
    const probeAt = rec.probeAt ?? now;
    if (probeAt > now) {
      return refuse(
        'open',
        probeAt,
        `circuit breaker of cluster ${req.cluster} is open after ${rec.failures} failed reconciles${why}; next probe at ${new Date(probeAt).toISOString()}`,
      );
    }
    return grant({ ...base, breaker: 'half-open', since: now }, true);
  }
  if (rec.breaker === 'half-open') {
    const probe = Object.values(holders).find((h) => h.probe);
    if (probe) {
      return refuse(
        'open',
        Math.min(probe.expiresAt, now + CLUSTER_FULL_RETRY_MS),
        `circuit breaker of cluster ${req.cluster} is half-open: a probe is running${why}`,
      );
    }
    return grant(base, true);
  }
  const inUse = Object.keys(holders).length;
  if (inUse >= req.concurrency && !(req.holder in holders)) {
    return refuse(
      'full',
      now + CLUSTER_FULL_RETRY_MS,
      `cluster ${req.cluster} is at its concurrency (${inUse} of ${req.concurrency} reconciles running)`,
    );
  }
  return grant(base, false);
}

/** The record after a holder gives its slot back with the cluster's answer. */
export function settle(
  rec: GuardRecord,
  slot: ClusterSlot,
  answer: ClusterAnswer,
  now: number,
  policy: BreakerPolicy = DEFAULT_BREAKER_POLICY,
): GuardRecord {
  const { [slot.holder]: _gone, ...rest } = live(rec, now);
  let next: GuardRecord = { ...rec, holders: rest };
  if (answer.throttled) next.throttled = rec.throttled + answer.throttled;
  if (answer.backoffUntil !== undefined && answer.backoffUntil > (rec.backoffUntil ?? 0)) {
    next.backoffUntil = answer.backoffUntil;
  }
  if (answer.reached === 'answered') {
    const { probeAt: _p, ...closed } = next;
    next = { ...closed, failures: 0, opens: 0, breaker: 'closed' };
    if (rec.breaker !== 'closed') next.since = now;
  } else if (answer.reached === 'unreachable') {
    next.failures = rec.failures + 1;
    if (answer.error) next.lastError = answer.error;
    const failedProbe = rec.breaker === 'half-open' && slot.probe;
    if (failedProbe || (rec.breaker === 'closed' && next.failures >= policy.threshold)) {
      next.opens = rec.opens + 1;
      next.breaker = 'open';
      next.since = now;
      next.probeAt = now + coolDownMs(next.opens, policy);
    }
  }
  // unknown: the probe (if this was it) did not reach the cluster; the next
  // acquire probes again.
  return next;
}

export function guardState(
  rec: GuardRecord,
  cluster: string,
  concurrency: number,
  now: number,
): ClusterGuardState {
  const iso = (ms: number | undefined) =>
    ms === undefined ? undefined : new Date(ms).toISOString();
  return {
    cluster,
    breaker: rec.breaker,
    ...(rec.since !== undefined ? { since: iso(rec.since) } : {}),
    failures: rec.failures,
    ...(rec.lastError ? { lastError: rec.lastError } : {}),
    ...(rec.breaker === 'open' && rec.probeAt !== undefined ? { probeAt: iso(rec.probeAt) } : {}),
    ...(rec.backoffUntil !== undefined && rec.backoffUntil > now
      ? { backoffUntil: iso(rec.backoffUntil) }
      : {}),
    throttled: rec.throttled,
    slotsInUse: Object.keys(live(rec, now)).length,
    concurrency,
  };
}
