// The status API, independent of Lambda: a request in, a JSON response out.
// Inputs are validated with the model's schemas; errors are JSON with a code
// and a message; lists paginate with `limit` and an opaque `next`.
//
//   GET    /apps                       apps with their targets' sync and health (target records)
//   GET    /apps/{name}                spec and per-target status with resources, paged
//                                      (?resources=N&next=)
//   GET    /apps/{name}/history        operations, newest first (?cluster=&limit=&succeeded=true)
//   GET    /apps/{name}/diff           what a sync would change (?cluster=&revision=)
//   POST   /apps/{name}/sync           queue a sync {cluster?, revision?, prune?}
//   POST   /apps/{name}/suspend|resume
//   POST   /apps/{name}/terminate      end the running operation (SyncFail hooks run) (?cluster=)
//   PUT    /apps/{name}                register or update (Application JSON); ?cascade=true:
//                                      removed destinations are pruned by the worker
//   DELETE /apps/{name}                objects stay; ?cascade=true[&prune=true]: the worker
//                                      prunes each destination, then forgets the app
//   GET    /clusters, GET|PUT|DELETE /clusters/{name} (GETs add each cluster's guard:
//          slots in use, circuit breaker, a 429's pause; and its last drift sweep)
//   GET    /repositories, GET|PUT|DELETE /repositories/{name} (credentials by URL prefix:
//          the secret's name, never its value)
//   GET    /deadletters                dead letters with why they died (?limit=)
//   POST   /deadletters/redrive        move them back to the job queue {max?, dryRun?}

import { randomUUID } from 'node:crypto';
import { authorize, authorizeAdmin, type Caller, callerOf, can, canSee } from '../authz/index.js';
import { mapBounded } from '../concurrency.js';
import { DriftlessError, httpStatusFor, isDriftlessError } from '../errors.js';
import {
  type Application,
  parseApplication,
  parseCluster,
  parseRepository,
} from '../model/application.js';
import {
  type Action,
  appSourcesRefusal,
  DEFAULT_PROJECT,
  destinationRefusal,
  implicitDefaultProject,
  type Project,
  ProjectSchema,
} from '../model/project.js';
import type { ResourceStatus, TargetStatus } from '../model/status.js';
import { type Clock, systemClock } from '../ports/clock.js';
import type { ClusterGuard } from '../ports/cluster-guard.js';
import {
  DEFAULT_DEAD_LETTER_BATCH,
  type DeadLetterQueue,
  MAX_DEAD_LETTER_BATCH,
} from '../ports/deadletters.js';
import type { JobQueue } from '../ports/queue.js';
import type { AppEvent, Catalog, ClusterSweepRecord, TargetRecord } from '../ports/store.js';
import type { ReconcileDeps } from '../reconcile/index.js';
import { reconcile } from '../reconcile/index.js';
import type {
  ApiErrorBody,
  AppDeleteResponse,
  AppDetailResponse,
  AppListItem,
  AppListResponse,
  AppPutResponse,
  ClusterListResponse,
  ClusterResponse,
  DeadLetterListResponse,
  DiffResponse,
  HistoryResponse,
  ProjectListResponse,
  ProjectResponse,
  RedriveRequest,
  RedriveResponse,
  RemovedDestination,
  RepositoryListResponse,
  RepositoryResponse,
  SuspendResponse,
  SyncRequest,
  SyncResponse,
  TargetDetail,
  TargetListRow,
  TargetSummary,
  TerminateResponse,
} from './contract.js';

