// The Driftless DynamoDB table: one table for everything the data plane
// stores, designed from its access patterns.
//
// Access patterns                                   How
// ------------------------------------------------  ---------------------------------------------
// get/put/delete an Application, Cluster or Project  GetItem/PutItem/DeleteItem  pk=APP#<name> | CLUSTER#<name> | PROJECT#<name>, sk=SPEC
// list Applications / Clusters / Projects, by page   Query `list` index, listPk=APPS | CLUSTERS | PROJECTS, sorted by name
// targets of a repository (webhook routing)          Query `list` index, listPk=REPO#<normalizeRepoURL(url)>
// a cluster's targets for its sweep, with the last   one Query pk=SWEEP#<cluster> (the sweep record and one item
//   check's view of each, and its sweep record         per target, sk TARGET#<app>)
// target record (wanted revision, next due, lease)   GetItem/UpdateItem pk=TARGET#<app>#<cluster>, sk=TARGET
// target status (up to ~1000 objects, gzip)          one Query pk=TARGET#…, sk BETWEEN STATUS AND TARGET (status + record)
// operation history, newest first, bounded           Query pk=TARGET#…, begins_with(sk, HISTORY#), backwards
// lease per target, with fencing token               UpdateItem on the target record (sk=TARGET)
// cluster guard (slots, breaker, backoff)            GetItem + PutItem conditional on its version  pk=GUARD#<cluster>, sk=GUARD
// get/put/delete a Repository record, list them     GetItem/PutItem/DeleteItem pk=REPOSITORY#<name>, sk=SPEC;
//   (credentials by URL prefix)                      Query `list` index, listPk=REPOSITORIES
//
// Items (pk / sk → attributes; ~size)
//   APP#<name>      / SPEC       spec (JSON, input form), listPk=APPS, listSk=<name>           ~1–3 KB
//   CLUSTER#<name>  / SPEC       spec (JSON), listPk=CLUSTERS, listSk=<name>                     ~0.3 KB
//   REPOSITORY#<n> / SPEC        spec (JSON: urlPrefix and the credentials' secret name,        ~0.2 KB
//                                never a secret value), listPk=REPOSITORIES, listSk=<name>
//   GUARD#<cluster> / GUARD      guard (JSON GuardRecord: slot holders with expiry, breaker,    ~0.3–2 KB
//                                backoff-until, counts), version (compare-and-set)
//   TARGET#<a>#<c>  / TARGET     the target record: app, cluster, repoURL, revision, suspended,  ~0.5 KB
//                                intervalMs, wantedRevision, wantedAt;
//                                listPk=REPO#<repo>, listSk=<a>#<c>;
//                                the lease: leaseHolder, leaseToken, leaseExpiresAt;
//                                fence (highest token that wrote status or history);
//                                status bookkeeping: statusHash, lastCheckedAt, checkStartedAt, historySeq;
//                                recheckToken (the live re-check chain), termination (JSON request);
//                                ttl only on a deleted target's tombstone
//   TARGET#<a>#<c>  / STATUS     status (B, gzip JSON), fence (token of its writer), bytes       ~1–100 KB
//   TARGET#<a>#<c>  / HISTORY#<seq, 12 digits>  entry (JSON), ttl                                ~0.5–1 KB
//   TARGET#<a>#<c>  / HISTORY#S#<seq>            a successful sync's entry (its own list)        ~0.5–1 KB
//   SWEEP#<cluster> / TARGET#<app>  what the cluster's sweep needs of a target: app, cluster,     ~0.3–2 KB
//                                intervalMs, suspended, sources (JSON: to resolve), and the last
//                                check's view, observed (B, gzip JSON ObservedState)
//   SWEEP#<cluster> / RECORD    the sweep record (JSON: last tick, counters, confirmed versions) ~0.2–20 KB
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
// - A cluster's sweep reads everything it needs in one Query of its own
//   partition (SWEEP#<cluster>): per target the sources and the last check's
//   compact view (object keys, resourceVersions, metadata fingerprints), so a
//   target that has not changed costs no request of its own — no read, no
//   write, no message. The API writes the spec-derived attributes with the
//   target record; the worker writes `observed` only when a check saw
//   something new, and the sweep record once per tick. A partition of its own
//   (not the cluster spec's), so the worker may write it and nothing of the
//   specs (IAM LeadingKeys SWEEP#*).
// - The `list` index is overloaded: Application and Cluster listings (rare
//   writes, small items) and repository → targets (webhook routing).
// - History items carry a TTL and at most N are kept: each append deletes the
//   entry N places back. Reads also stop at N and skip expired entries (TTL
//   deletion lags by up to two days).
// - A cluster's guard is one small item read and rewritten whole, conditional
//   on the version it read (lib/aws/cluster-guard.ts): slots, the breaker and
//   the backoff change together, and a race is a retried compare-and-set.
//   Every reconcile on the cluster touches it twice (acquire, release); at a
//   concurrency of tens that is far below one partition's limits.
// - Deleting a target keeps its record as a tombstone (lease token kept, ttl set
//   a day out) so tokens stay monotonic and a stale worker's late status write is
//   rejected instead of resurrecting a deleted target; status and history go.
//
// Index reads are eventually consistent: a just-registered app can take a moment
// to appear in listings and routing. Table reads of specs, records and status
// are strongly consistent.

