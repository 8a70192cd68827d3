// The per-cluster sweep's items: one partition per cluster (SWEEP#<cluster>)
// holding the sweep record and one item per target — the spec-derived part
// (interval, suspension, sources) written with the target record, the last
// check's view (`observed`, gzip JSON) written by the worker when it changed.
// A cluster's sweep reads all of it with one Query, a page per MB.

import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { z } from 'zod';
import { DriftlessError } from '../../errors.js';
import { type Application, type ApplicationSource, specHash } from '../../model/application.js';
import type { ObservedState } from '../../model/status.js';
import type { TargetId } from '../../model/target.js';
import type { ClusterSweepRecord, SweepTarget } from '../../ports/store.js';
import { isConditionFailure } from '../dynamo/client.js';
import { Expression, Update } from '../dynamo/expression.js';
import { av, type Item, readBinary, readBool, readNumber, readString } from '../dynamo/items.js';
import {
  ATTR,
  SK_SWEEP_RECORD,
  SK_SWEEP_TARGET_PREFIX,
  sweepPartition,
  sweepRecordKey,
  sweepTargetKey,
} from '../dynamo/schema.js';
import type { CatalogContext } from './context.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

const ObservedSchema = z.object({
  revision: z.string(),
  running: z.boolean().optional(),
  spec: z.string().optional(),
  objects: z.array(z.tuple([z.string(), z.string(), z.string(), z.string(), z.string()])),
}) satisfies z.ZodType<ObservedState>;

const SweepRecordSchema = z.object({
  cluster: z.string(),
  tickAt: z.number(),
  counters: z.object({
    targets: z.number(),
    due: z.number(),
    enqueued: z.number(),
    reasons: z.record(z.string(), z.number()),
    deferred: z.number(),
    clusterRequests: z.number(),
    sourceRequests: z.number(),
    durationMs: z.number(),
  }),
  confirmed: z.record(z.string(), z.string()),
  carried: z.array(z.string()).optional(),
  error: z.string().optional(),
}) satisfies z.ZodType<ClusterSweepRecord>;

export class SweepItems {
  constructor(private readonly ctx: CatalogContext) {}

  /** The spec-derived part of a target's sweep item (its `observed` survives). */
  async putTarget(target: TargetId, app: Application): Promise<void> {
    const sources: { source: ApplicationSource; sources?: ApplicationSource[] } = {
      source: app.spec.source,
      ...(app.spec.sources ? { sources: app.spec.sources } : {}),
    };
    const u = new Update()
      .set(ATTR.itemType, av.s('SweepTarget'))
      .set(ATTR.app, av.s(target.app))
      .set(ATTR.cluster, av.s(target.cluster))
      .set(ATTR.suspended, av.bool(app.spec.suspended))
      .set(ATTR.intervalMs, av.n(app.spec.syncPolicy.interval))
      .set(ATTR.specHash, av.s(specHash(app)))
      .set(ATTR.sources, av.s(JSON.stringify(sources)));
    await this.ctx.table.updateItem('putApplication', {
      Key: sweepTargetKey(target),
      ...u.build(),
    });
  }

  async deleteTarget(target: TargetId): Promise<void> {
    await this.ctx.table.deleteItem('deleteTarget', { Key: sweepTargetKey(target) });
  }

  async putObserved(target: TargetId, observed: ObservedState): Promise<void> {
    const blob = await gzipAsync(Buffer.from(JSON.stringify(observed), 'utf8'));
    const u = new Update().set(ATTR.observed, av.b(blob));
    try {
      await this.ctx.table.updateItem('putObserved', {
        Key: sweepTargetKey(target),
        // Never creates the item of a target deleted meanwhile.
        ...u.build(`attribute_exists(${u.name(ATTR.sources)})`),
      });
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
    }
  }

  async clusterSweepState(
    cluster: string,
  ): Promise<{ targets: SweepTarget[]; record?: ClusterSweepRecord }> {
    const targets: SweepTarget[] = [];
    let record: ClusterSweepRecord | undefined;
    const x = new Expression();
    const keyCondition = `${x.name(ATTR.pk)} = ${x.value(av.s(sweepPartition(cluster)))}`;
    let start: Item | undefined;
    do {
      const out = await this.ctx.table.query('clusterSweepState', {
        KeyConditionExpression: keyCondition,
        ...x.fields(),
        ExclusiveStartKey: start,
      });
      for (const item of out.Items ?? []) {
        const sk = readString(item, ATTR.sk) ?? '';
        if (sk === SK_SWEEP_RECORD) record = parseRecord(item, cluster);
        else if (sk.startsWith(SK_SWEEP_TARGET_PREFIX)) {
          const t = await targetFromItem(item, cluster);
          if (t) targets.push(t);
        }
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return { targets, ...(record ? { record } : {}) };
  }

  async getClusterSweepRecord(cluster: string): Promise<ClusterSweepRecord | undefined> {
    const out = await this.ctx.table.getItem('getClusterSweepRecord', {
      Key: sweepRecordKey(cluster),
    });
    return out.Item && parseRecord(out.Item, cluster);
  }

  async putClusterSweepRecord(record: ClusterSweepRecord): Promise<void> {
    await this.ctx.table.putItem('putClusterSweepRecord', {
      Item: {
        ...sweepRecordKey(record.cluster),
        [ATTR.itemType]: av.s('ClusterSweep'),
        [ATTR.sweep]: av.s(JSON.stringify(record)),
      },
    });
  }
}

async function targetFromItem(item: Item, cluster: string): Promise<SweepTarget | undefined> {
  const app = readString(item, ATTR.app);
  const json = readString(item, ATTR.sources);
  if (!app || json === undefined) return undefined; // observed written before the spec: not a target
  const sources = JSON.parse(json) as { source: ApplicationSource; sources?: ApplicationSource[] };
  const target: SweepTarget = {
    app,
    cluster,
    specHash: readString(item, ATTR.specHash) ?? '',
    intervalMs: readNumber(item, ATTR.intervalMs) ?? 0,
    suspended: readBool(item, ATTR.suspended) ?? false,
    source: sources.source,
    ...(sources.sources ? { sources: sources.sources } : {}),
  };
  const blob = readBinary(item, ATTR.observed);
  if (blob) {
    // A view that cannot be read is as good as none: the sweep reconciles the target.
    const parsed = ObservedSchema.safeParse(
      JSON.parse((await gunzipAsync(Buffer.from(blob))).toString('utf8')),
    );
    if (parsed.success) target.observed = parsed.data;
  }
  return target;
}

function parseRecord(item: Item, cluster: string): ClusterSweepRecord | undefined {
  const json = readString(item, ATTR.sweep);
  if (json === undefined) return undefined;
  const parsed = SweepRecordSchema.safeParse(JSON.parse(json));
  if (!parsed.success) {
    throw new DriftlessError(
      'Internal',
      `the sweep record of cluster ${cluster} is malformed: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
}