export interface ApiRequest {
  method: string;
  path: string;
  query?: Record<string, string | undefined>;
  /** Raw body (JSON). */
  body?: string;
  /** The caller: the IAM principal API Gateway verified, or the local user; recorded on what it starts. */
  principal?: string;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

export interface ApiDeps {
  catalog: Catalog;
  queue: JobQueue;
  /** The job queue's dead letters (GET /deadletters, POST /deadletters/redrive). */
  deadLetters?: DeadLetterQueue;
  /** For previews (diff): the engine with its cluster access. */
  engine?: Omit<ReconcileDeps, 'store'>;
  /** The clusters' guard (slots, breaker, backoff), shown by the clusters endpoints. */
  guard?: ClusterGuard;
  clock?: Clock;
  /** Default DEFAULT_MAX_API_BODY_BYTES. */
  maxBodyBytes?: number;
  /**
   * Principal patterns of the platform admins (the stack's adminPrincipals;
   * in local mode the local user). Undefined: no authorization (every caller
   * is an admin) — for embedding in tests only; the wiring always sets it.
   */
  admins?: readonly string[];
  /** Where every write is recorded (principal, action, target, outcome): the audit log stream. */
  audit?: (entry: AuditEntry) => void;
}

/** One API write (or denied attempt), for the audit log. */
export interface AuditEntry {
  at: string;
  principal: string;
  method: string;
  path: string;
  /** The permission checked (`applications:sync on project p`, `clusters:write`). */
  permission?: string;
  status: number;
  allowed: boolean;
}

/** Largest request body the API accepts. */
export const DEFAULT_MAX_API_BODY_BYTES = 256 * 1024;
/** Items per page when a request names no limit, and the most it may ask for. */
export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 500;
/** Guard items read at once for a clusters listing. */
const GUARD_READ_CONCURRENCY = 8;
/**
 * Diff previews of one app run at most this many destinations at a time: each
 * is a whole check (checkout, render, a LIST per kind), so an app deployed to
 * fifty clusters does not hold fifty renders in one API invocation's memory.
 */
export const PREVIEW_CONCURRENCY = 4;
/** Reads per destination (history, status) at a time. */
const TARGET_READ_CONCURRENCY = 8;
/** Resources per page of GET /apps/NAME unless asked otherwise, the most it may ask for, and
 * the bytes of resources one page carries at most (far below Lambda's 6 MB response). */
export const DEFAULT_RESOURCE_PAGE = 500;
export const MAX_RESOURCE_PAGE = 2000;
export const MAX_RESOURCE_PAGE_BYTES = 1024 * 1024;

const NAME = '[a-z0-9](?:[-a-z0-9]*[a-z0-9])?';
type Handler = (deps: ApiDeps, req: ApiRequest, params: string[]) => Promise<ApiResponse>;
const routes: [string, RegExp, Handler][] = [
  ['GET', /^\/apps\/?$/, listApps],
  ['GET', new RegExp(`^/apps/(${NAME})$`), getApp],
  ['PUT', new RegExp(`^/apps/(${NAME})$`), putApp],
  ['DELETE', new RegExp(`^/apps/(${NAME})$`), deleteApp],
  ['GET', new RegExp(`^/apps/(${NAME})/history$`), history],
  ['GET', new RegExp(`^/apps/(${NAME})/diff$`), diff],
  ['POST', new RegExp(`^/apps/(${NAME})/sync$`), sync],
  ['POST', new RegExp(`^/apps/(${NAME})/(suspend|resume)$`), suspendResume],
  ['POST', new RegExp(`^/apps/(${NAME})/terminate$`), terminate],
  ['GET', /^\/clusters\/?$/, listClusters],
  ['GET', new RegExp(`^/clusters/(${NAME})$`), getCluster],
  ['PUT', new RegExp(`^/clusters/(${NAME})$`), putCluster],
  ['DELETE', new RegExp(`^/clusters/(${NAME})$`), deleteCluster],
  ['GET', /^\/projects\/?$/, listProjects],
  ['GET', new RegExp(`^/projects/(${NAME})$`), getProject],
  ['PUT', new RegExp(`^/projects/(${NAME})$`), putProject],
  ['DELETE', new RegExp(`^/projects/(${NAME})$`), deleteProject],
  ['GET', /^\/repositories\/?$/, listRepositories],
  ['GET', new RegExp(`^/repositories/(${NAME})$`), getRepository],
  ['PUT', new RegExp(`^/repositories/(${NAME})$`), putRepository],
  ['DELETE', new RegExp(`^/repositories/(${NAME})$`), deleteRepository],
  ['GET', /^\/deadletters\/?$/, listDeadLetters],
  ['POST', /^\/deadletters\/redrive$/, redriveDeadLetters],
];

function error(
  status: number,
  code: ApiErrorBody['code'],
  message: string,
  extra: Omit<ApiErrorBody, 'code' | 'message'> = {},
): ApiResponse {
  return { status, body: { code, message, ...extra } satisfies ApiErrorBody };
}

/** A DriftlessError as the API reports it, in responses and per target. */
export function errorBody(e: DriftlessError): ApiErrorBody {
  return { ...e.location, code: e.reason, message: e.describe() };
}

export async function handleApiRequest(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  const path = req.path.replace(/\/+$/, '') || '/';
  const candidates = routes.filter(([, re]) => re.test(path));
  if (candidates.length === 0) return error(404, 'NotFound', `no route for ${path}`);
  const route = candidates.find(([m]) => m === req.method.toUpperCase());
  if (!route) {
    return error(405, 'MethodNotAllowed', `${req.method} not allowed on ${path}`, {
      allowed: candidates.map(([m]) => m),
    });
  }
  if (req.body && Buffer.byteLength(req.body) > (deps.maxBodyBytes ?? DEFAULT_MAX_API_BODY_BYTES)) {
    return error(413, 'PayloadTooLarge', 'request body too large');
  }
  const params = (route[1].exec(path) ?? []).slice(1) as string[];
  const res = await (async () => {
    try {
      return await route[2](deps, req, params);
    } catch (e) {
      if (isDriftlessError(e)) return { status: httpStatusFor(e.reason), body: errorBody(e) };
      throw e;
    }
  })();
  if (req.method.toUpperCase() !== 'GET' || res.status === 403) {
    const denied = res.status === 403 ? (res.body as ApiErrorBody) : undefined;
    deps.audit?.({
      at: new Date((deps.clock ?? systemClock).now()).toISOString(),
      principal: req.principal ?? 'anonymous',
      method: req.method.toUpperCase(),
      path,
      ...(denied?.field ? { permission: denied.field } : {}),
      status: res.status,
      allowed: res.status !== 403,
    });
  }
  return res;
}

/** Records who changed the app (history shows it; the audit log has every write). */
async function recordEvent(
  deps: ApiDeps,
  req: ApiRequest,
  app: string,
  action: AppEvent['action'],
  clusters?: string[],
): Promise<void> {
  await deps.catalog.appendEvent(app, {
    at: new Date((deps.clock ?? systemClock).now()).toISOString(),
    principal: req.principal ?? 'anonymous',
    action,
    ...(clusters ? { clusters } : {}),
  });
}

/** The caller as authorization sees it. */
function callerFor(deps: ApiDeps, req: ApiRequest): Caller {
  if (deps.admins === undefined) {
    return { arn: req.principal ?? 'anonymous', identities: [], admin: true };
  }
  return callerOf(req.principal, deps.admins);
}

/** The app's Project: registered, or the implicit `default`. */
async function projectNamed(deps: ApiDeps, name: string): Promise<Project> {
  const p = await deps.catalog.getProject(name);
  if (p) return p;
  if (name === DEFAULT_PROJECT) return implicitDefaultProject();
  throw new DriftlessError('InvalidSpec', `project ${name} is not registered`, {
    field: 'spec.project',
  });
}

/** Authorizes `actions` on the app's project for the caller (403 naming the first missing one). */
async function authorizeApp(
  deps: ApiDeps,
  req: ApiRequest,
  app: Application,
  ...actions: Action[]
): Promise<Project> {
  const project = await projectNamed(deps, app.spec.project);
  const caller = callerFor(deps, req);
  for (const a of actions) authorize(caller, a, project, app.metadata.name);
  return project;
}

/** A prune past the guard: the caller's override permission and the project's consent. */
function authorizePruneOverride(
  deps: ApiDeps,
  req: ApiRequest,
  app: Application,
  project: Project,
) {
  authorize(callerFor(deps, req), 'override-prune', project, app.metadata.name);
  if (!project.spec.allowPruneOverride) {
    throw new DriftlessError(
      'AccessDenied',
      `project ${project.metadata.name} does not allow prune-guard overrides (spec.allowPruneOverride)`,
      { field: 'spec.allowPruneOverride' },
    );
  }
}

function jsonBody(req: ApiRequest): unknown {
  if (!req.body) return {};
  try {
    return JSON.parse(req.body);
  } catch {
    throw new DriftlessError('InvalidSpec', 'request body is not valid JSON');
  }
}

function limitOf(req: ApiRequest): number {
  const n = Number(req.query?.limit ?? DEFAULT_PAGE_LIMIT);
  return Number.isInteger(n) && n > 0 && n <= MAX_PAGE_LIMIT ? n : DEFAULT_PAGE_LIMIT;
}

async function requireApp(deps: ApiDeps, name: string): Promise<Application> {
  const app = await deps.catalog.getApplication(name);
  if (!app) throw new DriftlessError('NotFound', `application ${name} is not registered`);
  return app;
}

function clustersOf(app: Application, req: ApiRequest): string[] {
  const all = app.spec.destinations.map((d) => d.cluster);
  const one = req.query?.cluster;
  if (one === undefined) return all;
  if (!all.includes(one))
    throw new DriftlessError(
      'NotFound',
      `application ${app.metadata.name} has no destination ${one}`,
    );
  return [one];
}

function summary(cluster: string, s: TargetStatus | undefined): TargetSummary {
  return {
    cluster,
    sync: s?.sync ?? 'Unknown',
    health: s?.health ?? 'Unknown',
    healthMessage: s?.healthMessage,
    syncedRevision: s?.syncedRevision,
    wantedRevision: s?.wantedRevision,
    lastCheckedAt: s?.lastCheckedAt,
    operation: s?.operation && {
      id: s.operation.id,
      phase: s.operation.phase,
      message: s.operation.message,
      reason: s.operation.reason,
      startedAt: s.operation.startedAt,
      finishedAt: s.operation.finishedAt,
      revision: s.operation.revision,
    },
    conditions: s?.conditions ?? [],
  };
}

/** A list row from the target record: the summary written with the status, no status read. */
function listRow(cluster: string, r: TargetRecord | undefined): TargetListRow {
  const row: TargetListRow = {
    cluster,
    sync: r?.summary?.sync ?? 'Unknown',
    health: r?.summary?.health ?? 'Unknown',
  };
  if (r?.summary?.syncedRevision) row.syncedRevision = r.summary.syncedRevision;
  if (r?.wantedRevision) row.wantedRevision = r.wantedRevision;
  if (r?.summary?.lastCheckedAt) row.lastCheckedAt = r.summary.lastCheckedAt;
  if (r?.summary?.operationPhase) row.operationPhase = r.summary.operationPhase;
  return row;
}

async function listApps(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  const page = await deps.catalog.listApplications(limitOf(req), req.query?.next);
  // Only the apps the caller may get (a page may come back shorter than the limit).
  const caller = callerFor(deps, req);
  const projects = new Map<string, Promise<Project | undefined>>();
  const visible = await Promise.all(
    page.items.map(async (app) => {
      if (caller.admin) return true;
      const name = app.spec.project;
      if (!projects.has(name))
        projects.set(
          name,
          projectNamed(deps, name).catch(() => undefined),
        );
      const project = await projects.get(name);
      return !!project && can(caller, 'get', project);
    }),
  );
  const items = await Promise.all(
    page.items
      .filter((_, i) => visible[i])
      .map(
        async (app): Promise<AppListItem> => ({
          name: app.metadata.name,
          repoURL: app.spec.source.repoURL,
          revision: app.spec.source.revision,
          path: app.spec.source.path,
          suspended: app.spec.suspended,
          targets: await Promise.all(
            app.spec.destinations.map(async (d) =>
              listRow(
                d.cluster,
                await deps.catalog.getTargetRecord({ app: app.metadata.name, cluster: d.cluster }),
              ),
            ),
          ),
        }),
      ),
  );
  return { status: 200, body: { items, next: page.next } satisfies AppListResponse };
}

/** Where a page of GET /apps/NAME starts: a destination and an offset into its resources. */
interface ResourceCursor {
  cluster: string;
  offset: number;
}

function encodeCursor(c: ResourceCursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(token: string, app: Application): { index: number; offset: number } {
  let value: Partial<ResourceCursor> | undefined;
  try {
    value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<ResourceCursor>;
  } catch {
    value = undefined;
  }
  const index = app.spec.destinations.findIndex((d) => d.cluster === value?.cluster);
  if (!value || index < 0 || !Number.isInteger(value.offset) || (value.offset as number) < 0) {
    throw new DriftlessError(
      'InvalidSpec',
      `next is not a page token of application ${app.metadata.name} (or its destination is gone): start again without it`,
      { field: 'next' },
    );
  }
  return { index, offset: value.offset as number };
}

function resourcePageSize(req: ApiRequest): number {
  const raw = req.query?.resources;
  if (raw === undefined || raw === '') return DEFAULT_RESOURCE_PAGE;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_RESOURCE_PAGE) {
    throw new DriftlessError(
      'InvalidSpec',
      `resources must be a whole number from 1 to ${MAX_RESOURCE_PAGE}, got "${raw}"`,
      { field: 'resources' },
    );
  }
  return n;
}

/**
 * A page of an app's resources across its targets in destination order, at
 * most `resources` of them and MAX_RESOURCE_PAGE_BYTES of JSON (at least one,
 * so paging always moves on).
 */
async function getApp(deps: ApiDeps, req: ApiRequest, [name]: string[]): Promise<ApiResponse> {
  const app = await requireApp(deps, name as string);
  await authorizeApp(deps, req, app, 'get');
  const size = resourcePageSize(req);
  const clusters = app.spec.destinations.map((d) => d.cluster);
  const start = req.query?.next ? decodeCursor(req.query.next, app) : { index: 0, offset: 0 };
  const first = !req.query?.next;
  const read = (cluster: string) =>
    deps.catalog.getTargetStatus({ app: app.metadata.name, cluster });
  // The first page summarizes every target, so it reads every status once.
  const statuses = first ? await Promise.all(clusters.map(read)) : [];
  const targets: TargetDetail[] = [];
  let count = 0;
  let bytes = 0;
  let next: ResourceCursor | undefined;
  for (let i = start.index; i < clusters.length; i++) {
    const cluster = clusters[i] as string;
    const s = first ? statuses[i] : await read(cluster);
    const all = s?.resources ?? [];
    const resources: ResourceStatus[] = [];
    let at = i === start.index ? start.offset : 0;
    for (; at < all.length; at++) {
      const r = all[at] as ResourceStatus;
      const weight = JSON.stringify(r).length;
      if (count > 0 && (count >= size || bytes + weight > MAX_RESOURCE_PAGE_BYTES)) break;
      resources.push(r);
      count++;
      bytes += weight;
    }
    targets.push({ ...summary(cluster, s), resources });
    if (at < all.length) {
      next = { cluster, offset: at };
      break;
    }
  }
  if (first) {
    // Targets past where this page stopped: listed, their resources on later pages.
    for (let i = targets.length; i < clusters.length; i++) {
      targets.push({ ...summary(clusters[i] as string, statuses[i]), resources: [] });
    }
  }
  return {
    status: 200,
    body: {
      app,
      targets,
      ...(next ? { next: encodeCursor(next) } : {}),
    } satisfies AppDetailResponse,
  };
}

function flag(req: ApiRequest, name: string): boolean {
  const v = req.query?.[name];
  if (v === undefined || v === 'false') return false;
  if (v === 'true' || v === '') return true;
  throw new DriftlessError('InvalidSpec', `${name} must be true or false, got "${v}"`, {
    field: name,
  });
}

/** Objects Driftless applied on a target, by its inventory. */
async function inventorySize(deps: ApiDeps, app: string, cluster: string): Promise<number> {
  return (await deps.catalog.getTargetStatus({ app, cluster }))?.inventory.length ?? 0;
}

/** The cascade jobs: the worker prunes (the API holds no cluster credentials for writes). */
async function enqueueCascades(
  deps: ApiDeps,
  app: string,
  targets: { cluster: string; operationId: string }[],
  now: string,
): Promise<void> {
  if (!targets.length) return;
  await deps.queue.enqueue(
    targets.map(({ cluster, operationId }) => ({
      dedupId: `delete:${operationId}`,
      job: { app, cluster, trigger: 'delete' as const, deliveryId: operationId, enqueuedAt: now },
    })),
  );
}

async function putApp(deps: ApiDeps, req: ApiRequest, [name]: string[]): Promise<ApiResponse> {
  const app = parseApplication(jsonBody(req));
  const cascade = flag(req, 'cascade');
  if (app.metadata.name !== name) {
    return error(
      400,
      'InvalidSpec',
      `metadata.name ${app.metadata.name} does not match the path (${name})`,
      {
        field: 'metadata.name',
      },
    );
  }
  const previous = await deps.catalog.getApplication(name as string);
  // Create in the new project; an update also needs update on the project it was in.
  const project = await projectNamed(deps, app.spec.project);
  const caller = callerFor(deps, req);
  if (previous) {
    authorize(caller, 'update', await projectNamed(deps, previous.spec.project), name);
    if (previous.spec.project !== app.spec.project) authorize(caller, 'create', project, name);
  } else {
    authorize(caller, 'create', project, name);
  }
  // The project's limits: an app's own policy can narrow them, never widen them.
  const refused =
    appSourcesRefusal(project, app.spec) ??
    app.spec.destinations
      .map((d) => destinationRefusal(project, d.cluster, d.namespace))
      .find((r) => r !== undefined);
  if (refused) return error(403, 'AccessDenied', refused.message, { field: refused.field });
  if (cascade && flag(req, 'prune')) authorizePruneOverride(deps, req, app, project);
  const stored = new Map((previous?.spec.destinations ?? []).map((d) => [d.cluster, d]));
  for (const [i, d] of app.spec.destinations.entries()) {
    const was = stored.get(d.cluster)?.deleting;
    if (d.deleting && !was) {
      return error(
        400,
        'InvalidSpec',
        `deleting is set by Driftless: remove the destination with ?cascade=true instead`,
        { field: `spec.destinations[${i}].deleting` },
      );
    }
    if (was && !d.deleting) {
      return error(
        409,
        'Conflict',
        `destination ${d.cluster} is being deleted (cascade asked for at ${was.requestedAt}): add it again once its objects are pruned`,
        { field: `spec.destinations[${i}].cluster` },
      );
    }
    if (was) d.deleting = was; // a round trip of GET /apps/NAME keeps the cascade as it is
    if (!(await deps.catalog.getCluster(d.cluster))) {
      return error(400, 'InvalidSpec', `destination cluster ${d.cluster} is not registered`, {
        field: `spec.destinations[${i}].cluster`,
      });
    }
  }
  // Destinations this update removes: pruned by the worker with cascade (kept
  // listed as deleting until then, so the target keeps its inventory), else
  // forgotten with their objects left in the cluster.
  const now = new Date((deps.clock ?? systemClock).now()).toISOString();
  const removed: RemovedDestination[] = [];
  const jobs: { cluster: string; operationId: string }[] = [];
  for (const [cluster, was] of stored) {
    if (app.spec.destinations.some((d) => d.cluster === cluster)) continue;
    const objects = await inventorySize(deps, name as string, cluster);
    if (was.deleting || cascade) {
      app.spec.destinations.push({
        ...was,
        deleting: was.deleting ?? { requestedAt: now, allowPrune: flag(req, 'prune') },
      });
      const operationId = was.deleting ? undefined : randomUUID();
      if (operationId) jobs.push({ cluster, operationId });
      removed.push({ cluster, cascade: true, objects, operationId });
    } else {
      removed.push({ cluster, cascade: false, objects });
    }
  }
  await deps.catalog.putApplication(app);
  await recordEvent(deps, req, name as string, previous ? 'update' : 'create');
  await enqueueCascades(deps, name as string, jobs, now);
  return {
    status: previous ? 200 : 201,
    body: { app, ...(removed.length ? { removed } : {}) } satisfies AppPutResponse,
  };
}

async function deleteApp(deps: ApiDeps, req: ApiRequest, [name]: string[]): Promise<ApiResponse> {
  const app = await requireApp(deps, name as string);
  const project = await authorizeApp(deps, req, app, 'delete');
  if (flag(req, 'cascade') && flag(req, 'prune')) authorizePruneOverride(deps, req, app, project);
  if (!flag(req, 'cascade')) {
    // Orphaned: the objects stay in the cluster as they are.
    await deps.catalog.deleteApplication(name as string);
    await recordEvent(deps, req, name as string, 'delete');
    return { status: 204, body: null };
  }
  // Cascade: every destination is marked deleting and gets a job; the worker
  // prunes it and forgets it, and the app goes with its last destination.
  const now = new Date((deps.clock ?? systemClock).now()).toISOString();
  const allowPrune = flag(req, 'prune');
  const targets: RemovedDestination[] = [];
  for (const d of app.spec.destinations) {
    d.deleting = {
      requestedAt: d.deleting?.requestedAt ?? now,
      allowPrune: allowPrune || d.deleting?.allowPrune === true,
    };
    targets.push({
      cluster: d.cluster,
      cascade: true,
      objects: await inventorySize(deps, app.metadata.name, d.cluster),
      operationId: randomUUID(),
    });
  }
  await deps.catalog.putApplication(app);
  await recordEvent(deps, req, app.metadata.name, 'delete');
  await enqueueCascades(
    deps,
    app.metadata.name,
    targets.map((t) => ({ cluster: t.cluster, operationId: t.operationId as string })),
    now,
  );
  return {
    status: 202,
    body: { app: app.metadata.name, cascade: true, targets } satisfies AppDeleteResponse,
  };
}

async function history(deps: ApiDeps, req: ApiRequest, [name]: string[]): Promise<ApiResponse> {
  const app = await requireApp(deps, name as string);
  await authorizeApp(deps, req, app, 'get');
  const limit = limitOf(req);
  const targets = await mapBounded(
    clustersOf(app, req),
    TARGET_READ_CONCURRENCY,
    async (cluster) => ({
      cluster,
      operations: await deps.catalog.listHistory({ app: app.metadata.name, cluster }, limit, {
        succeeded: req.query?.succeeded === 'true',
      }),
    }),
  );
  const events = await deps.catalog.listEvents(app.metadata.name, limit);
  return {
    status: 200,
    body: { app: app.metadata.name, targets, events } satisfies HistoryResponse,
  };
}

async function diff(deps: ApiDeps, req: ApiRequest, [name]: string[]): Promise<ApiResponse> {
  const app = await requireApp(deps, name as string);
  await authorizeApp(deps, req, app, 'get');
  if (!deps.engine) return error(501, 'NotImplemented', 'diff previews are not configured');
  const engine = deps.engine;
  const targets = await mapBounded(
    clustersOf(app, req),
    PREVIEW_CONCURRENCY,
    async (cluster): Promise<DiffResponse['targets'][number]> => {
      const outcome = await reconcile(
        { ...engine, store: deps.catalog },
        {
          target: { app: app.metadata.name, cluster },
          trigger: 'manual',
          preview: true,
          revision: req.query?.revision,
        },
        { withDiff: true, holder: `preview-${randomUUID()}` },
      );
      return {
        cluster,
        sync: outcome.error ? 'Unknown' : outcome.status.sync,
        revision: outcome.status.wantedRevision,
        error: outcome.error && errorBody(outcome.error),
        objects: (outcome.drift ?? [])
          .filter((o) => o.state !== 'Synced')
          .map((o) => ({ key: o.key, state: o.state, reason: o.reason, diff: o.diff })),
      };
    },
  );
  return { status: 200, body: { app: app.metadata.name, targets } satisfies DiffResponse };
}

async function sync(deps: ApiDeps, req: ApiRequest, [name]: string[]): Promise<ApiResponse> {
  const app = await requireApp(deps, name as string);
  const body = jsonBody(req) as { [K in keyof SyncRequest]?: unknown };
  const project = await authorizeApp(
    deps,
    req,
    app,
    'sync',
    ...(body.revision !== undefined ? (['rollback'] as const) : []),
  );
  if (body.prune === true) authorizePruneOverride(deps, req, app, project);
  if (
    body.revision !== undefined &&
    (typeof body.revision !== 'string' || !/^[\w./-]{1,200}$/.test(body.revision))
  ) {
    return error(400, 'InvalidSpec', 'revision must be a branch, tag or commit SHA', {
      field: 'revision',
    });
  }
  if (body.cluster !== undefined && typeof body.cluster !== 'string') {
    return error(400, 'InvalidSpec', 'cluster must be a string', { field: 'cluster' });
  }
  if (body.revision !== undefined && app.spec.syncPolicy.automated && !app.spec.suspended) {
    return error(
      409,
      'Conflict',
      `application ${app.metadata.name} syncs automatically: the next sync would undo a sync to ${body.revision}. ` +
        `Suspend it first (POST /apps/${app.metadata.name}/suspend), then resume when Git has caught up.`,
    );
  }
  const clusters = clustersOf(app, {
    ...req,
    query: { ...req.query, cluster: body.cluster as string | undefined },
  });
  const now = new Date((deps.clock ?? systemClock).now()).toISOString();
  const revision = body.revision as string | undefined;
  const operations = clusters.map((cluster) => ({ cluster, operationId: randomUUID() }));
  await deps.queue.enqueue(
    operations.map(({ cluster, operationId }) => ({
      dedupId: `sync:${operationId}`,
      job: {
        app: app.metadata.name,
        cluster,
        trigger: revision ? ('rollback' as const) : ('manual' as const),
        revision,
        allowPrune: body.prune === true,
        deliveryId: operationId,
        ...(req.principal ? { initiator: req.principal } : {}),
        enqueuedAt: now,
      },
    })),
  );
  return {
    status: 202,
    body: { app: app.metadata.name, revision, operations } satisfies SyncResponse,
  };
}

/**
 * Ends the running operation of each target (or of ?cluster=): the request is
 * recorded on the target, and a job wakes the operation so it stops at its
 * next step, runs its SyncFail hooks and ends Failed (reason Terminated).
 */
async function terminate(deps: ApiDeps, req: ApiRequest, [name]: string[]): Promise<ApiResponse> {
  const app = await requireApp(deps, name as string);
  await authorizeApp(deps, req, app, 'terminate');
  const clock = deps.clock ?? systemClock;
  const by = req.principal ?? 'unknown';
  const terminated: TerminateResponse['terminated'] = [];
  const idle: string[] = [];
  for (const cluster of clustersOf(app, req)) {
    const target = { app: app.metadata.name, cluster };
    const op = (await deps.catalog.getTargetStatus(target))?.operation;
    if (op?.phase !== 'Running') {
      idle.push(cluster);
      continue;
    }
    await deps.catalog.requestTermination(target, { operationId: op.id, by, at: clock.now() });
    await recordEvent(deps, req, app.metadata.name, 'terminate', [cluster]);
    terminated.push({ cluster, operationId: op.id });
  }
  if (!terminated.length) {
    return error(
      409,
      'Conflict',
      `no operation of ${app.metadata.name} is running on ${idle.join(', ') || 'any cluster'}`,
    );
  }
  const now = new Date(clock.now()).toISOString();
  await deps.queue.enqueue(
    terminated.map(({ cluster, operationId }) => ({
      dedupId: `terminate:${operationId}`,
      job: {
        app: app.metadata.name,
        cluster,
        trigger: 'health-check' as const,
        operationId,
        initiator: by,
        enqueuedAt: now,
      },
    })),
  );
  return {
    status: 202,
    body: { app: app.metadata.name, terminated, notRunning: idle } satisfies TerminateResponse,
  };
}

async function suspendResume(
  deps: ApiDeps,
  req: ApiRequest,
  [name, verb]: string[],
): Promise<ApiResponse> {
  const app = await requireApp(deps, name as string);
  await authorizeApp(deps, req, app, verb === 'suspend' ? 'suspend' : 'resume');
  app.spec.suspended = verb === 'suspend';
  await deps.catalog.putApplication(app);
  await recordEvent(deps, req, app.metadata.name, verb === 'suspend' ? 'suspend' : 'resume');
  return {
    status: 200,
    body: { app: app.metadata.name, suspended: app.spec.suspended } satisfies SuspendResponse,
  };
}

async function listClusters(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  const page = await deps.catalog.listClusters(limitOf(req), req.query?.next);
  const guard = deps.guard;
  const guards = guard
    ? Object.fromEntries(
        await mapBounded(page.items, GUARD_READ_CONCURRENCY, async (c) => [
          c.metadata.name,
          await guard.state(c.metadata.name, c.spec.concurrency),
        ]),
      )
    : undefined;
  const sweeps: Record<string, ClusterSweepRecord> = {};
  await mapBounded(page.items, GUARD_READ_CONCURRENCY, async (c) => {
    const record = await deps.catalog.getClusterSweepRecord(c.metadata.name);
    if (record) sweeps[c.metadata.name] = record;
  });
  return {
    status: 200,
    body: {
      items: page.items,
      next: page.next,
      ...(guards ? { guards } : {}),
      sweeps,
    } satisfies ClusterListResponse,
  };
}

async function getCluster(deps: ApiDeps, _req: ApiRequest, [name]: string[]): Promise<ApiResponse> {
  const cluster = await deps.catalog.getCluster(name as string);
  if (!cluster) return error(404, 'NotFound', `cluster ${name} is not registered`);
  const [guard, sweep] = await Promise.all([
    deps.guard?.state(cluster.metadata.name, cluster.spec.concurrency),
    deps.catalog.getClusterSweepRecord(cluster.metadata.name),
  ]);
  return {
    status: 200,
    body: {
      cluster,
      ...(guard ? { guard } : {}),
      ...(sweep ? { sweep } : {}),
    } satisfies ClusterResponse,
  };
}

async function putCluster(deps: ApiDeps, req: ApiRequest, [name]: string[]): Promise<ApiResponse> {
  authorizeAdmin(callerFor(deps, req), 'clusters:write');
  const cluster = parseCluster(jsonBody(req));
  if (cluster.metadata.name !== name) {
    return error(
      400,
      'InvalidSpec',
      `metadata.name ${cluster.metadata.name} does not match the path (${name})`,
      {
        field: 'metadata.name',
      },
    );
  }
  const existed = !!(await deps.catalog.getCluster(name as string));
  await deps.catalog.putCluster(cluster);
  return { status: existed ? 200 : 201, body: { cluster } satisfies ClusterResponse };
}

async function deleteCluster(
  deps: ApiDeps,
  req: ApiRequest,
  [name]: string[],
): Promise<ApiResponse> {
  authorizeAdmin(callerFor(deps, req), 'clusters:write');
  if (!(await deps.catalog.getCluster(name as string)))
    return error(404, 'NotFound', `cluster ${name} is not registered`);
  let next: string | undefined;
  do {
    const page = await deps.catalog.listApplications(100, next);
    const user = page.items.find((a) => a.spec.destinations.some((d) => d.cluster === name));
    if (user) {
      return error(
        409,
        'Conflict',
        `cluster ${name} is a destination of application ${user.metadata.name}`,
      );
    }
    next = page.next;
  } while (next);
  await deps.catalog.deleteCluster(name as string);
  return { status: 204, body: null };
}

async function listRepositories(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  authorizeAdmin(callerFor(deps, req), 'repositories:write');
  const page = await deps.catalog.listRepositories(limitOf(req), req.query?.next);
  return {
    status: 200,
    body: { items: page.items, next: page.next } satisfies RepositoryListResponse,
  };
}

async function getRepository(
  deps: ApiDeps,
  req: ApiRequest,
  [name]: string[],
): Promise<ApiResponse> {
  authorizeAdmin(callerFor(deps, req), 'repositories:write');
  const repository = await deps.catalog.getRepository(name as string);
  if (!repository) return error(404, 'NotFound', `repository ${name} is not registered`);
  return { status: 200, body: { repository } satisfies RepositoryResponse };
}

async function putRepository(
  deps: ApiDeps,
  req: ApiRequest,
  [name]: string[],
): Promise<ApiResponse> {
  authorizeAdmin(callerFor(deps, req), 'repositories:write');
  const repository = parseRepository(jsonBody(req));
  if (repository.metadata.name !== name) {
    return error(
      400,
      'InvalidSpec',
      `metadata.name ${repository.metadata.name} does not match the path (${name})`,
      { field: 'metadata.name' },
    );
  }
  const existed = !!(await deps.catalog.getRepository(name as string));
  await deps.catalog.putRepository(repository);
  return { status: existed ? 200 : 201, body: { repository } satisfies RepositoryResponse };
}

async function deleteRepository(
  deps: ApiDeps,
  req: ApiRequest,
  [name]: string[],
): Promise<ApiResponse> {
  authorizeAdmin(callerFor(deps, req), 'repositories:write');
  if (!(await deps.catalog.getRepository(name as string)))
    return error(404, 'NotFound', `repository ${name} is not registered`);
  await deps.catalog.deleteRepository(name as string);
  return { status: 204, body: null };
}

const NO_DEAD_LETTERS = (): ApiResponse =>
  error(
    501,
    'NotImplemented',
    'no dead-letter queue is configured for this API (DRIFTLESS_DLQ_URL)',
  );

function batchSize(value: unknown, field: string): number {
  if (value === undefined) return DEFAULT_DEAD_LETTER_BATCH;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_DEAD_LETTER_BATCH) {
    throw new DriftlessError(
      'InvalidSpec',
      `${field} must be a whole number from 1 to ${MAX_DEAD_LETTER_BATCH}, got ${JSON.stringify(value)}`,
      { field },
    );
  }
  return n;
}

