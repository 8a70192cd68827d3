// Embedded Store for local mode and tests, with the contract of the DynamoDB
// catalog (lib/aws/catalog/): one slot per target holds what the DynamoDB
// target record holds — the routing record, the lease (lib/local/lease.ts
// shares it, as the DynamoDB lease shares the record item), the fence, the
// tombstone of a deleted target. A status or history write is rejected with
// LeaseLost exactly when the DynamoDB condition fails (fence.ts): a newer
// lease was taken, a newer token has written, or the target is a tombstone.

import { z } from 'zod';
import { DriftlessError } from '../errors.js';
import { type Application, type Cluster, type Repository, specHash } from '../model/application.js';
import type { Project } from '../model/project.js';
import {
  byNewest,
  collapseRepeat,
  type ObservedState,
  type OperationResult,
  type TargetStatus,
} from '../model/status.js';
import { normalizeRepoURL, type TargetId, targetKey } from '../model/target.js';
import {
  type AppEvent,
  type Catalog,
  type ClusterSweepRecord,
  DEFAULT_HISTORY_LIMIT,
  DEFAULT_PAGE_SIZE,
  type Page,
  type SweepTarget,
  summaryOf,
  type TargetRecord,
  type TerminationRequest,
} from '../ports/store.js';

/** Page sizes a caller may ask for (the DynamoDB catalog's MAX_PAGE_SIZE). */
const MAX_PAGE_SIZE = 1000;

/** Everything kept per target; `record` is absent for a bare slot (lease only) and a tombstone. */
export interface TargetSlot {
  record?: TargetRecord;
  /** Set when the target was deleted: writes are fenced out until it is registered again. */
  tombstone: boolean;
  leaseHolder?: string;
  /** Highest token ever handed out on the target (kept across release and deletion). */
  leaseToken?: number;
  leaseExpiresAt?: number;
  /** Highest token that has written a status or history entry. */
  fence?: number;
  status?: TargetStatus;
  /** The last check's view, for the cluster's sweep (putObserved). */
  observed?: ObservedState;
  /** History, newest first: successful syncs and everything else, bounded apart. */
  succeeded: OperationResult[];
  history: OperationResult[];
}

export interface MemoryStoreOptions {
  /** Most history entries kept per target (default DEFAULT_HISTORY_LIMIT). */
  historyLimit?: number;
}

export class MemoryStore implements Catalog {
  private readonly apps = new Map<string, Application>();
  private readonly clusters = new Map<string, Cluster>();
  private readonly projects = new Map<string, Project>();
  private readonly events = new Map<string, AppEvent[]>();
  private readonly repositories = new Map<string, Repository>();
  private readonly slots = new Map<string, TargetSlot>();
  private readonly sweepRecords = new Map<string, ClusterSweepRecord>();
  private readonly historyLimit: number;

  constructor(opts: MemoryStoreOptions = {}) {
    this.historyLimit = opts.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  }

  /** The target's slot, created bare when asked to (as an UpdateItem creates an item). For MemoryLeaseManager. */
  slot(target: TargetId, create: true): TargetSlot;
  slot(target: TargetId, create?: false): TargetSlot | undefined;
  slot(target: TargetId, create = false): TargetSlot | undefined {
    const key = targetKey(target);
    let s = this.slots.get(key);
    if (!s && create) {
      s = { tombstone: false, succeeded: [], history: [] };
      this.slots.set(key, s);
    }
    return s;
  }

  async putApplication(app: Application): Promise<void> {
    const name = app.metadata.name;
    const previous = this.apps.get(name);
    this.apps.set(name, structuredClone(app));
    const clusters = new Set(app.spec.destinations.map((d) => d.cluster));
    for (const cluster of clusters) {
      const s = this.slot({ app: name, cluster }, true);
      const old = s.record;
      s.tombstone = false;
      s.record = {
        app: name,
        cluster,
        repoURL: app.spec.source.repoURL,
        revision: app.spec.source.revision,
        suspended: app.spec.suspended,
        intervalMs: app.spec.syncPolicy.interval,
        ...(old?.wantedRevision !== undefined ? { wantedRevision: old.wantedRevision } : {}),
        ...(old?.wantedAt !== undefined ? { wantedAt: old.wantedAt } : {}),
        ...(s.status ? { summary: summaryOf(s.status) } : {}),
      };
    }
    for (const d of previous?.spec.destinations ?? []) {
      if (!clusters.has(d.cluster)) this.deleteTarget({ app: name, cluster: d.cluster });
    }
  }

  async deleteApplication(name: string): Promise<void> {
    const app = this.apps.get(name);
    if (!app) return;
    for (const d of app.spec.destinations) this.deleteTarget({ app: name, cluster: d.cluster });
    this.apps.delete(name);
  }

