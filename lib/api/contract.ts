// The status API's contract: the request and response bodies of every route
// and the one error shape. The handler (lib/api/index.ts), the CLI's client
// (lib/cli/) and local mode all use these types, so a field renamed here is
// renamed everywhere at compile time.

import type { ErrorLocation, ErrorReason } from '../errors.js';
import type { Application, Cluster } from '../model/application.js';
import type {
  HealthStatus,
  OperationResult,
  ResourceStatus,
  StatusCondition,
  SyncStatus,
} from '../model/status.js';
import type { ClusterGuardState } from '../ports/cluster-guard.js';

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

/** GET /apps */
export interface AppListItem {
  name: string;
  repoURL: string;
  revision: string;
  path: string;
  suspended: boolean;
  targets: TargetSummary[];
}
export type AppListResponse = PageBody<AppListItem>;

/** GET /apps/NAME */
export interface AppDetailResponse {
  app: Application;
  targets: (TargetSummary & { resources: ResourceStatus[] })[];
}

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
};

/** GET and PUT /clusters/NAME (GET adds the guard). */
export interface ClusterResponse {
  cluster: Cluster;
  guard?: ClusterGuardState;
}
