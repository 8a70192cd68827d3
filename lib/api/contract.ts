// The status API's contract: the request and response bodies of every route
// and the one error shape. The handler (lib/api/index.ts), the CLI's client
// (lib/cli/) and local mode all use these types, so a field renamed here is
// renamed everywhere at compile time.

import type { ErrorLocation, ErrorReason } from '../errors.js';
import type { Application, Cluster, Repository } from '../model/application.js';
import type { Project } from '../model/project.js';
import type {
  HealthStatus,
  OperationPhase,
  OperationResult,
  ResourceStatus,
  StatusCondition,
  SyncStatus,
} from '../model/status.js';
import type { ClusterGuardState } from '../ports/cluster-guard.js';
import type { DeadLetter, RedriveResult } from '../ports/deadletters.js';
import type { AppEvent, ClusterSweepRecord } from '../ports/store.js';

/**
 * The header that names the caller to local mode (`driftless dev`), which
 * trusts it on loopback; in AWS the caller is whoever signed the request.
 */
export const PRINCIPAL_HEADER = 'x-driftless-principal';

/** Every error response (4xx, 5xx) and every per-target error in a response. */
export interface ApiErrorBody extends ErrorLocation {
  /** A DriftlessError reason, or an HTTP-level code (NotFound, MethodNotAllowed, Conflict, …). */
  code: ErrorReason | ApiErrorCode;
  message: string;
  /** Methods the path allows (405). */
  allowed?: string[];
}

export type ApiErrorCode =
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'PayloadTooLarge'
  | 'Conflict'
  | 'NotImplemented';

export interface PageBody<T> {
  items: T[];
  /** Pass as `?next=` for the following page; absent on the last page. */
  next?: string;
}

/** The current operation of a target, as listed. */
export type OperationSummary = Pick<
  OperationResult,
  'id' | 'phase' | 'message' | 'reason' | 'startedAt' | 'finishedAt' | 'revision'
>;

/** One target (an app on one cluster) as listed. */
export interface TargetSummary {
  cluster: string;
  sync: SyncStatus;
  health: HealthStatus;
  healthMessage?: string;
  syncedRevision?: string;
  wantedRevision?: string;
  lastCheckedAt?: string;
  operation?: OperationSummary;
  conditions: StatusCondition[];
}

/**
 * One target as a list of apps shows it: read from the small target record
 * (written with every status), never from the status itself.
 */
export interface TargetListRow {
  cluster: string;
  sync: SyncStatus;
  health: HealthStatus;
  syncedRevision?: string;
  /** The newest commit a push announced. */
  wantedRevision?: string;
  lastCheckedAt?: string;
  /** The phase of the target's current or last operation. */
  operationPhase?: OperationPhase;
}

/** GET /apps */
export interface AppListItem {
  name: string;
  repoURL: string;
  revision: string;
  path: string;
  suspended: boolean;
  targets: TargetListRow[];
}
export type AppListResponse = PageBody<AppListItem>;

/** A target of GET /apps/NAME: its summary and a page of its resources. */
export type TargetDetail = TargetSummary & { resources: ResourceStatus[] };

/**
 * GET /apps/NAME[?resources=N&next=TOKEN]: the resources of every target,
 * a page at a time (at most N, and at most a byte budget), so a large app
 * never exceeds a response. The first page lists every target (those whose
 * resources come later with none yet); a later page lists the targets whose
 * resources it carries. Concatenate each target's resources across pages.
 */
export interface AppDetailResponse {
  app: Application;
  targets: TargetDetail[];
  /** Pass as `?next=` for the following page of resources; absent on the last page. */
  next?: string;
}

/** GET /deadletters[?limit=N]: jobs that ran out of retries, with why (oldest first). */
export interface DeadLetterListResponse {
  items: DeadLetter[];
}

/** POST /deadletters/redrive */
export interface RedriveRequest {
  /** Most dead letters to move (default 10, at most 100). */
  max?: number;
  /** List what would be redriven; move nothing. */
  dryRun?: boolean;
}
export interface RedriveResponse extends RedriveResult {
  dryRun: boolean;
}

export type { DeadLetter, DeadLetterError } from '../ports/deadletters.js';

/** What happened to one destination an update or a deletion removed. */
export interface RemovedDestination {
  cluster: string;
  /** true: the worker prunes its objects (then forgets it); false: its objects stay in the cluster. */
  cascade: boolean;
  /** Objects Driftless applied there, by the target's inventory. */
  objects: number;
  /** The cascade's job (cascade only). */
  operationId?: string;
}

/** PUT /apps/NAME[?cascade=true] */
export interface AppPutResponse {
  app: Application;
  /** Destinations the update removed (with cascade: still listed as `deleting` until pruned). */
  removed?: RemovedDestination[];
}

/** DELETE /apps/NAME?cascade=true[&prune=true] (202; without cascade: 204, no body, objects stay). */
export interface AppDeleteResponse {
  app: string;
  cascade: true;
  targets: RemovedDestination[];
}

/** GET /apps/NAME/history */
export interface HistoryResponse {
  app: string;
  targets: { cluster: string; operations: OperationResult[] }[];
  /** Changes to the application through the API (spec updates, suspend, resume, terminate), with who made them. */
  events: AppEvent[];
}

/** GET /apps/NAME/diff */
export interface DiffResponse {
  app: string;
  targets: {
    cluster: string;
    sync: SyncStatus;
    revision?: string;
    error?: ApiErrorBody;
    objects: { key: string; state: string; reason?: string; diff?: string }[];
  }[];
}

/** POST /apps/NAME/sync */
export interface SyncRequest {
  cluster?: string;
  /** A branch, tag or commit: a rollback when set. */
  revision?: string;
  prune?: boolean;
}
export interface SyncResponse {
  app: string;
  revision?: string;
  operations: { cluster: string; operationId: string }[];
}

/** GET /projects */
export type ProjectListResponse = PageBody<Project>;

/** GET and PUT /projects/NAME */
export interface ProjectResponse {
  project: Project;
}

/** POST /apps/NAME/terminate */
export interface TerminateResponse {
  app: string;
  /** Targets whose running operation was asked to end. */
  terminated: { cluster: string; operationId: string }[];
  /** Clusters with no running operation. */
  notRunning: string[];
}

/** POST /apps/NAME/suspend and /resume */
export interface SuspendResponse {
  app: string;
  suspended: boolean;
}

/**
 * GET /clusters: the specs, and each one's guard by name (slots in use, the
 * circuit breaker, a 429's pause) where the API has the guard.
 */
export type ClusterListResponse = PageBody<Cluster> & {
  guards?: Record<string, ClusterGuardState>;
  /** Each cluster's last drift sweep (absent until its first). */
  sweeps?: Record<string, ClusterSweepRecord>;
};

/** GET and PUT /clusters/NAME (GET adds the guard and the last sweep). */
export interface ClusterResponse {
  cluster: Cluster;
  guard?: ClusterGuardState;
  sweep?: ClusterSweepRecord;
}

/** GET/PUT /repositories/{name}: the record as stored (the secret's name, never its value). */
export interface RepositoryResponse {
  repository: Repository;
}

export type RepositoryListResponse = PageBody<Repository>;