  /** The record becomes a tombstone (lease and fence kept); status and history go. */
  private deleteTarget(target: TargetId): void {
    const s = this.slot(target);
    if (!s) return;
    s.tombstone = true;
    s.record = undefined;
    s.status = undefined;
    s.observed = undefined;
    s.succeeded = [];
    s.history = [];
  }

  async listApplications(limit = DEFAULT_PAGE_SIZE, next?: string): Promise<Page<Application>> {
    return page([...this.apps.values()], limit, next);
  }

  async deleteCluster(name: string): Promise<void> {
    this.clusters.delete(name);
  }

  async appendEvent(app: string, event: AppEvent): Promise<void> {
    const list = this.events.get(app) ?? [];
    list.unshift(structuredClone(event));
    this.events.set(app, list.slice(0, this.historyLimit));
  }

  async listEvents(app: string, limit = DEFAULT_PAGE_SIZE): Promise<AppEvent[]> {
    return structuredClone((this.events.get(app) ?? []).slice(0, limit));
  }

  async putProject(project: Project): Promise<void> {
    this.projects.set(project.metadata.name, structuredClone(project));
  }

  async deleteProject(name: string): Promise<void> {
    this.projects.delete(name);
  }

  async getProject(name: string): Promise<Project | undefined> {
    const p = this.projects.get(name);
    return p && structuredClone(p);
  }

  async listProjects(limit = DEFAULT_PAGE_SIZE, next?: string): Promise<Page<Project>> {
    return page([...this.projects.values()], limit, next);
  }

  async listClusters(limit = DEFAULT_PAGE_SIZE, next?: string): Promise<Page<Cluster>> {
    return page([...this.clusters.values()], limit, next);
  }

  async putRepository(repository: Repository): Promise<void> {
    this.repositories.set(repository.metadata.name, structuredClone(repository));
  }

  async getRepository(name: string): Promise<Repository | undefined> {
    const r = this.repositories.get(name);
    return r && structuredClone(r);
  }

  async deleteRepository(name: string): Promise<void> {
    this.repositories.delete(name);
  }

  async listRepositories(limit = DEFAULT_PAGE_SIZE, next?: string): Promise<Page<Repository>> {
    return page([...this.repositories.values()], limit, next);
  }

  private records(): TargetRecord[] {
    return [...this.slots.values()].flatMap((s) => (s.record ? [s.record] : []));
  }

  async targetsForRepo(repoURL: string): Promise<TargetRecord[]> {
    const want = normalizeRepoURL(repoURL);
    return this.records()
      .filter((r) => normalizeRepoURL(r.repoURL) === want)
      .map((r) => structuredClone(r));
  }

  async clusterSweepState(
    cluster: string,
  ): Promise<{ targets: SweepTarget[]; record?: ClusterSweepRecord }> {
    const targets: SweepTarget[] = [];
    for (const s of this.slots.values()) {
      const r = s.record;
      if (!r || r.cluster !== cluster) continue;
      const app = this.apps.get(r.app);
      if (!app) continue;
      targets.push({
        app: r.app,
        cluster,
        specHash: specHash(app),
        intervalMs: r.intervalMs,
        suspended: r.suspended,
        source: structuredClone(app.spec.source),
        ...(app.spec.sources ? { sources: structuredClone(app.spec.sources) } : {}),
        ...(s.observed ? { observed: structuredClone(s.observed) } : {}),
      });
    }
    const record = this.sweepRecords.get(cluster);
    return { targets, ...(record ? { record: structuredClone(record) } : {}) };
  }

  async putClusterSweepRecord(record: ClusterSweepRecord): Promise<void> {
    this.sweepRecords.set(record.cluster, structuredClone(record));
  }

  async getClusterSweepRecord(cluster: string): Promise<ClusterSweepRecord | undefined> {
    const r = this.sweepRecords.get(cluster);
    return r && structuredClone(r);
  }

  async putObserved(target: TargetId, observed: ObservedState): Promise<void> {
    const s = this.slot(target);
    if (s?.record) s.observed = structuredClone(observed);
  }

  async recordWantedRevision(target: TargetId, commit: string, at: number): Promise<void> {
    const r = this.slot(target)?.record;
    if (r && (r.wantedAt ?? 0) <= at) {
      r.wantedRevision = commit;
      r.wantedAt = at;
    }
  }

  async getTargetRecord(target: TargetId): Promise<TargetRecord | undefined> {
    const r = this.slot(target)?.record;
    return r && structuredClone(r);
  }

  async setRecheckToken(target: TargetId, token: string): Promise<void> {
    const r = this.slot(target)?.record;
    if (r) r.recheckToken = token;
  }

