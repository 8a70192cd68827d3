// The production Catalog (and Store) on the DynamoDB table of dynamo/schema.ts
// (the item layout and its reasons are there). One class per item family —
// specs, target records, status, history, the sweep's — sharing one table client; this
// facade is what the wiring hands the services.
//
// Writes that a lease protects (status, history) are fenced on the target's
// record (fence.ts) and write only there and to their own items, never over
// the wanted revision or the schedule.

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Application, Cluster, Repository } from '../../model/application.js';
import type { Project } from '../../model/project.js';
import type { ObservedState, OperationResult, TargetStatus } from '../../model/status.js';
import type { TargetId } from '../../model/target.js';
import { type Clock, systemClock } from '../../ports/clock.js';
import {
  type AppEvent,
  type Catalog,
  type ClusterSweepRecord,
  DEFAULT_HISTORY_LIMIT,
  type Page,
  type SweepTarget,
  type TargetRecord,
  type TerminationRequest,
} from '../../ports/store.js';
import type { CapacityListener } from '../dynamo/capacity.js';
import { DynamoTable } from '../dynamo/client.js';
import type { CatalogContext } from './context.js';
import { HistoryItems } from './history.js';
import { RepositoryItems } from './repositories.js';
import { AppEvents, ProjectSpecs, SpecItems } from './specs.js';
import { StatusItems } from './status.js';
import { SweepItems } from './sweep.js';
import { TargetRecords } from './targets.js';

export { MAX_STATUS_BYTES } from './status.js';

/** History entries expire this many days after they are written, unless configured otherwise. */
export const DEFAULT_HISTORY_TTL_DAYS = 90;

export interface DynamoCatalogOptions {
  client: DynamoDBClient;
  tableName: string;
  clock?: Clock;
  /** Most history entries kept per target (default DEFAULT_HISTORY_LIMIT). */
  historyLimit?: number;
  /** History entries expire (TTL) after this many days (default DEFAULT_HISTORY_TTL_DAYS). */
  historyTtlDays?: number;
  /** Called after every DynamoDB request with what it consumed (and an estimate by item size). */
  onConsumedCapacity?: CapacityListener;
}

export class DynamoCatalog implements Catalog {
  private readonly specs: SpecItems;
  private readonly projects: ProjectSpecs;
  private readonly events: AppEvents;
  private readonly targets: TargetRecords;
  private readonly statuses: StatusItems;
  private readonly histories: HistoryItems;
  private readonly repositories: RepositoryItems;
  private readonly sweeps: SweepItems;

  constructor(opts: DynamoCatalogOptions) {
    const ctx: CatalogContext = {
      table: new DynamoTable(opts),
      clock: opts.clock ?? systemClock,
      historyLimit: opts.historyLimit ?? DEFAULT_HISTORY_LIMIT,
      historyTtlSeconds: (opts.historyTtlDays ?? DEFAULT_HISTORY_TTL_DAYS) * 24 * 3600,
    };
    this.sweeps = new SweepItems(ctx);
    this.targets = new TargetRecords(ctx, this.sweeps);
    this.specs = new SpecItems(ctx, this.targets);
    this.projects = new ProjectSpecs(ctx);
    this.events = new AppEvents(ctx);
    this.statuses = new StatusItems(ctx);
    this.histories = new HistoryItems(ctx);
    this.repositories = new RepositoryItems(ctx);
  }

  putApplication(app: Application): Promise<void> {
    return this.specs.putApplication(app);
  }
  deleteApplication(name: string): Promise<void> {
    return this.specs.deleteApplication(name);
  }
  getApplication(name: string): Promise<Application | undefined> {
    return this.specs.getApplication(name);
  }
  listApplications(limit?: number, next?: string): Promise<Page<Application>> {
    return this.specs.listApplications(limit, next);
  }
  putCluster(cluster: Cluster): Promise<void> {
    return this.specs.putCluster(cluster);
  }
  deleteCluster(name: string): Promise<void> {
    return this.specs.deleteCluster(name);
  }
  getCluster(name: string): Promise<Cluster | undefined> {
    return this.specs.getCluster(name);
  }
  listClusters(limit?: number, next?: string): Promise<Page<Cluster>> {
    return this.specs.listClusters(limit, next);
  }

  putRepository(repository: Repository): Promise<void> {
    return this.repositories.putRepository(repository);
  }
  getRepository(name: string): Promise<Repository | undefined> {
    return this.repositories.getRepository(name);
  }
  deleteRepository(name: string): Promise<void> {
    return this.repositories.deleteRepository(name);
  }
  listRepositories(limit?: number, next?: string): Promise<Page<Repository>> {
    return this.repositories.listRepositories(limit, next);
  }

  targetsForRepo(repoURL: string): Promise<TargetRecord[]> {
    return this.targets.targetsForRepo(repoURL);
  }
  clusterSweepState(
    cluster: string,
  ): Promise<{ targets: SweepTarget[]; record?: ClusterSweepRecord }> {
    return this.sweeps.clusterSweepState(cluster);
  }
  putClusterSweepRecord(record: ClusterSweepRecord): Promise<void> {
    return this.sweeps.putClusterSweepRecord(record);
  }
  getClusterSweepRecord(cluster: string): Promise<ClusterSweepRecord | undefined> {
    return this.sweeps.getClusterSweepRecord(cluster);
  }
  putObserved(target: TargetId, observed: ObservedState): Promise<void> {
    return this.sweeps.putObserved(target, observed);
  }
  recordWantedRevision(target: TargetId, commit: string, at: number): Promise<void> {
    return this.targets.recordWantedRevision(target, commit, at);
  }
  appendEvent(app: string, event: AppEvent): Promise<void> {
    return this.events.appendEvent(app, event);
  }
  listEvents(app: string, limit?: number): Promise<AppEvent[]> {
    return this.events.listEvents(app, limit);
  }
  putProject(project: Project): Promise<void> {
    return this.projects.putProject(project);
  }
  deleteProject(name: string): Promise<void> {
    return this.projects.deleteProject(name);
  }
  getProject(name: string): Promise<Project | undefined> {
    return this.projects.getProject(name);
  }
  listProjects(limit?: number, next?: string): Promise<Page<Project>> {
    return this.projects.listProjects(limit, next);
  }
  setRecheckToken(target: TargetId, token: string): Promise<void> {
    return this.targets.setRecheckToken(target, token);
  }
  requestTermination(target: TargetId, request: TerminationRequest): Promise<void> {
    return this.targets.requestTermination(target, request);
  }
  getTargetRecord(target: TargetId): Promise<TargetRecord | undefined> {
    return this.targets.getTargetRecord(target);
  }

  getTargetStatus(target: TargetId): Promise<TargetStatus | undefined> {
    return this.statuses.getTargetStatus(target);
  }
  putTargetStatus(status: TargetStatus, fencingToken: number): Promise<void> {
    return this.statuses.putTargetStatus(status, fencingToken);
  }

  appendHistory(target: TargetId, entry: OperationResult, fencingToken: number): Promise<void> {
    return this.histories.appendHistory(target, entry, fencingToken);
  }
  listHistory(
    target: TargetId,
    limit?: number,
    filter?: { succeeded?: boolean },
  ): Promise<OperationResult[]> {
    return this.histories.listHistory(target, limit, filter);
  }
}