async function listDeadLetters(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  authorizeAdmin(callerFor(deps, req), 'deadletters');
  if (!deps.deadLetters) return NO_DEAD_LETTERS();
  const items = await deps.deadLetters.list(batchSize(req.query?.limit, 'limit'));
  return { status: 200, body: { items } satisfies DeadLetterListResponse };
}

async function redriveDeadLetters(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  authorizeAdmin(callerFor(deps, req), 'deadletters');
  const queue = deps.deadLetters;
  if (!queue) return NO_DEAD_LETTERS();
  const body = jsonBody(req) as { [K in keyof RedriveRequest]?: unknown };
  if (body.dryRun !== undefined && typeof body.dryRun !== 'boolean') {
    throw new DriftlessError('InvalidSpec', 'dryRun must be true or false', { field: 'dryRun' });
  }
  const dryRun = body.dryRun === true;
  const result = await queue.redrive({ max: batchSize(body.max, 'max'), dryRun });
  return { status: 200, body: { dryRun, ...result } satisfies RedriveResponse };
}

/** Projects an admin lists all of; anyone else, those a role of theirs is in. */
async function listProjects(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  const caller = callerFor(deps, req);
  const page = await deps.catalog.listProjects(limitOf(req), req.query?.next);
  const items = page.items.filter((p) => canSee(caller, p));
  return { status: 200, body: { items, next: page.next } satisfies ProjectListResponse };
}

