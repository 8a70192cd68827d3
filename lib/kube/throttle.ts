// One cluster's throttling, shared by every client of it in the process. A
// 429 with Retry-After asks the whole cluster for a pause, not one request:
// every request first waits until the newest "not before" any client was
// given, and the next requests after a 429 go one at a time (so they do not
// all come back at the same instant and meet the same limit again) until
// enough of them got through. The 429s are counted until the worker takes
// them to the cluster guard (lib/ports/cluster-guard.ts), which makes other
// workers wait too.

import type { ThrottleReport } from '../ports/cluster.js';

/** Requests after a 429 that run one at a time before the cluster gets parallel requests again. */
export const DEFAULT_THROTTLE_SERIAL_REQUESTS = 8;

/** Called when a request's attempt ends: whether the cluster throttled it. */
export type ThrottleTurn = (throttled: boolean) => void;

export class ClusterThrottle {
  /** Epoch ms before which no request to the cluster starts. */
  private until = 0;
  /** 429s not yet taken by the worker. */
  private pending = 0;
  /** Requests still to run one at a time. */
  private serial = 0;
  private queue: Promise<void> = Promise.resolve();
  /** 429s in all. */
  count = 0;

  constructor(private readonly serialRequests = DEFAULT_THROTTLE_SERIAL_REQUESTS) {}

  /** The cluster answered 429 and asked for `afterMs` (Retry-After, or the client's own backoff). */
  note(afterMs: number, now = Date.now()): void {
    this.count++;
    this.pending++;
    this.until = Math.max(this.until, now + afterMs);
    this.serial = this.serialRequests;
  }

  /** Waits for the request's turn: after any pause, and alone while the cluster recovers. */
  async enter(): Promise<ThrottleTurn> {
    await this.pause();
    if (this.serial === 0) return () => {};
    let done!: () => void;
    const previous = this.queue;
    this.queue = new Promise<void>((r) => {
      done = r;
    });
    await previous;
    // The pause may have grown while this request queued.
    await this.pause();
    return (throttled) => {
      if (!throttled && this.serial > 0) this.serial--;
      done();
    };
  }

  /** The 429s since the last take, and the pause still ahead (if any). */
  take(now = Date.now()): ThrottleReport {
    const report: ThrottleReport = {
      throttled: this.pending,
      ...(this.until > now ? { backoffUntil: this.until } : {}),
    };
    this.pending = 0;
    return report;
  }

  private async pause(): Promise<void> {
    const ms = this.until - Date.now();
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  }
}

/** Throttles by cluster name, one per cluster for the process. */
export class ClusterThrottles {
  private readonly byCluster = new Map<string, ClusterThrottle>();

  for(cluster: string): ClusterThrottle {
    let t = this.byCluster.get(cluster);
    if (!t) {
      t = new ClusterThrottle();
      this.byCluster.set(cluster, t);
    }
    return t;
  }

  take(cluster: string): ThrottleReport {
    return this.byCluster.get(cluster)?.take() ?? { throttled: 0 };
  }
}
