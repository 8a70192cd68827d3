// The Driftless DynamoDB table: one table for everything the data plane
// stores, designed from its access patterns.
//
// Access patterns                                   How
// ------------------------------------------------  ---------------------------------------------
// get/put/delete an Application or Cluster spec      GetItem/PutItem/DeleteItem  pk=APP#<name> | CLUSTER#<name>, sk=SPEC
// list Applications / Clusters, a page at a time     Query `list` index, listPk=APPS | CLUSTERS, sorted by name
// targets of a repository (webhook routing)          Query `list` index, listPk=REPO#<normalizeRepoURL(url)>
// due targets, a page at a time (drift sweep)        Query `due` index per shard, duePk=DUE#<nn>, nextDueAt <= now
// target record (wanted revision, next due, lease)   GetItem/UpdateItem pk=TARGET#<app>#<cluster>, sk=TARGET
// target status (up to ~1000 objects, gzip)          one Query pk=TARGET#…, sk BETWEEN STATUS AND TARGET (status + record)
// operation history, newest first, bounded           Query pk=TARGET#…, begins_with(sk, HISTORY#), backwards
// lease per target, with fencing token               UpdateItem on the target record (sk=TARGET)
//
// Items (pk / sk → attributes; ~size)
//   APP#<name>      / SPEC       spec (JSON, input form), listPk=APPS, listSk=<name>           ~1–3 KB
//   CLUSTER#<name>  / SPEC       spec (JSON), listPk=CLUSTERS, listSk=<name>                     ~0.3 KB
//   TARGET#<a>#<c>  / TARGET     the target record: app, cluster, repoURL, revision, suspended,  ~0.5 KB
//                                intervalMs, nextDueAt, wantedRevision, wantedAt;
//                                listPk=REPO#<repo>, listSk=<a>#<c>, duePk=DUE#<nn> (absent when suspended);
//                                the lease: leaseHolder, leaseToken, leaseExpiresAt;
//                                fence (highest token that wrote status or history);
//                                status bookkeeping: statusHash, lastCheckedAt, checkStartedAt, historySeq;
//                                ttl only on a deleted target's tombstone
//   TARGET#<a>#<c>  / STATUS     status (B, gzip JSON), fence (token of its writer), bytes       ~1–100 KB
//   TARGET#<a>#<c>  / HISTORY#<seq, 12 digits>  entry (JSON), ttl                                ~0.5–1 KB
//
// Why it is shaped like this:
// - Every target has its own partition key, so fan-out (one app on 500 clusters
//   reconciling at once) spreads over partitions instead of heating one.
// - The status blob has an item of its own. DynamoDB charges an UpdateItem for
//   the larger of the old and new item, and a GetItem for the whole item, so the
//   webhook's and the sweep's small writes (wanted revision, next due time) and
//   the lease must not share an item with a 100 KB blob. The record is small.
// - The lease lives on the record item: acquiring increments `leaseToken`, and
//   every status and history write is a conditional update of that same item:
//   `leaseToken <= :myToken AND fence <= :myToken` (each or not yet set), which
//   sets fence = :myToken. So once B acquires, A's writes are rejected
//   (LeaseLost) even before B has written anything; a token that is not from
//   the lease manager is still fenced by what has written (like MemoryStore);
//   and acquire stays one conditional UpdateItem. The status item carries its
//   writer's token too and is written only if that is not newer, which settles
//   a stale write that passed the record's check just before B's.
// - Per-check timestamps (lastCheckedAt, checkStartedAt) and a hash of the rest
//   of the status live on the record, so a drift check that finds nothing new
//   writes ~1 WCU to the record instead of rewriting the blob (see catalog.ts).
// - Indexes project only the record's small attributes (INCLUDE), never the
//   lease or bookkeeping attributes, so a reconcile's writes (lease, status
//   bookkeeping) cause no index writes; only spec changes, wanted revisions and
//   next-due updates do.
// - The `due` index's partition key is one of DUE_SHARDS shards chosen by a hash
//   of the target key. One partition for all targets would take every
//   next-due update of every reconcile (and an index that cannot keep up
//   throttles writes to the table itself); a sweep reads the shards one after
//   another. Suspended targets have no duePk, so the sparse index excludes them.
// - The `list` index is overloaded: Application and Cluster listings (rare
//   writes, small items) and repository → targets (webhook routing).
// - History items carry a TTL and at most N are kept: each append deletes the
//   entry N places back. Reads also stop at N and skip expired entries (TTL
//   deletion lags by up to two days).
// - Deleting a target keeps its record as a tombstone (lease token kept, ttl set
//   a day out) so tokens stay monotonic and a stale worker's late status write is
//   rejected instead of resurrecting a deleted target; status and history go.
//
// Index reads are eventually consistent: a just-registered app can take a moment
// to appear in listings and routing. Table reads of specs, records and status
// are strongly consistent.