async function getProject(deps: ApiDeps, req: ApiRequest, [name]: string[]): Promise<ApiResponse> {
  const project = await projectNamed(deps, name as string);
  const caller = callerFor(deps, req);
  if (!canSee(caller, project)) authorizeAdmin(caller, 'projects:write');
  return { status: 200, body: { project } satisfies ProjectResponse };
}

async function putProject(deps: ApiDeps, req: ApiRequest, [name]: string[]): Promise<ApiResponse> {
  authorizeAdmin(callerFor(deps, req), 'projects:write');
  const parsed = ProjectSchema.safeParse(jsonBody(req));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.') || undefined;
    return error(
      400,
      'InvalidSpec',
      `Project: ${field ?? 'body'}: ${issue?.message ?? 'invalid'}`,
      {
        field,
      },
    );
  }
  const project = parsed.data;
  if (project.metadata.name !== name) {
    return error(
      400,
      'InvalidSpec',
      `metadata.name ${project.metadata.name} does not match the path (${name})`,
      {
        field: 'metadata.name',
      },
    );
  }
  const existed = !!(await deps.catalog.getProject(name as string));
  await deps.catalog.putProject(project);
  return { status: existed ? 200 : 201, body: { project } satisfies ProjectResponse };
}

async function deleteProject(
  deps: ApiDeps,
  req: ApiRequest,
  [name]: string[],
): Promise<ApiResponse> {
  authorizeAdmin(callerFor(deps, req), 'projects:write');
  await deps.catalog.deleteProject(name as string);
  return { status: 204, body: null };
}
