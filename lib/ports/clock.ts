// Time, injected so that leases, backoff and token refresh are testable.

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
