// The production Catalog (and Store) on the DynamoDB table of table.ts.
//
// Decisions this file makes (the item layout and its reasons are in table.ts):
// - putApplication writes the spec, then one target record per destination,
//   changing only the spec-derived attributes (UpdateItem), so the status, the
//   wanted revision, the next due time and the lease survive an update. A new
//   target is due at once (nextDueAt 0). Destinations that disappeared are
//   deleted like deleteApplication deletes targets. Retry it on failure: it is
//   idempotent, and the spec is written first so a half-done put never routes
//   a push to a target the spec does not have.
// - deleteApplication deletes each target's status and history and turns its
//   record into a tombstone (lease token kept, TTL a day out), then the spec.
//   A late status write by a worker that was mid-reconcile is rejected with
//   LeaseLost instead of resurrecting the target. deleteCluster deletes only the
//   spec: apps naming it fail their reconciles with "cluster not registered".
// - putTargetStatus and appendHistory are fenced on the record (a newer lease
//   taken, or a newer token written: LeaseLost) and write only there and to
//   their own items, never over wantedRevision/wantedAt or the schedule.
//   putTargetStatus also fences the status item by its writer's token. It stores the status gzip-compressed
//   (a 1000-object status is far over 400 KB as JSON). The per-check
//   timestamps (lastCheckedAt, checkStartedAt) go to the record and the rest is
//   hashed: when the hash matches the stored one, the write is one small
//   conditional UpdateItem (~1 WCU) instead of rewriting the blob — the common
//   case for a drift check that finds nothing new.
// - History: at most `historyLimit` entries per target (each append deletes the
//   entry that many places back), each with a TTL (`historyTtlDays`); reads
//   return at most `historyLimit`, newest first, and skip expired entries.

import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { mapBounded } from '../concurrency.js';
import { DriftlessError } from '../errors.js';
import {
  type Application,
  type ApplicationInput,
  ApplicationSchema,
  type Cluster,
  ClusterSchema,
} from '../model/application.js';
import type { OperationResult, TargetStatus } from '../model/status.js';
import {
  type Catalog,
  type Clock,
  DEFAULT_HISTORY_LIMIT,
  DEFAULT_PAGE_SIZE,
  normalizeRepoURL,
  type Page,
  systemClock,
  type TargetId,
  type TargetRecord,
  targetKey,
} from '../ports.js';
import {
  ATTR,
  appKey,
  av,
  type CapacityListener,
  clusterKey,
  DUE_INDEX,
  DUE_SHARDS,
  DynamoTable,
  decodePageToken,
  dueShard,
  dueShardName,
  encodePageToken,
  historyKey,
  type Item,
  isConditionFailure,
  keyOf,
  LIST_APPS,
  LIST_CLUSTERS,
  LIST_INDEX,
  readBinary,
  readBool,
  readNumber,
  readString,
  repoListKey,
  SK_HISTORY_PREFIX,
  SK_STATUS,
  SK_TARGET,
  startKeySchema,
  targetPartition,
  targetRecordKey,
  targetStatusKey,
} from './table.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Room left under DynamoDB's 400 KB item limit for the other attributes of a status item. */
export const MAX_STATUS_BYTES = 390 * 1024;

/** A deleted target's record (the tombstone) lives this long: far past any Lambda run. */
const TOMBSTONE_SECONDS = 24 * 3600;

export interface DynamoCatalogOptions {
  client: DynamoDBClient;
  tableName: string;
  clock?: Clock;
  /** Most history entries kept per target (default DEFAULT_HISTORY_LIMIT). */
  historyLimit?: number;
  /** History entries expire (TTL) after this many days (default DEFAULT_HISTORY_TTL_DAYS). */
  historyTtlDays?: number;
  /** Shards of the due index; fixed for the table's lifetime (default DUE_SHARDS). */
  dueShards?: number;
  /** Called after every DynamoDB request with what it consumed (and an estimate by item size). */
  onConsumedCapacity?: CapacityListener;
}

