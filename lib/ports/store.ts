// The store port: specs, target records, status and history. DynamoDB in AWS
// (lib/aws/catalog/), memory in local mode (lib/local/store.ts).

import type { Application, ApplicationSource, Cluster, Repository } from '../model/application.js';
import type { Project } from '../model/project.js';
import type {
  HealthStatus,
  ObservedState,
  OperationPhase,
  OperationResult,
  SyncStatus,
  TargetStatus,
} from '../model/status.js';
import type { TargetId } from '../model/target.js';

/** What one reconcile reads and writes. */
export interface Store {
  getApplication(name: string): Promise<Application | undefined>;
  getCluster(name: string): Promise<Cluster | undefined>;
  /** A registered Project; `default` is implicit when none is registered (lib/model/project.ts). */
  getProject(name: string): Promise<Project | undefined>;
  getTargetStatus(target: TargetId): Promise<TargetStatus | undefined>;
  /**
   * Writes the status, and its summary on the target record. Rejects with
   * LeaseLost when a newer lease was taken (even if it has not written yet),
   * a newer token has written, or the target was deleted (its tombstone).
   */
  putTargetStatus(status: TargetStatus, fencingToken: number): Promise<void>;
  /**
   * Appends to the newest-first history; fenced like putTargetStatus.
   * Successful syncs and everything else are bounded apart
   * (DEFAULT_HISTORY_LIMIT each), so failures never push a rollback target
   * out; a failure repeating the newest entry collapses into it (collapseRepeat).
   */
  appendHistory(target: TargetId, entry: OperationResult, fencingToken: number): Promise<void>;
  /** Newest first; `succeeded` lists only successful syncs (rollback targets). */
  listHistory(
    target: TargetId,
    limit?: number,
    filter?: { succeeded?: boolean },
  ): Promise<OperationResult[]>;
  /** The target's small record: a running operation reads whether someone asked to terminate it. */
  getTargetRecord(target: TargetId): Promise<TargetRecord | undefined>;
  /**
   * What a check saw of the target's objects, for the per-cluster sweep;
   * written only when it changed. Not fenced: a stale writer can only make
   * the sweep look again. A target deleted meanwhile is left alone.
   */
  putObserved(target: TargetId, observed: ObservedState): Promise<void>;
}

/** One target as its cluster's sweep sees it (lib/sweep/cluster.ts): one item per target, read per cluster. */
export interface SweepTarget extends TargetId {
  /** specHash of the app's current spec. */
  specHash: string;
  intervalMs: number;
  suspended: boolean;
  /** The app's sources, to resolve what they are at now. */
  source: ApplicationSource;
  sources?: ApplicationSource[];
  /** The last check's view; absent until the target's first check. */
  observed?: ObservedState;
}

/** Counters of one cluster sweep (the sweep record keeps the last tick's). */
export interface ClusterSweepCounters {
  targets: number;
  due: number;
  enqueued: number;
  /** Why targets were enqueued: `drift`, `source`, `health`, `new`, `error`. */
  reasons: Record<string, number>;
  /** Over the per-cluster limit: left for the next tick. */
  deferred: number;
  /** Requests to the cluster's API server, and the sources' resolve requests. */
  clusterRequests: number;
  sourceRequests: number;
  durationMs: number;
}

/** The per-cluster sweep record: the last tick's time and counters, and what it confirmed. */
export interface ClusterSweepRecord {
  cluster: string;
  /** Epoch ms of the last tick swept. */
  tickAt: number;
  counters: ClusterSweepCounters;
  /**
   * Objects whose resourceVersion moved by status alone (their metadata and
   * health unchanged): refKey@target → the resourceVersion confirmed, so the
   * next tick does not fetch them again.
   */
  confirmed: Record<string, string>;
  /** Targets (apps) found but over the per-cluster limit: due at the next tick whatever their interval. */
  carried?: string[];
  /** Why the last sweep could not finish, if it could not. */
  error?: string;
}

/** A change to an application someone made through the API: who, what, when (the audit trail history shows). */
export interface AppEvent {
  /** ISO time. */
  at: string;
  principal: string;
  action: 'create' | 'update' | 'delete' | 'suspend' | 'resume' | 'terminate';
  /** Clusters it concerned, when not all. */
  clusters?: string[];
}

/** Someone asked to end a running operation (`driftless terminate`, POST …/terminate). */
export interface TerminationRequest {
  operationId: string;
  /** Who asked (IAM principal, local user). */
  by: string;
  /** Epoch ms. */
  at: number;
}

