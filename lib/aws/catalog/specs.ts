// Application and Cluster specs: one item each, listed through the `list`
// index. putApplication writes the spec first, then one target record per
// destination (targets.ts), and deletes the targets of destinations that
// disappeared, so a half-done put never routes a push to a target the spec
// does not have; it is idempotent, retry it on failure.

import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { mapBounded } from '../../concurrency.js';
import { DriftlessError } from '../../errors.js';
import {
  type Application,
  ApplicationSchema,
  applicationInput,
  type Cluster,
  ClusterSchema,
} from '../../model/application.js';
import { type Project, ProjectSchema } from '../../model/project.js';
import { type AppEvent, DEFAULT_PAGE_SIZE, type Page } from '../../ports/store.js';
import { Expression } from '../dynamo/expression.js';
import { av, type Item, readNumber, readString } from '../dynamo/items.js';
import {
  ATTR,
  appEventKey,
  appKey,
  clusterKey,
  LIST_APPS,
  LIST_CLUSTERS,
  LIST_PROJECTS,
  projectKey,
  SK_EVENT_PREFIX,
} from '../dynamo/schema.js';
import { type CatalogContext, TARGET_WRITE_CONCURRENCY } from './context.js';
import { listPage } from './list.js';
import type { TargetRecords } from './targets.js';

export class SpecItems {
  constructor(
    private readonly ctx: CatalogContext,
    private readonly targets: TargetRecords,
  ) {}

  async putApplication(app: Application): Promise<void> {
    const name = app.metadata.name;
    const previous = await this.ctx.table.getItem('putApplication', {
      Key: appKey(name),
      ConsistentRead: true,
    });
    await this.ctx.table.putItem(
      'putApplication',
      {
        Item: {
          ...appKey(name),
          [ATTR.itemType]: av.s('Application'),
          [ATTR.spec]: av.s(JSON.stringify(applicationInput(app))),
          [ATTR.listPk]: av.s(LIST_APPS),
          [ATTR.listSk]: av.s(name),
        },
      },
      1,
    );
    const clusters = new Set(app.spec.destinations.map((d) => d.cluster));
    await mapBounded([...clusters], TARGET_WRITE_CONCURRENCY, (cluster) =>
      this.targets.putRecord({ app: name, cluster }, app),
    );
    const removed = destinationsOf(readString(previous.Item, ATTR.spec)).filter(
      (c) => !clusters.has(c),
    );
    await mapBounded(removed, TARGET_WRITE_CONCURRENCY, (cluster) =>
      this.targets.deleteTarget({ app: name, cluster }),
    );
  }

  async deleteApplication(name: string): Promise<void> {
    const current = await this.ctx.table.getItem('deleteApplication', {
      Key: appKey(name),
      ConsistentRead: true,
    });
    if (!current.Item) return;
    const clusters = destinationsOf(readString(current.Item, ATTR.spec));
    await mapBounded(clusters, TARGET_WRITE_CONCURRENCY, (cluster) =>
      this.targets.deleteTarget({ app: name, cluster }),
    );
    await this.ctx.table.deleteItem('deleteApplication', { Key: appKey(name) }, 1);
  }

  async getApplication(name: string): Promise<Application | undefined> {
    const out = await this.ctx.table.getItem('getApplication', {
      Key: appKey(name),
      ConsistentRead: true,
    });
    return out.Item && parseStored(ApplicationSchema, out.Item, `Application/${name}`);
  }

  async listApplications(limit = DEFAULT_PAGE_SIZE, next?: string): Promise<Page<Application>> {
    const page = await listPage(this.ctx, 'listApplications', LIST_APPS, limit, next);
    return {
      items: page.items.map((i) =>
        parseStored(ApplicationSchema, i, `Application/${readString(i, ATTR.listSk)}`),
      ),
      next: page.next,
    };
  }

  async putCluster(cluster: Cluster): Promise<void> {
    const name = cluster.metadata.name;
    await this.ctx.table.putItem(
      'putCluster',
      {
        Item: {
          ...clusterKey(name),
          [ATTR.itemType]: av.s('Cluster'),
          [ATTR.spec]: av.s(JSON.stringify(cluster)),
          [ATTR.listPk]: av.s(LIST_CLUSTERS),
          [ATTR.listSk]: av.s(name),
        },
      },
      1,
    );
  }

  /** Only the spec: apps naming the cluster fail their reconciles with "cluster not registered". */
  async deleteCluster(name: string): Promise<void> {
    await this.ctx.table.deleteItem('deleteCluster', { Key: clusterKey(name) }, 1);
  }

