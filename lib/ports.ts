// The ports reconcile.ts is written against. Production adapters live in
// lib/aws (DynamoDB, SQS) and lib/github; embedded ones in lib/local.

import type { ApplyOptions, DeleteOptions, ListOptions, RequestStats } from './kube/client.js';
import type { ResourceInfo } from './kube/discovery.js';
import type { Application, Cluster } from './model/application.js';
import type { KubeObject, ObjectRef } from './model/object.js';
import type { OperationResult, TargetStatus } from './model/status.js';

export interface TargetId {
  app: string;
  cluster: string;
}

export function targetKey(t: TargetId): string {
  return `${t.app}#${t.cluster}`;
}

/** Git credentials for a private repository. */
export interface GitCredentials {
  username: string;
  password: string;
}

export interface Checkout {
  /** Absolute path of a directory holding exactly the commit's files. */
  dir: string;
  /** Full commit SHA. */
  commit: string;
}

export interface GitSource {
  /** Resolves a branch, tag or (abbreviated) SHA to a full commit SHA with one cheap request. */
  resolve(repoURL: string, revision: string, credentials?: GitCredentials): Promise<string>;
  /** The files of one commit (cached: an unchanged commit costs no network). */
  checkout(repoURL: string, commit: string, credentials?: GitCredentials): Promise<Checkout>;
}

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

export interface Store {
  getApplication(name: string): Promise<Application | undefined>;
  getCluster(name: string): Promise<Cluster | undefined>;
  getTargetStatus(target: TargetId): Promise<TargetStatus | undefined>;
  /** Writes the status; rejects with LeaseLost if a newer fencing token has written. */
  putTargetStatus(status: TargetStatus, fencingToken: number): Promise<void>;
  /** Appends to the bounded (DEFAULT_HISTORY_LIMIT), newest-first history; fenced like putTargetStatus. */
  appendHistory(target: TargetId, entry: OperationResult, fencingToken: number): Promise<void>;
  listHistory(target: TargetId, limit?: number): Promise<OperationResult[]>;
}

/** History entries a Store keeps per target unless configured otherwise. */
export const DEFAULT_HISTORY_LIMIT = 50;

/**
 * Requests one step of a reconcile (the drift check's LISTs and dry runs, the
 * applies of a wave, the deletes of a prune) keeps in flight against a
 * cluster's API server, unless the reconcile says otherwise.
 */
export const DEFAULT_REQUEST_CONCURRENCY = 8;

/** One cluster's API, as the engine uses it (lib/kube/client.ts implements it). */
export interface ClusterClient {
  readonly stats: RequestStats;
  resource(apiVersion: string, kind: string): Promise<ResourceInfo>;
  list(apiVersion: string, kind: string, opts?: ListOptions): Promise<KubeObject[]>;
  get(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
  ): Promise<KubeObject | undefined>;
  apply(obj: KubeObject, opts?: ApplyOptions): Promise<KubeObject>;
  delete(ref: ObjectRef & { apiVersion: string }, opts?: DeleteOptions): Promise<boolean>;
  /** Forget cached discovery (after CRDs change). */
  invalidateDiscovery(): void;
}

/** Turns a Cluster spec into a client (kubeconfig, or EKS with a presigned token). */
export interface ClusterConnector {
  connect(cluster: Cluster): Promise<ClusterClient>;
}

export type CommitState = 'pending' | 'success' | 'failure' | 'error';

export interface CommitStatusReporter {
  /** Never throws: reporting must not fail a reconcile. */
  report(input: {
    repoURL: string;
    commit: string;
    context: string;
    state: CommitState;
    description: string;
    targetUrl?: string;
  }): Promise<void>;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A reconcile request on the queue: one target, and why. */
export interface ReconcileJob {
  app: string;
  cluster: string;
  trigger: OperationResult['trigger'];
  /** An explicit revision (manual sync or rollback) instead of the app's. */
  revision?: string;
  /** A manual sync: apply even when automation is off. */
  sync?: boolean;
  allowPrune?: boolean;
  /** The GitHub delivery or operation that caused it, for logs. */
  deliveryId?: string;
  enqueuedAt: string;
}

export interface QueuedJob {
  job: ReconcileJob;
  /** Jobs with the same id within the queue's deduplication window are sent once. */
  dedupId: string;
}

export interface JobQueue {
  /** FIFO per target (group = app#cluster); sent in batches. */
  enqueue(jobs: QueuedJob[]): Promise<void>;
  /** A later look at a target (a rollout or hook in progress), not before delaySeconds. */
  enqueueDelayed(job: ReconcileJob, delaySeconds: number): Promise<void>;
}

/** What the webhook and the sweep need to know about a target without reading its status. */
export interface TargetRecord extends TargetId {
  repoURL: string;
  /** The app's source revision (branch, tag, SHA). */
  revision: string;
  suspended: boolean;
  intervalMs: number;
  /** When the sweep should next look at it (epoch ms). */
  nextDueAt: number;
  /** The newest commit a push announced, and when. */
  wantedRevision?: string;
  wantedAt?: number;
}

/** Items per page of a Catalog listing when the caller names no limit. */
export const DEFAULT_PAGE_SIZE = 100;

export interface Page<T> {
  items: T[];
  /** Opaque; absent on the last page. */
  next?: string;
}

/** The Store plus everything the API, the webhook and the sweep read and write. */
export interface Catalog extends Store {
  putApplication(app: Application): Promise<void>;
  deleteApplication(name: string): Promise<void>;
  listApplications(limit?: number, next?: string): Promise<Page<Application>>;
  putCluster(cluster: Cluster): Promise<void>;
  deleteCluster(name: string): Promise<void>;
  listClusters(limit?: number, next?: string): Promise<Page<Cluster>>;
  /** Targets of apps whose source repository is `repoURL` (normalized). */
  targetsForRepo(repoURL: string): Promise<TargetRecord[]>;
  /** Targets whose nextDueAt is at or before `now`, a page at a time. */
  dueTargets(now: number, limit?: number, next?: string): Promise<Page<TargetRecord>>;
  /** Records the newest commit a push announced (never moves backwards in time). */
  recordWantedRevision(target: TargetId, commit: string, at: number): Promise<void>;
  /** Schedules the target's next sweep. */
  setNextDue(target: TargetId, nextDueAt: number): Promise<void>;
  getTargetRecord(target: TargetId): Promise<TargetRecord | undefined>;
}

/** `https://github.com/Acme/Deploy.git/` → `github.com/acme/deploy`: how repositories are matched. */
export function normalizeRepoURL(url: string): string {
  return url
    .trim()
    .replace(/^[a-z+]+:\/\//i, '')
    .replace(/^[^@/]*@/, '')
    .replace(/^([^/:]+):(?!\d)/, '$1/') // scp-like git@host:owner/repo
    .replace(/\/+$/, '')
    .replace(/\.git$/i, '')
    .toLowerCase();
}
