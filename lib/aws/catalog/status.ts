// Target status: a gzip JSON blob in an item of its own (a 1000-object status
// is far over 400 KB as JSON), fenced by its writer's token. The per-check
// timestamps (lastCheckedAt, checkStartedAt) live on the record and the rest
// is hashed: when the hash matches the stored one, the write is one small
// conditional UpdateItem (~1 WCU) instead of rewriting the blob — the common
// case for a drift check that finds nothing new. The record also carries the
// status's summary (sync, health, synced revision, operation phase), which is
// what a list of apps reads instead of every blob.

import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { DriftlessError } from '../../errors.js';
import type { TargetStatus } from '../../model/status.js';
import { type TargetId, targetKey } from '../../model/target.js';
import { summaryOf } from '../../ports/store.js';
import { isConditionFailure } from '../dynamo/client.js';
import { Expression, Update } from '../dynamo/expression.js';
import { av, readBinary, readNumber, readString } from '../dynamo/items.js';
import {
  ATTR,
  SK_STATUS,
  SK_TARGET,
  targetPartition,
  targetRecordKey,
  targetStatusKey,
} from '../dynamo/schema.js';
import type { CatalogContext } from './context.js';
import { fence, fencedUpdate } from './fence.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Room left under DynamoDB's 400 KB item limit for the other attributes of a status item. */
export const MAX_STATUS_BYTES = 390 * 1024;

export class StatusItems {
  constructor(private readonly ctx: CatalogContext) {}

  async getTargetStatus(target: TargetId): Promise<TargetStatus | undefined> {
    // One request reads the status and the record (sk STATUS < TARGET, nothing between).
    const x = new Expression();
    const out = await this.ctx.table.query('getTargetStatus', {
      KeyConditionExpression:
        `${x.name(ATTR.pk)} = ${x.value(av.s(targetPartition(target)))} AND ` +
        `${x.name(ATTR.sk)} BETWEEN ${x.value(av.s(SK_STATUS))} AND ${x.value(av.s(SK_TARGET))}`,
      ...x.fields(),
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
    const stamps = { lastCheckedAt, checkStartedAt };
    // The record carries the list row (summary) with the timestamps, written
    // by both paths so a record written before summaries existed gains one.
    const onRecord = () => setSummary(setTimestamps(new Update(), stamps), status);

    // 1. Unchanged apart from the timestamps: record them, and that is all.
    try {
      const u = onRecord();
      const fenced = fence(u, fencingToken);
      await this.ctx.table.updateItem('putTargetStatus', {
        Key: targetRecordKey(target),
        ...u.build(`${fenced} AND ${u.name(ATTR.statusHash)} = ${u.value(av.s(hash))}`),
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
    await fencedUpdate(
      this.ctx,
      target,
      fencingToken,
      'status',
      onRecord().remove(ATTR.statusHash),
    );
    try {
      const x = new Expression();
      await this.ctx.table.putItem('putTargetStatus', {
        Item: {
          ...targetStatusKey(target),
          [ATTR.itemType]: av.s('TargetStatus'),
          [ATTR.status]: av.b(blob),
          [ATTR.fence]: av.n(fencingToken),
          [ATTR.bytes]: av.n(raw.byteLength),
          [ATTR.statusHash]: av.s(hash),
        },
        ConditionExpression: x.atMost(ATTR.fence, x.value(av.n(fencingToken))),
        ...x.fields(),
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
      const u = new Update().set(ATTR.statusHash, av.s(hash));
      const fenced = fence(u, fencingToken);
      await this.ctx.table.updateItem('putTargetStatus', {
        Key: targetRecordKey(target),
        ...u.build(`${fenced} AND attribute_not_exists(${u.name(ATTR.statusHash)})`),
      });
    } catch (e) {
      // A newer holder took over: its status stands, and no hash is better than a wrong one.
      if (!isConditionFailure(e)) throw e;
    }
  }
}

/** SET the record's summary of `status` (summaryOf), REMOVE what it lacks. */
function setSummary(u: Update, status: TargetStatus): Update {
  const s = summaryOf(status);
  u.set(ATTR.summarySync, av.s(s.sync)).set(ATTR.summaryHealth, av.s(s.health));
  if (s.syncedRevision === undefined) u.remove(ATTR.summarySyncedRevision);
  else u.set(ATTR.summarySyncedRevision, av.s(s.syncedRevision));
  if (s.operationPhase === undefined) u.remove(ATTR.summaryOperationPhase);
  else u.set(ATTR.summaryOperationPhase, av.s(s.operationPhase));
  return u;
}

/** SET the per-check timestamps that are present, REMOVE the absent ones. */
function setTimestamps(
  u: Update,
  stamps: { lastCheckedAt?: string; checkStartedAt?: string },
): Update {
  for (const [name, value] of Object.entries(stamps)) {
    if (value === undefined) u.remove(name);
    else u.set(name, av.s(value));
  }
  return u;
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
