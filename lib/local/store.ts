// Embedded Store for local mode and tests: the same contract as the DynamoDB
// store, fencing included (a write with an older lease's token is rejected).

import { DriftlessError } from '../errors.js';
import type { Application, Cluster } from '../model/application.js';
import {
  byNewest,
  collapseRepeat,
  type OperationResult,
  type TargetStatus,
} from '../model/status.js';
import { normalizeRepoURL, type TargetId, targetKey } from '../model/target.js';
import {
  type Catalog,
  DEFAULT_HISTORY_LIMIT,
  DEFAULT_PAGE_SIZE,
  type Page,
  type TargetRecord,
  type TerminationRequest,
} from '../ports/store.js';

export class MemoryStore implements Catalog {
  private readonly apps = new Map<string, Application>();
  private readonly clusters = new Map<string, Cluster>();
  private readonly statuses = new Map<string, TargetStatus>();
  /** Per target: successful syncs and everything else, bounded apart, newest first. */
  private readonly history = new Map<
    string,
    { succeeded: OperationResult[]; other: OperationResult[] }
  >();
  /** Highest fencing token that has written, per target. */
  private readonly fences = new Map<string, number>();
  private readonly records = new Map<string, TargetRecord>();

  constructor(private readonly historyLimit = DEFAULT_HISTORY_LIMIT) {}

  async putApplication(app: Application): Promise<void> {
    const name = app.metadata.name;
    this.apps.set(name, structuredClone(app));
    const clusters = new Set(app.spec.destinations.map((d) => d.cluster));
    for (const [key, r] of this.records) {
      if (r.app === name && !clusters.has(r.cluster)) this.records.delete(key);
    }
    for (const cluster of clusters) {
      const key = targetKey({ app: name, cluster });
      const old = this.records.get(key);
      this.records.set(key, {
        app: name,
        cluster,
        repoURL: app.spec.source.repoURL,
        revision: app.spec.source.revision,
        suspended: app.spec.suspended,
        intervalMs: app.spec.syncPolicy.interval,
        nextDueAt: old?.nextDueAt ?? 0,
        wantedRevision: old?.wantedRevision,
        wantedAt: old?.wantedAt,
      });
    }
  }

  async deleteApplication(name: string): Promise<void> {
    this.apps.delete(name);
    for (const [key, r] of this.records) if (r.app === name) this.records.delete(key);
  }

  async listApplications(limit = DEFAULT_PAGE_SIZE, next?: string): Promise<Page<Application>> {
    return page([...this.apps.values()].sort(byName), limit, next);
  }

  async deleteCluster(name: string): Promise<void> {
    this.clusters.delete(name);
  }

  async listClusters(limit = DEFAULT_PAGE_SIZE, next?: string): Promise<Page<Cluster>> {
    return page([...this.clusters.values()].sort(byName), limit, next);
  }

  async targetsForRepo(repoURL: string): Promise<TargetRecord[]> {
    const want = normalizeRepoURL(repoURL);
    return [...this.records.values()]
      .filter((r) => normalizeRepoURL(r.repoURL) === want)
      .map((r) => ({ ...r }));
  }

  /** Oldest first, which is fair without a rotation (the port's `rotation` is for shards). */
  async dueTargets(
    now: number,
    limit = DEFAULT_PAGE_SIZE,
    next?: string,
    _rotation?: number,
  ): Promise<Page<TargetRecord>> {
    // The cursor is the last item's place in the order (due time, key), not an
    // offset: the sweep moves the targets of a page out of the due set before
    // it reads the next, and an offset would then skip as many.
    const order = (r: TargetRecord) => [r.nextDueAt, targetKey(r)] as const;
    const after = next ? (JSON.parse(next) as [number, string]) : undefined;
    const due = [...this.records.values()]
      .filter((r) => r.nextDueAt <= now && !r.suspended)
      .filter((r) => {
        if (!after) return true;
        const [at, key] = order(r);
        return at > after[0] || (at === after[0] && key > after[1]);
      })
      .sort((a, b) => a.nextDueAt - b.nextDueAt || targetKey(a).localeCompare(targetKey(b)));
    const items = due.slice(0, limit).map((r) => ({ ...r }));
    const last = items.at(-1);
    return due.length > limit && last ? { items, next: JSON.stringify(order(last)) } : { items };
  }

  async recordWantedRevision(target: TargetId, commit: string, at: number): Promise<void> {
    const r = this.records.get(targetKey(target));
    if (r && (r.wantedAt ?? 0) <= at) {
      r.wantedRevision = commit;
      r.wantedAt = at;
    }
  }

  async setNextDue(target: TargetId, nextDueAt: number): Promise<void> {
    const r = this.records.get(targetKey(target));
    if (r) r.nextDueAt = nextDueAt;
  }

  async getTargetRecord(target: TargetId): Promise<TargetRecord | undefined> {
    const r = this.records.get(targetKey(target));
    return r && structuredClone(r);
  }

  async setRecheckToken(target: TargetId, token: string): Promise<void> {
    const r = this.records.get(targetKey(target));
    if (r) r.recheckToken = token;
  }

  async requestTermination(target: TargetId, request: TerminationRequest): Promise<void> {
    const r = this.records.get(targetKey(target));
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
    const s = this.statuses.get(targetKey(target));
    return s && structuredClone(s);
  }

  private fence(target: TargetId, token: number): void {
    const key = targetKey(target);
    const highest = this.fences.get(key) ?? 0;
    if (token < highest) {
      throw new DriftlessError(
        'LeaseLost',
        `status write for ${key} rejected: fencing token ${token} is older than ${highest}`,
      );
    }
    this.fences.set(key, token);
  }

  async putTargetStatus(status: TargetStatus, fencingToken: number): Promise<void> {
    const target = { app: status.app, cluster: status.cluster };
    this.fence(target, fencingToken);
    this.statuses.set(targetKey(target), structuredClone(status));
  }

  async appendHistory(
    target: TargetId,
    entry: OperationResult,
    fencingToken: number,
  ): Promise<void> {
    this.fence(target, fencingToken);
    const key = targetKey(target);
    const lists = this.history.get(key) ?? { succeeded: [], other: [] };
    this.history.set(key, lists);
    if (entry.phase === 'Succeeded') {
      lists.succeeded = [structuredClone(entry), ...lists.succeeded].slice(0, this.historyLimit);
      return;
    }
    const repeat = collapseRepeat(lists.other[0], entry);
    if (repeat) lists.other[0] = structuredClone(repeat);
    else lists.other = [structuredClone(entry), ...lists.other].slice(0, this.historyLimit);
  }

  async listHistory(
    target: TargetId,
    limit = this.historyLimit,
    filter: { succeeded?: boolean } = {},
  ): Promise<OperationResult[]> {
    const lists = this.history.get(targetKey(target));
    if (!lists) return [];
    const all = filter.succeeded
      ? lists.succeeded
      : [...lists.succeeded, ...lists.other].sort(byNewest);
    return structuredClone(all.slice(0, Math.min(limit, this.historyLimit)));
  }
}

function byName(a: { metadata: { name: string } }, b: { metadata: { name: string } }): number {
  return a.metadata.name.localeCompare(b.metadata.name);
}

/** Offset pagination over a snapshot; `next` is the offset of the next page. */
function page<T>(items: T[], limit: number, next?: string): Page<T> {
  const start = next ? Number.parseInt(next, 10) || 0 : 0;
  const slice = items.slice(start, start + limit).map((i) => structuredClone(i));
  return { items: slice, next: start + limit < items.length ? String(start + limit) : undefined };
}