import { createHash } from 'node:crypto';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  type BatchWriteItemCommandInput,
  type BatchWriteItemCommandOutput,
  ConditionalCheckFailedException,
  type ConsumedCapacity,
  type CreateTableCommandInput,
  DeleteItemCommand,
  type DeleteItemCommandInput,
  type DeleteItemCommandOutput,
  type DynamoDBClient,
  GetItemCommand,
  type GetItemCommandInput,
  type GetItemCommandOutput,
  PutItemCommand,
  type PutItemCommandInput,
  type PutItemCommandOutput,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
  type UpdateItemCommandOutput,
  type UpdateTimeToLiveCommandInput,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { DriftlessError } from '../errors.js';
import { type TargetId, targetKey } from '../model/target.js';

// ---------------------------------------------------------------------------
// Definition (shared by tests, scripts and the CDK stack)

export interface KeyAttribute {
  name: string;
  type: 'S' | 'N';
}

export interface IndexDefinition {
  indexName: string;
  partitionKey: KeyAttribute;
  sortKey: KeyAttribute;
  /** Projection INCLUDE: the non-key attributes copied into the index. */
  nonKeyAttributes: readonly string[];
}

export interface TableDefinition {
  partitionKey: KeyAttribute;
  sortKey: KeyAttribute;
  billingMode: 'PAY_PER_REQUEST';
  /** Epoch seconds; items past it are deleted by DynamoDB (lazily, within ~2 days). */
  timeToLiveAttribute: string;
  globalSecondaryIndexes: readonly IndexDefinition[];
}

/** Attribute names used in items (one place, so expressions and the definition agree). */
export const ATTR = {
  pk: 'pk',
  sk: 'sk',
  itemType: 'itemType',
  spec: 'spec',
  listPk: 'listPk',
  listSk: 'listSk',
  duePk: 'duePk',
  nextDueAt: 'nextDueAt',
  app: 'app',
  cluster: 'cluster',
  repoURL: 'repoURL',
  revision: 'revision',
  suspended: 'suspended',
  intervalMs: 'intervalMs',
  wantedRevision: 'wantedRevision',
  wantedAt: 'wantedAt',
  leaseHolder: 'leaseHolder',
  leaseToken: 'leaseToken',
  leaseExpiresAt: 'leaseExpiresAt',
  statusHash: 'statusHash',
  lastCheckedAt: 'lastCheckedAt',
  checkStartedAt: 'checkStartedAt',
  historySeq: 'historySeq',
  status: 'status',
  fence: 'fence',
  bytes: 'bytes',
  entry: 'entry',
  ttl: 'ttl',
} as const;

/** What a TargetRecord is made of; projected into both indexes. */
const RECORD_ATTRIBUTES = [
  ATTR.app,
  ATTR.cluster,
  ATTR.repoURL,
  ATTR.revision,
  ATTR.suspended,
  ATTR.intervalMs,
  ATTR.wantedRevision,
  ATTR.wantedAt,
] as const;

export const LIST_INDEX = 'list';
export const DUE_INDEX = 'due';

