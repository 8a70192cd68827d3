// Embedded Store for local mode and tests: the same contract as the DynamoDB
// store, fencing included (a write with an older lease's token is rejected).

import { DriftlessError } from '../errors.js';
import type { Application, Cluster } from '../model/application.js';
import type { OperationResult, TargetStatus } from '../model/status.js';
import { type Store, type TargetId, targetKey } from '../ports.js';

export class MemoryStore implements Store {
  private readonly apps = new Map<string, Application>();
  private readonly clusters = new Map<string, Cluster>();
  private readonly statuses = new Map<string, TargetStatus>();
  private readonly history = new Map<string, OperationResult[]>();
  /** Highest fencing token that has written, per target. */
  private readonly fences = new Map<string, number>();

  constructor(private readonly historyLimit = 50) {}

  async putApplication(app: Application): Promise<void> {
    this.apps.set(app.metadata.name, structuredClone(app));
  }

  async deleteApplication(name: string): Promise<void> {
    this.apps.delete(name);
  }

  async listApplications(): Promise<Application[]> {
    return [...this.apps.values()].map((a) => structuredClone(a));
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
    const list = this.history.get(key) ?? [];
    list.unshift(structuredClone(entry));
    this.history.set(key, list.slice(0, this.historyLimit));
  }

  async listHistory(target: TargetId, limit = this.historyLimit): Promise<OperationResult[]> {
    return structuredClone((this.history.get(targetKey(target)) ?? []).slice(0, limit));
  }
}