import type {
  AttributeValue,
  CreateTableCommandInput,
  UpdateTimeToLiveCommandInput,
} from '@aws-sdk/client-dynamodb';
import { type TargetId, targetKey } from '../../model/target.js';

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
  historySucceededSeq: 'historySucceededSeq',
  recheckToken: 'recheckToken',
  termination: 'termination',
  /** The status summary on the target record (a list row): written with every status. */
  summarySync: 'summarySync',
  summaryHealth: 'summaryHealth',
  summarySyncedRevision: 'summarySyncedRevision',
  summaryOperationPhase: 'summaryOperationPhase',
  status: 'status',
  fence: 'fence',
  bytes: 'bytes',
  entry: 'entry',
  ttl: 'ttl',
  guard: 'guard',
  version: 'version',
  sources: 'sources',
  specHash: 'specHash',
  observed: 'observed',
  sweep: 'sweep',
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
      nonKeyAttributes: [ATTR.spec, ...RECORD_ATTRIBUTES],
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
export const SK_GUARD = 'GUARD';
export const GUARD_PARTITION_PREFIX = 'GUARD#';
export const SK_TARGET = 'TARGET';
export const SK_STATUS = 'STATUS';
export const SK_HISTORY_PREFIX = 'HISTORY#';
export const LIST_APPS = 'APPS';
/** The partition of the webhook's idempotency records (Powertools, on this table). */
export const IDEMPOTENCY_PARTITION = 'IDEMPOTENCY';
export const LIST_CLUSTERS = 'CLUSTERS';
export const LIST_PROJECTS = 'PROJECTS';
export const LIST_REPOSITORIES = 'REPOSITORIES';

export const SWEEP_PARTITION_PREFIX = 'SWEEP#';
export const SK_SWEEP_TARGET_PREFIX = 'TARGET#';
export const SK_SWEEP_RECORD = 'RECORD';

export type ItemKey = { pk: AttributeValue.SMember; sk: AttributeValue.SMember };

export function appKey(name: string): ItemKey {
  return key(`APP#${name}`, SK_SPEC);
}

export function clusterKey(name: string): ItemKey {
  return key(`CLUSTER#${name}`, SK_SPEC);
}

/** An application's change events live in its spec's partition, newest last by key. */
export const SK_EVENT_PREFIX = 'EVENT#';

export function appEventKey(app: string, at: string, id: string): ItemKey {
  return key(`APP#${app}`, `${SK_EVENT_PREFIX}${at}#${id}`);
}

export function projectKey(name: string): ItemKey {
  return key(`PROJECT#${name}`, SK_SPEC);
}

/** A Repository record (private Git: credentials by URL prefix). */
export function repositoryKey(name: string): ItemKey {
  return key(`REPOSITORY#${name}`, SK_SPEC);
}

/**
 * A cluster's guard: a partition of its own (not the spec's), so the worker
 * may write guards and nothing of the specs (IAM LeadingKeys GUARD#*).
 */
export function clusterGuardKey(name: string): ItemKey {
  return key(`${GUARD_PARTITION_PREFIX}${name}`, SK_GUARD);
}

/** A cluster's sweep partition: its sweep record and one item per target. */
export function sweepPartition(cluster: string): string {
  return `${SWEEP_PARTITION_PREFIX}${cluster}`;
}

export function sweepTargetKey(target: TargetId): ItemKey {
  return key(sweepPartition(target.cluster), `${SK_SWEEP_TARGET_PREFIX}${target.app}`);
}

export function sweepRecordKey(cluster: string): ItemKey {
  return key(sweepPartition(cluster), SK_SWEEP_RECORD);
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
/**
 * The two history lists of a target, each with its own sequence and bound:
 * successful syncs (`HISTORY#S#<seq>`) and everything else (`HISTORY#<seq>`),
 * so failures never push a rollback target out.
 */
export type HistoryList = 'succeeded' | 'other';
export const SK_HISTORY_SUCCEEDED_PREFIX = `${SK_HISTORY_PREFIX}S#`;
const SEQ_DIGITS = 12;

export function historyKey(target: TargetId, seq: number, list: HistoryList = 'other'): ItemKey {
  const prefix = list === 'succeeded' ? SK_HISTORY_SUCCEEDED_PREFIX : SK_HISTORY_PREFIX;
  return key(targetPartition(target), `${prefix}${String(seq).padStart(SEQ_DIGITS, '0')}`);
}

/** The sort-key range of one list (the other list's keys sort after the digits). */
export function historyRange(list: HistoryList): { from: string; to: string } {
  return list === 'succeeded'
    ? {
        from: `${SK_HISTORY_SUCCEEDED_PREFIX}0`,
        to: `${SK_HISTORY_SUCCEEDED_PREFIX}${'9'.repeat(SEQ_DIGITS)}`,
      }
    : { from: `${SK_HISTORY_PREFIX}0`, to: `${SK_HISTORY_PREFIX}${'9'.repeat(SEQ_DIGITS)}` };
}

export function repoListKey(normalizedRepoURL: string): string {
  return `REPO#${normalizedRepoURL}`;
}

function key(pk: string, sk: string): ItemKey {
  return { pk: { S: pk }, sk: { S: sk } };
}