  async requestTermination(target: TargetId, request: TerminationRequest): Promise<void> {
    const r = this.slot(target)?.record;
    if (r) r.termination = { ...request };
  }

  async getApplication(name: string): Promise<Application | undefined> {
    const app = this.apps.get(name);
    return app && structuredClone(app);
  }

  async putCluster(cluster: Cluster): Promise<void> {
    this.clusters.set(cluster.metadata.name, structuredClone(cluster));
  }

  async getCluster(name: string): Promise<Cluster | undefined> {
    const c = this.clusters.get(name);
    return c && structuredClone(c);
  }

  async getTargetStatus(target: TargetId): Promise<TargetStatus | undefined> {
    const s = this.slot(target)?.status;
    return s && structuredClone(s);
  }

  /** The DynamoDB fence (lib/aws/catalog/fence.ts): checks, then raises the fence to `token`. */
  private fence(target: TargetId, token: number, what: 'status' | 'history'): TargetSlot {
    const key = targetKey(target);
    const s = this.slot(target, true);
    if (s.tombstone) {
      throw new DriftlessError(
        'LeaseLost',
        `${what} write for ${key} rejected: the target was deleted while it was being reconciled`,
      );
    }
    const leaseToken = s.leaseToken ?? 0;
    const written = s.fence ?? 0;
    if (token < leaseToken || token < written) {
      const why =
        leaseToken > token
          ? `a newer lease (token ${leaseToken}) was taken`
          : `token ${written} has written since`;
      throw new DriftlessError(
        'LeaseLost',
        `${what} write for ${key} rejected: fencing token ${token} is stale, ${why}`,
      );
    }
    s.fence = token;
    return s;
  }

  async putTargetStatus(status: TargetStatus, fencingToken: number): Promise<void> {
    const s = this.fence(status, fencingToken, 'status');
    s.status = structuredClone(status);
    if (s.record) s.record.summary = summaryOf(status);
  }

  async appendHistory(
    target: TargetId,
    entry: OperationResult,
    fencingToken: number,
  ): Promise<void> {
    const s = this.fence(target, fencingToken, 'history');
    if (entry.phase === 'Succeeded') {
      s.succeeded.unshift(structuredClone(entry));
      s.succeeded.splice(this.historyLimit);
      return;
    }
    // A failure repeating the newest entry replaces it, with a count.
    const repeat = collapseRepeat(s.history[0], entry);
    if (repeat) s.history[0] = structuredClone(repeat);
    else {
      s.history.unshift(structuredClone(entry));
      s.history.splice(this.historyLimit);
    }
  }

  async listHistory(
    target: TargetId,
    limit = this.historyLimit,
    filter: { succeeded?: boolean } = {},
  ): Promise<OperationResult[]> {
    const want = Math.max(0, Math.min(Math.floor(limit), this.historyLimit));
    const s = this.slot(target);
    if (!s) return [];
    const all = filter.succeeded ? s.succeeded : [...s.succeeded, ...s.history].sort(byNewest);
    return structuredClone(all.slice(0, want));
  }
}

function pageSize(limit: number): number {
  if (!Number.isFinite(limit) || limit < 1) {
    throw new DriftlessError('InvalidSpec', `page limit must be at least 1, got ${limit}`, {
      field: 'limit',
    });
  }
  return Math.min(Math.floor(limit), MAX_PAGE_SIZE);
}

function _parseCursor(text: string): [number, string] {
  const parsed = z.tuple([z.number(), z.string()]).safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new DriftlessError('InvalidSpec', 'next is not a page token this listing issued', {
      field: 'next',
    });
  }
  return parsed.data;
}

const TokenSchema = z.object({ after: z.string().min(1) }).strict();

/** Opaque page tokens (the name or key of the last item), as the DynamoDB catalog's are. */
function encodeToken(after: string): string {
  return Buffer.from(JSON.stringify({ after })).toString('base64url');
}

function decodeToken(token: string): string {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const parsed = TokenSchema.safeParse(value);
  if (!parsed.success) {
    throw new DriftlessError('InvalidSpec', 'next is not a page token this listing issued', {
      field: 'next',
    });
  }
  return parsed.data.after;
}

/** Keyset pagination by name: a page starts after the last name of the one before. */
function page<T extends { metadata: { name: string } }>(
  all: T[],
  limit: number,
  next?: string,
): Page<T> {
  const size = pageSize(limit);
  const after = next ? decodeToken(next) : undefined;
  const sorted = all
    .filter((i) => after === undefined || i.metadata.name > after)
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  const items = sorted.slice(0, size).map((i) => structuredClone(i));
  const last = items.at(-1);
  return sorted.length > size && last
    ? { items, next: encodeToken(last.metadata.name) }
    : { items };
}