/** History entries expire this many days after they are written, unless configured otherwise. */
export const DEFAULT_HISTORY_TTL_DAYS = 90;
/** Target records written (or deleted) at once when an application's destinations change. */
export const TARGET_WRITE_CONCURRENCY = 8;
/** The largest page a listing returns, whatever the limit asked for. */
export const MAX_PAGE_SIZE = 1000;

export class DynamoCatalog implements Catalog {
  private readonly table: DynamoTable;
  private readonly clock: Clock;
  private readonly historyLimit: number;
  private readonly historyTtlSeconds: number;
  private readonly dueShards: number;

  constructor(opts: DynamoCatalogOptions) {
    this.table = new DynamoTable(opts);
    this.clock = opts.clock ?? systemClock;
    this.historyLimit = opts.historyLimit ?? DEFAULT_HISTORY_LIMIT;
    this.historyTtlSeconds = (opts.historyTtlDays ?? DEFAULT_HISTORY_TTL_DAYS) * 24 * 3600;
    this.dueShards = opts.dueShards ?? DUE_SHARDS;
  }

  // -------------------------------------------------------------------------
  // Applications

  async putApplication(app: Application): Promise<void> {
    const name = app.metadata.name;
    const previous = await this.table.getItem('putApplication', {
      Key: appKey(name),
      ConsistentRead: true,
    });
    await this.table.putItem(
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
      this.putTargetRecord({ app: name, cluster }, app),
    );
    const removed = destinationsOf(readString(previous.Item, ATTR.spec)).filter(
      (c) => !clusters.has(c),
    );
    await mapBounded(removed, TARGET_WRITE_CONCURRENCY, (cluster) =>
      this.deleteTarget({ app: name, cluster }),
    );
  }

  async deleteApplication(name: string): Promise<void> {
    const current = await this.table.getItem('deleteApplication', {
      Key: appKey(name),
      ConsistentRead: true,
    });
    if (!current.Item) return;
    const clusters = destinationsOf(readString(current.Item, ATTR.spec));
    await mapBounded(clusters, TARGET_WRITE_CONCURRENCY, (cluster) =>
      this.deleteTarget({ app: name, cluster }),
    );
    await this.table.deleteItem('deleteApplication', { Key: appKey(name) }, 1);
  }

  async getApplication(name: string): Promise<Application | undefined> {
    const out = await this.table.getItem('getApplication', {
      Key: appKey(name),
      ConsistentRead: true,
    });
    return out.Item && parseStored(ApplicationSchema, out.Item, `Application/${name}`);
  }

  async listApplications(limit = DEFAULT_PAGE_SIZE, next?: string): Promise<Page<Application>> {
    const page = await this.listPage('listApplications', LIST_APPS, limit, next);
    return {
      items: page.items.map((i) =>
        parseStored(ApplicationSchema, i, `Application/${readString(i, ATTR.listSk)}`),
      ),
      next: page.next,
    };
  }

  // -------------------------------------------------------------------------
  // Clusters