/** History entries a Store keeps per target (successes and the rest, each) unless configured otherwise. */
export const DEFAULT_HISTORY_LIMIT = 50;

/** Items per page of a Catalog listing when the caller names no limit. */
export const DEFAULT_PAGE_SIZE = 100;

/** What the webhook needs to know about a target without reading its status. */
export interface TargetRecord extends TargetId {
  repoURL: string;
  /** The app's source revision (branch, tag, SHA). */
  revision: string;
  suspended: boolean;
  intervalMs: number;
  /** The newest commit a push announced, and when. */
  wantedRevision?: string;
  wantedAt?: number;
  /** The live link of the target's one chain of re-checks (lib/worker.ts). */
  recheckToken?: string;
  termination?: TerminationRequest;
  /** The last status written, as a list row shows it (absent until the first status). */
  summary?: TargetRecordSummary;
}

/** What a list of apps shows per target: written with every status, read without the status. */
export interface TargetRecordSummary {
  sync: SyncStatus;
  health: HealthStatus;
  syncedRevision?: string;
  operationPhase?: OperationPhase;
  lastCheckedAt?: string;
}

/** The summary of a status, as putTargetStatus stores it on the record. */
export function summaryOf(status: TargetStatus): TargetRecordSummary {
  const summary: TargetRecordSummary = { sync: status.sync, health: status.health };
  if (status.syncedRevision !== undefined) summary.syncedRevision = status.syncedRevision;
  if (status.operation) summary.operationPhase = status.operation.phase;
  if (status.lastCheckedAt !== undefined) summary.lastCheckedAt = status.lastCheckedAt;
  return summary;
}

export interface Page<T> {
  items: T[];
  /** Opaque; absent on the last page. */
  next?: string;
}

/** The Store plus everything the API, the webhook and the sweep read and write. */
export interface Catalog extends Store {
  /**
   * Stores the spec and one target record per destination (spec-derived
   * fields only: status, wanted revision, schedule and lease survive);
   * destinations it no longer has are deleted as deleteApplication deletes.
   */
  putApplication(app: Application): Promise<void>;
  /**
   * Forgets the app and its targets: each target record becomes a tombstone
   * (lease token and fence kept, so a worker still mid-reconcile is rejected
   * with LeaseLost instead of resurrecting it), then its status and history go.
   * Registering the app again revives the target with its tokens.
   */
  deleteApplication(name: string): Promise<void>;
  /** Pages sorted by name; a limit below 1 or a `next` it did not issue is InvalidSpec. */
  listApplications(limit?: number, next?: string): Promise<Page<Application>>;
  putCluster(cluster: Cluster): Promise<void>;
  deleteCluster(name: string): Promise<void>;
  listClusters(limit?: number, next?: string): Promise<Page<Cluster>>;
  putProject(project: Project): Promise<void>;
  deleteProject(name: string): Promise<void>;
  listProjects(limit?: number, next?: string): Promise<Page<Project>>;
  /** Records a change to an application (bounded by the history's TTL). */
  appendEvent(app: string, event: AppEvent): Promise<void>;
  /** The application's events, newest first. */
  listEvents(app: string, limit?: number): Promise<AppEvent[]>;
  /** Targets of apps whose source repository is `repoURL` (normalized). */
  targetsForRepo(repoURL: string): Promise<TargetRecord[]>;
  /** Every target on the cluster with its last check's view, and the cluster's sweep record. */
  clusterSweepState(
    cluster: string,
  ): Promise<{ targets: SweepTarget[]; record?: ClusterSweepRecord }>;
  putClusterSweepRecord(record: ClusterSweepRecord): Promise<void>;
  /** The cluster's last sweep alone (what the clusters endpoints show). */
  getClusterSweepRecord(cluster: string): Promise<ClusterSweepRecord | undefined>;
  /** Records the newest commit a push announced (never moves backwards in time). */
  recordWantedRevision(target: TargetId, commit: string, at: number): Promise<void>;
  /** Starts a new chain of re-checks: delayed jobs with another token are stale from now on. */
  setRecheckToken(target: TargetId, token: string): Promise<void>;
  /** Asks the running operation `operationId` to end (the worker runs its SyncFail hooks). */
  requestTermination(target: TargetId, request: TerminationRequest): Promise<void>;
  // Private Git: Repository records (a URL prefix and the name of its credentials' secret).
  putRepository(repository: Repository): Promise<void>;
  getRepository(name: string): Promise<Repository | undefined>;
  deleteRepository(name: string): Promise<void>;
  /** Pages sorted by name, like listApplications. */
  listRepositories(limit?: number, next?: string): Promise<Page<Repository>>;
}