export const TABLE_DEFINITION: TableDefinition = {
  partitionKey: { name: ATTR.pk, type: 'S' },
  sortKey: { name: ATTR.sk, type: 'S' },
  billingMode: 'PAY_PER_REQUEST',
  timeToLiveAttribute: ATTR.ttl,
  globalSecondaryIndexes: [
    {
      indexName: LIST_INDEX,
      partitionKey: { name: ATTR.listPk, type: 'S' },
      sortKey: { name: ATTR.listSk, type: 'S' },
      nonKeyAttributes: [ATTR.spec, ...RECORD_ATTRIBUTES, ATTR.nextDueAt],
    },
    {
      indexName: DUE_INDEX,
      partitionKey: { name: ATTR.duePk, type: 'S' },
      sortKey: { name: ATTR.nextDueAt, type: 'N' },
      nonKeyAttributes: [...RECORD_ATTRIBUTES],
    },
  ],
};

/** CreateTable input for the definition (tests, local scripts). TTL needs timeToLiveInput too. */
export function createTableInput(
  tableName: string,
  def: TableDefinition = TABLE_DEFINITION,
): CreateTableCommandInput {
  const keys = [
    def.partitionKey,
    def.sortKey,
    ...def.globalSecondaryIndexes.flatMap((i) => [i.partitionKey, i.sortKey]),
  ];
  const attributes = new Map(keys.map((k) => [k.name, k.type]));
  return {
    TableName: tableName,
    BillingMode: def.billingMode,
    AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({
      AttributeName,
      AttributeType,
    })),
    KeySchema: [
      { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
      { AttributeName: def.sortKey.name, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: def.globalSecondaryIndexes.map((i) => ({
      IndexName: i.indexName,
      KeySchema: [
        { AttributeName: i.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: i.sortKey.name, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...i.nonKeyAttributes] },
    })),
  };
}

export function timeToLiveInput(
  tableName: string,
  def: TableDefinition = TABLE_DEFINITION,
): UpdateTimeToLiveCommandInput {
  return {
    TableName: tableName,
    TimeToLiveSpecification: { Enabled: true, AttributeName: def.timeToLiveAttribute },
  };
}

// ---------------------------------------------------------------------------
// Keys

export const SK_SPEC = 'SPEC';
export const SK_TARGET = 'TARGET';
export const SK_STATUS = 'STATUS';
export const SK_HISTORY_PREFIX = 'HISTORY#';
export const LIST_APPS = 'APPS';
/** The partition of the webhook's idempotency records (Powertools, on this table). */
export const IDEMPOTENCY_PARTITION = 'IDEMPOTENCY';
export const LIST_CLUSTERS = 'CLUSTERS';

/** Shards of the due index. Changing it needs every record's duePk rewritten (re-put the apps). */
export const DUE_SHARDS = 16;

export type ItemKey = { pk: AttributeValue.SMember; sk: AttributeValue.SMember };

export function appKey(name: string): ItemKey {
  return key(`APP#${name}`, SK_SPEC);
}

export function clusterKey(name: string): ItemKey {
  return key(`CLUSTER#${name}`, SK_SPEC);
}

export function targetPartition(target: TargetId): string {
  return `TARGET#${targetKey(target)}`;
}

export function targetRecordKey(target: TargetId): ItemKey {
  return key(targetPartition(target), SK_TARGET);
}

export function targetStatusKey(target: TargetId): ItemKey {
  return key(targetPartition(target), SK_STATUS);
}

/** Zero-padded so the sort key orders numerically: HISTORY#000000000042. */
export function historyKey(target: TargetId, seq: number): ItemKey {
  return key(targetPartition(target), `${SK_HISTORY_PREFIX}${String(seq).padStart(12, '0')}`);
}

export function repoListKey(normalizedRepoURL: string): string {
  return `REPO#${normalizedRepoURL}`;
}

/** The due-index shard of a target: stable, spread evenly by a hash of its key. */
export function dueShard(target: TargetId, shards = DUE_SHARDS): string {
  return dueShardName(dueShardIndex(target, shards));
}

export function dueShardIndex(target: TargetId, shards = DUE_SHARDS): number {
  const digest = createHash('sha256').update(targetKey(target)).digest();
  return digest.readUInt32BE(0) % shards;
}

export function dueShardName(index: number): string {
  return `DUE#${String(index).padStart(2, '0')}`;
}

function key(pk: string, sk: string): ItemKey {
  return { pk: { S: pk }, sk: { S: sk } };
}

// ---------------------------------------------------------------------------
// Attribute values

export type Item = Record<string, AttributeValue>;

export const av = {
  s: (value: string): AttributeValue => ({ S: value }),
  n: (value: number): AttributeValue => ({ N: String(value) }),
  b: (value: Uint8Array): AttributeValue => ({ B: value }),
  bool: (value: boolean): AttributeValue => ({ BOOL: value }),
};

export function readString(item: Item | undefined, name: string): string | undefined {
  const v = item?.[name];
  return v && 'S' in v ? v.S : undefined;
}

export function readNumber(item: Item | undefined, name: string): number | undefined {
  const v = item?.[name];
  return v && 'N' in v && v.N !== undefined ? Number(v.N) : undefined;
}

export function readBool(item: Item | undefined, name: string): boolean | undefined {
  const v = item?.[name];
  return v && 'BOOL' in v ? v.BOOL : undefined;
}

export function readBinary(item: Item | undefined, name: string): Uint8Array | undefined {
  const v = item?.[name];
  return v && 'B' in v ? v.B : undefined;
}

// ---------------------------------------------------------------------------
// Page tokens: the LastEvaluatedKey, opaque to callers.

const KeyValueSchema = z.union([
  z.object({ S: z.string() }).strict(),
  z.object({ N: z.string().regex(/^-?\d+(\.\d+)?$/) }).strict(),
]);
const ExclusiveStartKeySchema = z.record(z.string(), KeyValueSchema);

export function encodePageToken(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** Decodes a token from encodePageToken; a token that does not fit `schema` is the caller's error. */
export function decodePageToken<T>(token: string, schema: z.ZodType<T>): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    throw new DriftlessError(
      'InvalidSpec',
      'the page token is not one this listing returned; start again without it',
      { field: 'next' },
    );
  }
  return result.data;
}

/** A key token restricted to the given key attributes (so a token cannot smuggle other input). */
export function startKeySchema(names: readonly string[]) {
  return ExclusiveStartKeySchema.refine(
    (k) => Object.keys(k).every((n) => names.includes(n)) && names.every((n) => n in k),
    'unexpected key attributes',
  );
}

/** The key attributes of an item as an ExclusiveStartKey. */
export function keyOf(item: Item, names: readonly string[]): Item {
  const out: Item = {};
  for (const n of names) {
    const v = item[n];
    if (v) out[n] = v;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Capacity. Every request asks for ReturnConsumedCapacity TOTAL and reports it.
// An estimate from item sizes goes along: moto answers with fixed numbers
// (0.5 or 1 whatever the size), so a benchmark against it needs the estimate.

export interface CapacityEstimate {
  /** Read units by DynamoDB's rules: 4 KB per unit (half for eventually consistent reads). */
  readUnits: number;
  /** Write units by DynamoDB's rules: 1 KB per unit per item, plus index entries written. */
  writeUnits: number;
  /** Bytes of the items read or written, as DynamoDB sizes them. */
  bytes: number;
}

export type CapacityListener = (
  op: string,
  capacity: ConsumedCapacity,
  estimate: CapacityEstimate,
) => void;

/** An item's size as DynamoDB bills it: attribute names plus values. */
export function itemSize(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += utf8(name) + valueSize(value);
  return size;
}

function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return utf8(v.S);
  if (v.N !== undefined) return Math.ceil(significantDigits(v.N) / 2) + 1;
  if (v.B !== undefined) return v.B.byteLength;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS !== undefined) return v.SS.reduce((n, s) => n + utf8(s), 0);
  if (v.NS !== undefined) return v.NS.reduce((n, s) => n + valueSize({ N: s }), 0);
  if (v.BS !== undefined) return v.BS.reduce((n, b) => n + b.byteLength, 0);
  if (v.L !== undefined) return 3 + v.L.reduce((n, e) => n + 1 + valueSize(e), 0);
  if (v.M !== undefined) {
    return 3 + Object.entries(v.M).reduce((n, [k, e]) => n + 1 + utf8(k) + valueSize(e), 0);
  }
  return 0;
}

/** Leading and trailing zeros do not count (DynamoDB stores numbers normalized). */
function significantDigits(n: string): number {
  const digits = n.replace(/^-/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.max(1, digits.length);
}

function utf8(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

export function readEstimate(items: Item[], consistent: boolean): CapacityEstimate {
  const bytes = items.reduce((n, i) => n + itemSize(i), 0);
  const units = Math.max(1, Math.ceil(bytes / 4096));
  return { readUnits: consistent ? units : units / 2, writeUnits: 0, bytes };
}

export function writeEstimate(bytes: number, indexWrites = 0): CapacityEstimate {
  return { readUnits: 0, writeUnits: Math.max(1, Math.ceil(bytes / 1024)) + indexWrites, bytes };
}

// ---------------------------------------------------------------------------
// The table client: adds the table name and ReturnConsumedCapacity, reports
// capacity, and turns infrastructure failures into DriftlessErrors.
// ConditionalCheckFailedException passes through: callers decide what it means.

type Scoped<T> = Omit<T, 'TableName' | 'ReturnConsumedCapacity'>;

export interface DynamoTableOptions {
  client: DynamoDBClient;
  tableName: string;
  onConsumedCapacity?: CapacityListener;
}

export class DynamoTable {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  private readonly onConsumedCapacity?: CapacityListener;

  constructor(opts: DynamoTableOptions) {
    this.client = opts.client;
    this.tableName = opts.tableName;
    this.onConsumedCapacity = opts.onConsumedCapacity;
  }

  async getItem(op: string, input: Scoped<GetItemCommandInput>): Promise<GetItemCommandOutput> {
    const out = await this.run(op, 'GetItem', () =>
      this.client.send(new GetItemCommand({ ...this.scope(), ...input })),
    );
    this.report(
      op,
      out.ConsumedCapacity,
      readEstimate(out.Item ? [out.Item] : [], !!input.ConsistentRead),
    );
    return out;
  }

  async query(op: string, input: Scoped<QueryCommandInput>): Promise<QueryCommandOutput> {
    const out = await this.run(op, 'Query', () =>
      this.client.send(new QueryCommand({ ...this.scope(), ...input })),
    );
    this.report(op, out.ConsumedCapacity, readEstimate(out.Items ?? [], !!input.ConsistentRead));
    return out;
  }

  /** `indexWrites`: index entries this write adds, changes or removes (for the estimate). */
  async putItem(
    op: string,
    input: Scoped<PutItemCommandInput>,
    indexWrites = 0,
  ): Promise<PutItemCommandOutput> {
    const estimate = writeEstimate(itemSize(input.Item ?? {}), indexWrites);
    const out = await this.run(
      op,
      'PutItem',
      () => this.client.send(new PutItemCommand({ ...this.scope(), ...input })),
      estimate,
    );
    this.report(op, out.ConsumedCapacity, estimate);
    return out;
  }

  /**
   * The estimate counts the key and the values written: the table's updates
   * are all on small items (records), which round to 1 KB anyway.
   */
  async updateItem(
    op: string,
    input: Scoped<UpdateItemCommandInput>,
    indexWrites = 0,
  ): Promise<UpdateItemCommandOutput> {
    const written = itemSize({ ...input.Key, ...input.ExpressionAttributeValues });
    const estimate = writeEstimate(written, indexWrites);
    const out = await this.run(
      op,
      'UpdateItem',
      () => this.client.send(new UpdateItemCommand({ ...this.scope(), ...input })),
      estimate,
    );
    const returned = out.Attributes ? itemSize(out.Attributes) : 0;
    const final = returned > written ? writeEstimate(returned, indexWrites) : estimate;
    this.report(op, out.ConsumedCapacity, final);
    return out;
  }

  async deleteItem(
    op: string,
    input: Scoped<DeleteItemCommandInput>,
    indexWrites = 0,
  ): Promise<DeleteItemCommandOutput> {
    const estimate = writeEstimate(itemSize(input.Key ?? {}), indexWrites);
    const out = await this.run(
      op,
      'DeleteItem',
      () => this.client.send(new DeleteItemCommand({ ...this.scope(), ...input })),
      estimate,
    );
    this.report(op, out.ConsumedCapacity, estimate);
    return out;
  }

  /** Writes up to any number of requests, 25 per call, retrying unprocessed ones. */
  async batchWrite(op: string, requests: WriteRequest[]): Promise<void> {
    for (let i = 0; i < requests.length; i += 25) {
      let pending = requests.slice(i, i + 25);
      for (let attempt = 1; pending.length; attempt++) {
        if (attempt > 6) {
          throw new DriftlessError(
            'Internal',
            `DynamoDB BatchWriteItem (${op}) on table ${this.tableName} left ${pending.length} writes unprocessed after ${attempt - 1} attempts (throttled?); retry the operation`,
          );
        }
        if (attempt > 1) await sleep(Math.min(2_000, 50 * 2 ** attempt));
        const input: BatchWriteItemCommandInput = {
          RequestItems: { [this.tableName]: pending },
          ReturnConsumedCapacity: 'TOTAL',
        };
        const bytes = pending.reduce(
          (n, r) => n + itemSize(r.PutRequest?.Item ?? r.DeleteRequest?.Key ?? {}),
          0,
        );
        const estimate: CapacityEstimate = {
          readUnits: 0,
          writeUnits: pending.reduce(
            (n, r) =>
              n +
              Math.max(
                1,
                Math.ceil(itemSize(r.PutRequest?.Item ?? r.DeleteRequest?.Key ?? {}) / 1024),
              ),
            0,
          ),
          bytes,
        };
        const out: BatchWriteItemCommandOutput = await this.run(op, 'BatchWriteItem', () =>
          this.client.send(new BatchWriteItemCommand(input)),
        );
        const consumed = out.ConsumedCapacity?.reduce<ConsumedCapacity | undefined>(
          (sum, c) => ({
            TableName: this.tableName,
            CapacityUnits: (sum?.CapacityUnits ?? 0) + (c.CapacityUnits ?? 0),
          }),
          undefined,
        );
        this.report(op, consumed, estimate);
        pending = out.UnprocessedItems?.[this.tableName] ?? [];
      }
    }
  }

  private scope() {
    return { TableName: this.tableName, ReturnConsumedCapacity: 'TOTAL' as const };
  }

  private report(op: string, consumed: ConsumedCapacity | undefined, estimate: CapacityEstimate) {
    if (!this.onConsumedCapacity) return;
    this.onConsumedCapacity(
      op,
      consumed ?? {
        TableName: this.tableName,
        CapacityUnits: estimate.readUnits + estimate.writeUnits,
        ReadCapacityUnits: estimate.readUnits,
        WriteCapacityUnits: estimate.writeUnits,
      },
      estimate,
    );
  }

  /**
   * Runs one request. A failed condition is still billed, so it is reported
   * (with the estimate) before it is rethrown for the caller to interpret.
   */
  private async run<T>(
    op: string,
    command: string,
    send: () => Promise<T>,
    failedWriteEstimate?: CapacityEstimate,
  ): Promise<T> {
    try {
      return await send();
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) {
        if (failedWriteEstimate) this.report(op, undefined, failedWriteEstimate);
        throw e;
      }
      if (e instanceof DriftlessError) throw e;
      const err = e instanceof Error ? e : new Error(String(e));
      const hint =
        err.name === 'ResourceNotFoundException'
          ? ` (does table ${this.tableName} exist in this account and region? check the table name the function was configured with)`
          : '';
      throw new DriftlessError(
        'Internal',
        `DynamoDB ${command} (${op}) on table ${this.tableName} failed: ${err.name}: ${err.message}${hint}`,
        {},
        { cause: e },
      );
    }
  }
}

export function isConditionFailure(e: unknown): e is ConditionalCheckFailedException {
  return e instanceof ConditionalCheckFailedException;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