  async putCluster(cluster: Cluster): Promise<void> {
    const name = cluster.metadata.name;
    await this.table.putItem(
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

  async deleteCluster(name: string): Promise<void> {
    await this.table.deleteItem('deleteCluster', { Key: clusterKey(name) }, 1);
  }

  async getCluster(name: string): Promise<Cluster | undefined> {
    const out = await this.table.getItem('getCluster', {
      Key: clusterKey(name),
      ConsistentRead: true,
    });
    return out.Item && parseStored(ClusterSchema, out.Item, `Cluster/${name}`);
  }

  async listClusters(limit = DEFAULT_PAGE_SIZE, next?: string): Promise<Page<Cluster>> {
    const page = await this.listPage('listClusters', LIST_CLUSTERS, limit, next);
    return {
      items: page.items.map((i) =>
        parseStored(ClusterSchema, i, `Cluster/${readString(i, ATTR.listSk)}`),
      ),
      next: page.next,
    };
  }

  // -------------------------------------------------------------------------
  // Target records

  async targetsForRepo(repoURL: string): Promise<TargetRecord[]> {
    const records: TargetRecord[] = [];
    let start: Item | undefined;
    do {
      const out = await this.table.query('targetsForRepo', {
        IndexName: LIST_INDEX,
        KeyConditionExpression: '#listPk = :repo',
        ExpressionAttributeNames: { '#listPk': ATTR.listPk },
        ExpressionAttributeValues: { ':repo': av.s(repoListKey(normalizeRepoURL(repoURL))) },
        ExclusiveStartKey: start,
      });
      for (const item of out.Items ?? []) {
        const r = recordFromItem(item);
        if (r) records.push(r);
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return records;
  }

  async dueTargets(
    now: number,
    limit = DEFAULT_PAGE_SIZE,
    next?: string,
  ): Promise<Page<TargetRecord>> {
    const size = pageSize(limit);
    const keyNames = [ATTR.pk, ATTR.sk, ATTR.duePk, ATTR.nextDueAt];
    const cursor = next
      ? decodePageToken(
          next,
          z.object({
            shard: z
              .number()
              .int()
              .min(0)
              .max(this.dueShards - 1),
            key: startKeySchema(keyNames).optional(),
          }),
        )
      : { shard: 0, key: undefined };
    // Shards are read one after another; one more item than the page is read so
    // `next` is absent exactly on the last page.
    const found: { item: Item; shard: number }[] = [];
    for (let shard = cursor.shard; shard < this.dueShards && found.length <= size; shard++) {
      let start: Item | undefined = shard === cursor.shard ? cursor.key : undefined;
      do {
        const out = await this.table.query('dueTargets', {
          IndexName: DUE_INDEX,
          KeyConditionExpression: '#duePk = :shard AND #nextDueAt <= :now',
          ExpressionAttributeNames: { '#duePk': ATTR.duePk, '#nextDueAt': ATTR.nextDueAt },
          ExpressionAttributeValues: { ':shard': av.s(dueShardName(shard)), ':now': av.n(now) },
          ExclusiveStartKey: start,
          Limit: size + 1 - found.length,
        });
        for (const item of out.Items ?? []) found.push({ item, shard });
        start = out.LastEvaluatedKey;
      } while (start && found.length <= size);
    }
    const pageItems = found.slice(0, size);
    const last = pageItems.at(-1);
    const items = pageItems.flatMap(({ item }) => recordFromItem(item) ?? []);
    if (found.length <= size || !last) return { items };
    return {
      items,
      next: encodePageToken({ shard: last.shard, key: keyOf(last.item, keyNames) }),
    };
  }

  async recordWantedRevision(target: TargetId, commit: string, at: number): Promise<void> {
    try {
      await this.table.updateItem(
        'recordWantedRevision',
        {
          Key: targetRecordKey(target),
          UpdateExpression: 'SET #wantedRevision = :commit, #wantedAt = :at',
          // Never backwards in time; never creates a record for an unknown target.
          ConditionExpression:
            'attribute_exists(#repoURL) AND (attribute_not_exists(#wantedAt) OR #wantedAt <= :at)',
          ExpressionAttributeNames: {
            '#wantedRevision': ATTR.wantedRevision,
            '#wantedAt': ATTR.wantedAt,
            '#repoURL': ATTR.repoURL,
          },
          ExpressionAttributeValues: { ':commit': av.s(commit), ':at': av.n(at) },
        },
        2,
      );
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
    }
  }

  async setNextDue(target: TargetId, nextDueAt: number): Promise<void> {
    try {
      await this.table.updateItem(
        'setNextDue',
        {
          Key: targetRecordKey(target),
          UpdateExpression: 'SET #nextDueAt = :next',
          ConditionExpression: 'attribute_exists(#repoURL)',
          ExpressionAttributeNames: { '#nextDueAt': ATTR.nextDueAt, '#repoURL': ATTR.repoURL },
          ExpressionAttributeValues: { ':next': av.n(nextDueAt) },
        },
        // The due index's sort key moves (delete + put), the list index's copy changes.
        3,
      );
    } catch (e) {
      // A target deleted meanwhile has nothing to schedule.
      if (!isConditionFailure(e)) throw e;
    }
  }

  async getTargetRecord(target: TargetId): Promise<TargetRecord | undefined> {
    const out = await this.table.getItem('getTargetRecord', {
      Key: targetRecordKey(target),
      ConsistentRead: true,
    });
    return out.Item && recordFromItem(out.Item);
  }

  // -------------------------------------------------------------------------
  // Status and history

  async getTargetStatus(target: TargetId): Promise<TargetStatus | undefined> {
    // One request reads the status and the record (sk STATUS < TARGET, nothing between).
    const out = await this.table.query('getTargetStatus', {
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :status AND :record',
      ExpressionAttributeNames: { '#pk': ATTR.pk, '#sk': ATTR.sk },
      ExpressionAttributeValues: {
        ':pk': av.s(targetPartition(target)),
        ':status': av.s(SK_STATUS),
        ':record': av.s(SK_TARGET),
      },
      ConsistentRead: true,
    });
    const items = out.Items ?? [];
    const statusItem = items.find((i) => readString(i, ATTR.sk) === SK_STATUS);
    const record = items.find((i) => readString(i, ATTR.sk) === SK_TARGET);
    const blob = readBinary(statusItem, ATTR.status);
    if (!blob) return undefined;
    const status = await decodeStatus(blob, targetKey(target));
    const lastCheckedAt = readString(record, ATTR.lastCheckedAt);
    const checkStartedAt = readString(record, ATTR.checkStartedAt);
    if (lastCheckedAt !== undefined) status.lastCheckedAt = lastCheckedAt;
    if (checkStartedAt !== undefined) status.checkStartedAt = checkStartedAt;
    return status;
  }

  async putTargetStatus(status: TargetStatus, fencingToken: number): Promise<void> {
    const target = { app: status.app, cluster: status.cluster };
    const { lastCheckedAt, checkStartedAt, ...lasting } = status;
    const json = JSON.stringify(lasting);
    const hash = createHash('sha256').update(json).digest('base64url');
    const stamps = timestampUpdate({ lastCheckedAt, checkStartedAt });
    const fence = fenceCondition();

    // 1. Unchanged apart from the timestamps: record them, and that is all.
    try {
      await this.table.updateItem('putTargetStatus', {
        Key: targetRecordKey(target),
        UpdateExpression: updateExpression([...stamps.sets, fence.raise], stamps.removes),
        ConditionExpression: `${fence.expression} AND #statusHash = :hash`,
        ExpressionAttributeNames: {
          ...stamps.names,
          ...fence.names,
          '#statusHash': ATTR.statusHash,
        },
        ExpressionAttributeValues: {
          ...stamps.values,
          ...fence.values(fencingToken),
          ':hash': av.s(hash),
        },
      });
      return;
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
    }

    // 2. Changed (or fenced out, which this step finds): compress first, so a
    // status too large to store fails before anything is written.
    const raw = Buffer.from(json, 'utf8');
    const blob = await gzipAsync(raw);
    if (blob.byteLength > MAX_STATUS_BYTES) {
      throw new DriftlessError(
        'Internal',
        `status of ${status.app} on ${status.cluster} is ${Math.ceil(blob.byteLength / 1024)} KB compressed ` +
          `(${status.resources.length} resources, ${status.inventory.length} inventory entries), over what a ` +
          `DynamoDB item can hold (${MAX_STATUS_BYTES / 1024} KB): split the application into smaller ones`,
        { object: `Application/${status.app}` },
      );
    }
    // The hash is cleared before the blob is written and set after, so a hash on
    // the record always describes the blob (a crash in between costs a rewrite).
    await this.fenced(target, fencingToken, 'status', {
      sets: stamps.sets,
      removes: [...stamps.removes, '#statusHash'],
      ExpressionAttributeNames: { ...stamps.names, '#statusHash': ATTR.statusHash },
      ExpressionAttributeValues: stamps.values,
    });
    try {
      await this.table.putItem('putTargetStatus', {
        Item: {
          ...targetStatusKey(target),
          [ATTR.itemType]: av.s('TargetStatus'),
          [ATTR.status]: av.b(blob),
          [ATTR.fence]: av.n(fencingToken),
          [ATTR.bytes]: av.n(raw.byteLength),
          [ATTR.statusHash]: av.s(hash),
        },
        ConditionExpression: 'attribute_not_exists(#fence) OR #fence <= :token',
        ExpressionAttributeNames: { '#fence': ATTR.fence },
        ExpressionAttributeValues: { ':token': av.n(fencingToken) },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      throw new DriftlessError(
        'LeaseLost',
        `status write for ${targetKey(target)} rejected: fencing token ${fencingToken} is stale, ` +
          `the stored status was written with token ${readNumber(e.Item, ATTR.fence) ?? 'a newer one'}`,
      );
    }
    try {
      await this.table.updateItem('putTargetStatus', {
        Key: targetRecordKey(target),
        UpdateExpression: 'SET #statusHash = :hash',
        ConditionExpression: `${fence.expression} AND attribute_not_exists(#statusHash)`,
        ExpressionAttributeNames: { ...fence.names, '#statusHash': ATTR.statusHash },
        ExpressionAttributeValues: { ...fence.values(fencingToken), ':hash': av.s(hash) },
      });
    } catch (e) {
      // A newer holder took over: its status stands, and no hash is better than a wrong one.
      if (!isConditionFailure(e)) throw e;
    }
  }

  async appendHistory(
    target: TargetId,
    entry: OperationResult,
    fencingToken: number,
  ): Promise<void> {
    const updated = await this.fenced(target, fencingToken, 'history', {
      sets: ['#historySeq = if_not_exists(#historySeq, :zero) + :one'],
      removes: [],
      ExpressionAttributeNames: { '#historySeq': ATTR.historySeq },
      ExpressionAttributeValues: { ':zero': av.n(0), ':one': av.n(1) },
      ReturnValues: 'UPDATED_NEW',
    });
    const seq = readNumber(updated, ATTR.historySeq);
    if (seq === undefined) {
      throw new DriftlessError('Internal', `history sequence of ${targetKey(target)} not returned`);
    }
    const expires = Math.floor(this.clock.now() / 1000) + this.historyTtlSeconds;
    await this.table.putItem('appendHistory', {
      Item: {
        ...historyKey(target, seq),
        [ATTR.itemType]: av.s('HistoryEntry'),
        [ATTR.entry]: av.s(JSON.stringify(entry)),
        [ATTR.fence]: av.n(fencingToken),
        [ATTR.ttl]: av.n(expires),
      },
    });
    if (seq > this.historyLimit) {
      try {
        await this.table.deleteItem('appendHistory', {
          Key: historyKey(target, seq - this.historyLimit),
        });
      } catch {
        // Trimming is best effort: reads stop at historyLimit and the TTL removes it.
      }
    }
  }

  async listHistory(target: TargetId, limit = this.historyLimit): Promise<OperationResult[]> {
    const want = Math.max(0, Math.min(Math.floor(limit), this.historyLimit));
    if (want === 0) return [];
    const nowSeconds = Math.floor(this.clock.now() / 1000);
    const entries: OperationResult[] = [];
    let start: Item | undefined;
    do {
      const out = await this.table.query('listHistory', {
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :history)',
        ExpressionAttributeNames: { '#pk': ATTR.pk, '#sk': ATTR.sk },
        ExpressionAttributeValues: {
          ':pk': av.s(targetPartition(target)),
          ':history': av.s(SK_HISTORY_PREFIX),
        },
        ScanIndexForward: false,
        Limit: want - entries.length,
        ExclusiveStartKey: start,
      });
      for (const item of out.Items ?? []) {
        const expires = readNumber(item, ATTR.ttl);
        if (expires !== undefined && expires <= nowSeconds) continue;
        const text = readString(item, ATTR.entry);
        if (text) entries.push(JSON.parse(text) as OperationResult);
      }
      start = out.LastEvaluatedKey;
    } while (start && entries.length < want);
    return entries;
  }

  // -------------------------------------------------------------------------
  // Internals

  /** One record per destination: only spec-derived attributes change. */
  private async putTargetRecord(target: TargetId, app: Application): Promise<void> {
    const suspended = app.spec.suspended;
    await this.table.updateItem(
      'putApplication',
      {
        Key: targetRecordKey(target),
        UpdateExpression:
          'SET #itemType = :itemType, #app = :app, #cluster = :cluster, #repoURL = :repoURL, ' +
          '#revision = :revision, #suspended = :suspended, #intervalMs = :intervalMs, ' +
          '#listPk = :listPk, #listSk = :listSk, #nextDueAt = if_not_exists(#nextDueAt, :zero)' +
          (suspended ? '' : ', #duePk = :duePk') +
          // Suspended targets leave the sparse due index; a tombstone comes back to life.
          ` REMOVE #ttl${suspended ? ', #duePk' : ''}`,
        ExpressionAttributeNames: {
          '#itemType': ATTR.itemType,
          '#app': ATTR.app,
          '#cluster': ATTR.cluster,
          '#repoURL': ATTR.repoURL,
          '#revision': ATTR.revision,
          '#suspended': ATTR.suspended,
          '#intervalMs': ATTR.intervalMs,
          '#listPk': ATTR.listPk,
          '#listSk': ATTR.listSk,
          '#nextDueAt': ATTR.nextDueAt,
          '#duePk': ATTR.duePk,
          '#ttl': ATTR.ttl,
        },
        ExpressionAttributeValues: {
          ':itemType': av.s('Target'),
          ':app': av.s(target.app),
          ':cluster': av.s(target.cluster),
          ':repoURL': av.s(app.spec.source.repoURL),
          ':revision': av.s(app.spec.source.revision),
          ':suspended': av.bool(suspended),
          ':intervalMs': av.n(app.spec.syncPolicy.interval),
          ':listPk': av.s(repoListKey(normalizeRepoURL(app.spec.source.repoURL))),
          ':listSk': av.s(targetKey(target)),
          ':zero': av.n(0),
          ...(suspended ? {} : { ':duePk': av.s(dueShard(target, this.dueShards)) }),
        },
      },
      2,
    );
  }

  /**
   * Removes a target: its record becomes a tombstone first (so stale writers
   * are fenced out from then on), then its status and history go.
   */
  private async deleteTarget(target: TargetId): Promise<void> {
    const removed = [
      ATTR.repoURL,
      ATTR.revision,
      ATTR.suspended,
      ATTR.intervalMs,
      ATTR.nextDueAt,
      ATTR.wantedRevision,
      ATTR.wantedAt,
      ATTR.listPk,
      ATTR.listSk,
      ATTR.duePk,
      ATTR.statusHash,
      ATTR.lastCheckedAt,
      ATTR.checkStartedAt,
      ATTR.historySeq,
    ];
    const names = Object.fromEntries(removed.map((n) => [`#${n}`, n]));
    try {
      await this.table.updateItem(
        'deleteTarget',
        {
          Key: targetRecordKey(target),
          UpdateExpression: `SET #itemType = :tombstone, #ttl = :expires REMOVE ${Object.keys(names).join(', ')}`,
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: {
            ...names,
            '#itemType': ATTR.itemType,
            '#ttl': ATTR.ttl,
            '#pk': ATTR.pk,
          },
          ExpressionAttributeValues: {
            ':tombstone': av.s('TargetTombstone'),
            ':expires': av.n(Math.floor(this.clock.now() / 1000) + TOMBSTONE_SECONDS),
          },
        },
        2,
      );
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
    }
    const keys: Item[] = [targetStatusKey(target)];
    let start: Item | undefined;
    do {
      const out = await this.table.query('deleteTarget', {
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :history)',
        ExpressionAttributeNames: { '#pk': ATTR.pk, '#sk': ATTR.sk },
        ExpressionAttributeValues: {
          ':pk': av.s(targetPartition(target)),
          ':history': av.s(SK_HISTORY_PREFIX),
        },
        ProjectionExpression: '#pk, #sk',
        ExclusiveStartKey: start,
      });
      for (const item of out.Items ?? []) keys.push(keyOf(item, [ATTR.pk, ATTR.sk]));
      start = out.LastEvaluatedKey;
    } while (start);
    await this.table.batchWrite(
      'deleteTarget',
      keys.map((Key) => ({ DeleteRequest: { Key } })),
    );
  }

  /** An UpdateItem on the record under fenceCondition, which it raises; LeaseLost if fenced out. */
  private async fenced(
    target: TargetId,
    token: number,
    what: 'status' | 'history',
    update: {
      sets: string[];
      removes: string[];
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Item;
      ReturnValues?: 'UPDATED_NEW';
    },
  ): Promise<Item | undefined> {
    const fence = fenceCondition();
    try {
      const out = await this.table.updateItem(
        what === 'status' ? 'putTargetStatus' : 'appendHistory',
        {
          Key: targetRecordKey(target),
          UpdateExpression: updateExpression([...update.sets, fence.raise], update.removes),
          ConditionExpression: fence.expression,
          ExpressionAttributeNames: { ...update.ExpressionAttributeNames, ...fence.names },
          ExpressionAttributeValues: {
            ...update.ExpressionAttributeValues,
            ...fence.values(token),
          },
          ReturnValues: update.ReturnValues,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      );
      return out.Attributes;
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      const key = targetKey(target);
      if (readNumber(e.Item, ATTR.ttl) !== undefined) {
        throw new DriftlessError(
          'LeaseLost',
          `${what} write for ${key} rejected: the target was deleted while it was being reconciled`,
        );
      }
      const leaseToken = readNumber(e.Item, ATTR.leaseToken);
      const written = readNumber(e.Item, ATTR.fence);
      const why =
        leaseToken !== undefined && leaseToken > token
          ? `a newer lease (token ${leaseToken}) was taken`
          : `token ${written ?? 'a newer one'} has written since`;
      throw new DriftlessError(
        'LeaseLost',
        `${what} write for ${key} rejected: fencing token ${token} is stale, ${why}`,
      );
    }
  }

  private async listPage(
    op: string,
    listPk: string,
    limit: number,
    next: string | undefined,
  ): Promise<{ items: Item[]; next?: string }> {
    const size = pageSize(limit);
    const keyNames = [ATTR.pk, ATTR.sk, ATTR.listPk, ATTR.listSk];
    let start: Item | undefined = next
      ? decodePageToken(next, startKeySchema(keyNames))
      : undefined;
    const items: Item[] = [];
    // One more than the page is read so `next` is absent exactly on the last page.
    do {
      const out = await this.table.query(op, {
        IndexName: LIST_INDEX,
        KeyConditionExpression: '#listPk = :listPk',
        ExpressionAttributeNames: { '#listPk': ATTR.listPk },
        ExpressionAttributeValues: { ':listPk': av.s(listPk) },
        ExclusiveStartKey: start,
        Limit: size + 1 - items.length,
      });
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start && items.length <= size);
    if (items.length <= size) return { items };
    const pageItems = items.slice(0, size);
    const last = pageItems[size - 1] as Item;
    return { items: pageItems, next: encodePageToken(keyOf(last, keyNames)) };
  }
}

// ---------------------------------------------------------------------------
// Item codecs

/**
 * A fenced write to the record: no newer lease taken (leaseToken), no newer
 * token written (fence, which the write raises), target not deleted (ttl).
 */
function fenceCondition() {
  return {
    expression:
      '(attribute_not_exists(#leaseToken) OR #leaseToken <= :token) AND ' +
      '(attribute_not_exists(#fence) OR #fence <= :token) AND attribute_not_exists(#ttl)',
    raise: '#fence = :token',
    names: { '#leaseToken': ATTR.leaseToken, '#fence': ATTR.fence, '#ttl': ATTR.ttl },
    values: (token: number): Item => ({ ':token': av.n(token) }),
  };
}

/** SET the per-check timestamps that are present, REMOVE the absent ones. */
function timestampUpdate(stamps: { lastCheckedAt?: string; checkStartedAt?: string }) {
  const sets: string[] = [];
  const removes: string[] = [];
  const names: Record<string, string> = {};
  const values: Item = {};
  for (const [name, value] of Object.entries(stamps)) {
    names[`#${name}`] = name;
    if (value === undefined) removes.push(`#${name}`);
    else {
      sets.push(`#${name} = :${name}`);
      values[`:${name}`] = av.s(value);
    }
  }
  return { sets, removes, names, values };
}

/** `SET a, b REMOVE c, d`, leaving out an empty clause. */
function updateExpression(sets: string[], removes: string[]): string {
  return [
    sets.length ? `SET ${sets.join(', ')}` : '',
    removes.length ? `REMOVE ${removes.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

export async function decodeStatus(blob: Uint8Array, key: string): Promise<TargetStatus> {
  try {
    const json = (await gunzipAsync(blob)).toString('utf8');
    return JSON.parse(json) as TargetStatus;
  } catch (e) {
    throw new DriftlessError(
      'Internal',
      `stored status of ${key} cannot be read (${(e as Error).message}); the next reconcile rewrites it`,
      {},
      { cause: e },
    );
  }
}

/**
 * The form ApplicationSchema parses: durations back to strings (`300000ms`).
 * Typed as the schema's input, so a new duration field fails to compile here.
 */
export function applicationInput(app: Application): ApplicationInput {
  const policy = app.spec.syncPolicy;
  const ms = (n: number) => `${n}ms`;
  return {
    ...app,
    spec: {
      ...app.spec,
      syncPolicy: {
        ...policy,
        interval: ms(policy.interval),
        healthTimeout: ms(policy.healthTimeout),
        retry: {
          ...policy.retry,
          backoff: {
            ...policy.retry.backoff,
            duration: ms(policy.retry.backoff.duration),
            maxDuration: ms(policy.retry.backoff.maxDuration),
          },
        },
      },
    },
  };
}

function parseStored<T>(schema: z.ZodType<T>, item: Item, what: string): T {
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

/** A record item (table or index) as a TargetRecord; undefined for tombstones and bare leases. */
export function recordFromItem(item: Item): TargetRecord | undefined {
  const app = readString(item, ATTR.app);
  const cluster = readString(item, ATTR.cluster);
  const repoURL = readString(item, ATTR.repoURL);
  const revision = readString(item, ATTR.revision);
  if (!app || !cluster || !repoURL || revision === undefined) return undefined;
  const record: TargetRecord = {
    app,
    cluster,
    repoURL,
    revision,
    suspended: readBool(item, ATTR.suspended) ?? false,
    intervalMs: readNumber(item, ATTR.intervalMs) ?? 0,
    nextDueAt: readNumber(item, ATTR.nextDueAt) ?? 0,
  };
  const wantedRevision = readString(item, ATTR.wantedRevision);
  const wantedAt = readNumber(item, ATTR.wantedAt);
  if (wantedRevision !== undefined) record.wantedRevision = wantedRevision;
  if (wantedAt !== undefined) record.wantedAt = wantedAt;
  return record;
}

function pageSize(limit: number): number {
  if (!Number.isFinite(limit) || limit < 1) {
    throw new DriftlessError('InvalidSpec', `page limit must be at least 1, got ${limit}`, {
      field: 'limit',
    });
  }
  return Math.min(Math.floor(limit), MAX_PAGE_SIZE);
}
