// One cluster's throttling, shared by every client of it in the process: a
// 429 with Retry-After asks the whole cluster for a pause, not one request,
// so each request first waits until the newest "not before" any client was
// given. The 429s are counted until the worker takes them to the cluster
// guard (lib/ports/cluster-guard.ts), which makes other workers wait too.

import type { ThrottleReport } from '../ports/cluster.js';

export class ClusterThrottle {
  /** Epoch ms before which no request to the cluster starts. */
  private until = 0;
  /** 429s not yet taken by the worker. */
  private pending = 0;
  /** 429s in all. */
  count = 0;

  /** The cluster answered 429 and asked for `afterMs` (Retry-After, or the client's own backoff). */
  note(afterMs: number, now = Date.now()): void {
    this.count++;
    this.pending++;
    this.until = Math.max(this.until, now + afterMs);
  }

  /** Waits out a pause the cluster asked any client for. */
  async wait(now = Date.now()): Promise<void> {
    const ms = this.until - now;
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
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