  async getCluster(name: string): Promise<Cluster | undefined> {
    const out = await this.ctx.table.getItem('getCluster', {
      Key: clusterKey(name),
      ConsistentRead: true,
    });
    return out.Item && parseStored(ClusterSchema, out.Item, `Cluster/${name}`);
  }

  async listClusters(limit = DEFAULT_PAGE_SIZE, next?: string): Promise<Page<Cluster>> {
    const page = await listPage(this.ctx, 'listClusters', LIST_CLUSTERS, limit, next);
    return {
      items: page.items.map((i) =>
        parseStored(ClusterSchema, i, `Cluster/${readString(i, ATTR.listSk)}`),
      ),
      next: page.next,
    };
  }
}

/** Who changed an application, when: items beside its spec, with the history's TTL. */
export class AppEvents {
  constructor(private readonly ctx: CatalogContext) {}

  async appendEvent(app: string, event: AppEvent): Promise<void> {
    const expires = Math.floor(this.ctx.clock.now() / 1000) + this.ctx.historyTtlSeconds;
    await this.ctx.table.putItem(
      'appendEvent',
      {
        Item: {
          ...appEventKey(app, event.at, randomUUID()),
          [ATTR.itemType]: av.s('AppEvent'),
          [ATTR.entry]: av.s(JSON.stringify(event)),
          [ATTR.ttl]: av.n(expires),
        },
      },
      1,
    );
  }

  async listEvents(app: string, limit = DEFAULT_PAGE_SIZE): Promise<AppEvent[]> {
    const x = new Expression();
    const out = await this.ctx.table.query('listEvents', {
      KeyConditionExpression: `${x.name(ATTR.pk)} = ${x.value(av.s(appKey(app).pk.S ?? ''))} AND begins_with(${x.name(ATTR.sk)}, ${x.value(av.s(SK_EVENT_PREFIX))})`,
      ...x.fields(),
      ScanIndexForward: false,
      Limit: limit,
    });
    const now = Math.floor(this.ctx.clock.now() / 1000);
    return (out.Items ?? []).flatMap((i) => {
      const exp = readNumber(i, ATTR.ttl);
      const text = readString(i, ATTR.entry);
      return text && (exp === undefined || exp > now) ? [JSON.parse(text) as AppEvent] : [];
    });
  }
}

/** Projects: admin-owned, small, listed like clusters. */
export class ProjectSpecs {
  constructor(private readonly ctx: CatalogContext) {}

  async putProject(project: Project): Promise<void> {
    const name = project.metadata.name;
    await this.ctx.table.putItem(
      'putProject',
      {
        Item: {
          ...projectKey(name),
          [ATTR.itemType]: av.s('Project'),
          [ATTR.spec]: av.s(JSON.stringify(project)),
          [ATTR.listPk]: av.s(LIST_PROJECTS),
          [ATTR.listSk]: av.s(name),
        },
      },
      1,
    );
  }

  async deleteProject(name: string): Promise<void> {
    await this.ctx.table.deleteItem('deleteProject', { Key: projectKey(name) }, 1);
  }

  async getProject(name: string): Promise<Project | undefined> {
    const out = await this.ctx.table.getItem('getProject', {
      Key: projectKey(name),
      ConsistentRead: true,
    });
    return out.Item && parseStored(ProjectSchema, out.Item, `Project/${name}`);
  }

  async listProjects(limit = DEFAULT_PAGE_SIZE, next?: string): Promise<Page<Project>> {
    const page = await listPage(this.ctx, 'listProjects', LIST_PROJECTS, limit, next);
    return {
      items: page.items.map((i) =>
        parseStored(ProjectSchema, i, `Project/${readString(i, ATTR.listSk)}`),
      ),
      next: page.next,
    };
  }
}

export function parseStored<T>(schema: z.ZodType<T>, item: Item, what: string): T {
  const text = readString(item, ATTR.spec);
  let value: unknown;
  try {
    value = text === undefined ? undefined : JSON.parse(text);
  } catch {
    value = undefined;
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new DriftlessError(
      'InvalidSpec',
      `stored ${what} does not validate (${issue ? `${issue.path.join('.')}: ${issue.message}` : 'not JSON'}); register it again`,
      { object: what, field: issue?.path.join('.') || undefined },
    );
  }
  return result.data;
}

/** Cluster names of a stored Application spec, without validating the rest. */
function destinationsOf(specText: string | undefined): string[] {
  if (!specText) return [];
  try {
    const spec = JSON.parse(specText) as { spec?: { destinations?: { cluster?: unknown }[] } };
    return [
      ...new Set(
        (spec.spec?.destinations ?? [])
          .map((d) => d.cluster)
          .filter((c): c is string => typeof c === 'string'),
      ),
    ];
  } catch {
    return [];
  }
}
