// What the contract cases (catalog.ts, lease.ts, queue.ts) are given: an
// adapter pair made fresh for each case, and the data they write.

import { createHash } from 'node:crypto';
import {
  type Application,
  type ApplicationInput,
  ApplicationSchema,
  type Cluster,
  ClusterSchema,
} from '../../../lib/model/application.js';
import type { OperationResult, TargetStatus } from '../../../lib/model/status.js';
import type { TargetId } from '../../../lib/model/target.js';
import type { LeaseManager } from '../../../lib/ports/lease.js';
import type { JobQueue, ReconcileJob } from '../../../lib/ports/queue.js';
import type { Catalog } from '../../../lib/ports/store.js';
import type { ManualClock } from '../dynamo.js';

/** A catalog and the lease manager whose leases fence its writes, on one clock. */
export interface StoreFixture {
  catalog: Catalog;
  leases: LeaseManager;
  clock: ManualClock;
}

export type MakeStore = (opts?: { historyLimit?: number }) => Promise<StoreFixture>;

/** A job queue and what a consumer of it receives. */
export interface QueueFixture {
  queue: JobQueue;
  /** Every job delivered from the FIFO side since the last call, in delivery order per target. */
  received(): Promise<ReconcileJob[]>;
  /** Delayed jobs delivered within `waitMs`. */
  receivedDelayed(waitMs: number): Promise<ReconcileJob[]>;
}

export type MakeQueue = () => Promise<QueueFixture>;

export const REPO = 'https://github.com/Acme/Deploy.git';

export function application(
  name: string,
  clusters: string[],
  spec: Partial<ApplicationInput['spec']> = {},
): Application {
  return ApplicationSchema.parse({
    apiVersion: 'driftless.dev/v1',
    kind: 'Application',
    metadata: { name, labels: { team: 'platform' } },
    spec: {
      source: { repoURL: REPO, revision: 'main', path: 'apps/web' },
      destinations: clusters.map((cluster) => ({ cluster, namespace: 'web' })),
      syncPolicy: { interval: '2m', prune: true, retry: { limit: 3, backoff: { duration: '5s' } } },
      ignoreDifferences: [{ group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] }],
      ...spec,
    },
  });
}

export function cluster(name: string): Cluster {
  return ClusterSchema.parse({
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name },
    spec: { eks: { name: `eks-${name}`, region: 'eu-west-1' }, concurrency: 8 },
  });
}

const hex = (s: string) => createHash('sha256').update(s).digest('hex');

export function status(
  target: TargetId,
  resources = 3,
  extra: Partial<TargetStatus> = {},
): TargetStatus {
  return {
    app: target.app,
    cluster: target.cluster,
    wantedRevision: hex('wanted').slice(0, 40),
    syncedRevision: hex('synced').slice(0, 40),
    sync: 'Synced',
    health: 'Healthy',
    resources: Array.from({ length: resources }, (_, i) => ({
      key: `apps/Deployment/team-${i % 17}/web-${i}`,
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: `team-${i % 17}`,
      name: `web-${i}`,
      sync: 'Synced' as const,
      health: { status: 'Healthy' as const, message: `${(i % 3) + 1} replicas available` },
      wave: i % 4,
    })),
    inventory: Array.from({ length: resources }, (_, i) => ({
      key: `apps/Deployment/team-${i % 17}/web-${i}`,
      apiVersion: 'apps/v1',
      desiredHash: hex(`desired-${i}`),
      resourceVersion: String(100_000 + i * 7),
      generation: (i % 5) + 1,
      wave: i % 4,
    })),
    conditions: [],
    lastCheckedAt: '2026-03-01T12:00:00.000Z',
    checkStartedAt: '2026-03-01T11:59:58.000Z',
    ...extra,
  };
}

export function operation(n: number | string): OperationResult {
  const i = typeof n === 'number' ? n : 1;
  return {
    id: `op-${n}`,
    trigger: 'webhook',
    revision: `rev-${n}`,
    phase: 'Succeeded',
    message: `applied ${i}, pruned 0`,
    startedAt: new Date(Date.UTC(2026, 2, 1, 12, 0, i)).toISOString(),
    finishedAt: new Date(Date.UTC(2026, 2, 1, 12, 0, i + 1)).toISOString(),
    attempt: 1,
    applied: i,
    pruned: 0,
    drifted: 0,
  };
}

export function job(
  app: string,
  cluster = 'prod',
  extra: Partial<ReconcileJob> = {},
): ReconcileJob {
  return {
    app,
    cluster,
    trigger: 'webhook',
    deliveryId: 'd-1',
    enqueuedAt: '2026-03-01T12:00:00.000Z',
    ...extra,
  };
}
