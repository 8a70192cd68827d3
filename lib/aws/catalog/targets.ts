// Target records: one small item per target (app × cluster) holding what the
// webhook and the sweep route by (repository, revision, suspension, schedule),
// the wanted revision, the lease (lease.ts), the status bookkeeping and the
// status summary a list of apps shows (status.ts writes it; not projected
// into the indexes, which only route). The
// spec-derived attributes are written with an UpdateItem so the status, the
// wanted revision and the lease survive a spec update; the target's item in
// its cluster's sweep partition (sweep.ts) is written alongside.
//
// Deleting a target turns its record into a tombstone (lease token kept, TTL a
// day out), then deletes its status and history: a late status write by a
// worker that was mid-reconcile is rejected with LeaseLost instead of
// resurrecting the target.

import { z } from 'zod';
import type { Application } from '../../model/application.js';
import { normalizeRepoURL, type TargetId, targetKey } from '../../model/target.js';
import type { TargetRecord, TargetRecordSummary, TerminationRequest } from '../../ports/store.js';
import { isConditionFailure } from '../dynamo/client.js';
import { Expression, Update } from '../dynamo/expression.js';
import { av, type Item, keyOf, readBool, readNumber, readString } from '../dynamo/items.js';
import {
  ATTR,
  LIST_INDEX,
  repoListKey,
  targetRecordKey,
  targetStatusKey,
} from '../dynamo/schema.js';
import type { CatalogContext } from './context.js';
import { historyKeyCondition } from './history.js';
import type { SweepItems } from './sweep.js';

const TerminationSchema = z.object({
  operationId: z.string(),
  by: z.string(),
  at: z.number(),
}) satisfies z.ZodType<TerminationRequest>;

/** A deleted target's record (the tombstone) lives this long: far past any Lambda run. */
const TOMBSTONE_SECONDS = 24 * 3600;

export class TargetRecords {
  constructor(
    private readonly ctx: CatalogContext,
    private readonly sweep: SweepItems,
  ) {}

  async targetsForRepo(repoURL: string): Promise<TargetRecord[]> {
    const records: TargetRecord[] = [];
    const x = new Expression();
    const keyCondition = `${x.name(ATTR.listPk)} = ${x.value(av.s(repoListKey(normalizeRepoURL(repoURL))))}`;
    let start: Item | undefined;
    do {
      const out = await this.ctx.table.query('targetsForRepo', {
        IndexName: LIST_INDEX,
        KeyConditionExpression: keyCondition,
        ...x.fields(),
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

  async recordWantedRevision(target: TargetId, commit: string, at: number): Promise<void> {
    const u = new Update().set(ATTR.wantedRevision, av.s(commit));
    const atValue = u.value(av.n(at));
    u.setExpression(`${u.name(ATTR.wantedAt)} = ${atValue}`);
    // Never backwards in time; never creates a record for an unknown target.
    const condition = `attribute_exists(${u.name(ATTR.repoURL)}) AND ${u.atMost(ATTR.wantedAt, atValue)}`;
    try {
      await this.ctx.table.updateItem(
        'recordWantedRevision',
        { Key: targetRecordKey(target), ...u.build(condition) },
        2,
      );
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
    }
  }

  async setRecheckToken(target: TargetId, token: string): Promise<void> {
    const u = new Update().set(ATTR.recheckToken, av.s(token));
    try {
      await this.ctx.table.updateItem('setRecheckToken', {
        Key: targetRecordKey(target),
        ...u.build(`attribute_exists(${u.name(ATTR.repoURL)})`),
      });
    } catch (e) {
      // A target deleted meanwhile has nothing to re-check.
      if (!isConditionFailure(e)) throw e;
    }
  }

  async requestTermination(target: TargetId, request: TerminationRequest): Promise<void> {
    const u = new Update().set(ATTR.termination, av.s(JSON.stringify(request)));
    try {
      await this.ctx.table.updateItem('requestTermination', {
        Key: targetRecordKey(target),
        ...u.build(`attribute_exists(${u.name(ATTR.repoURL)})`),
      });
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
    }
  }

  async getTargetRecord(target: TargetId): Promise<TargetRecord | undefined> {
    const out = await this.ctx.table.getItem('getTargetRecord', {
      Key: targetRecordKey(target),
      ConsistentRead: true,
    });
    return out.Item && recordFromItem(out.Item);
  }

  /** One record per destination: only spec-derived attributes change. */
  async putRecord(target: TargetId, app: Application): Promise<void> {
    const u = new Update()
      .set(ATTR.itemType, av.s('Target'))
      .set(ATTR.app, av.s(target.app))
      .set(ATTR.cluster, av.s(target.cluster))
      .set(ATTR.repoURL, av.s(app.spec.source.repoURL))
      .set(ATTR.revision, av.s(app.spec.source.revision))
      .set(ATTR.suspended, av.bool(app.spec.suspended))
      .set(ATTR.intervalMs, av.n(app.spec.syncPolicy.interval))
      .set(ATTR.listPk, av.s(repoListKey(normalizeRepoURL(app.spec.source.repoURL))))
      .set(ATTR.listSk, av.s(targetKey(target)))
      // A tombstone comes back to life.
      .remove(ATTR.ttl);
    await this.ctx.table.updateItem(
      'putApplication',
      { Key: targetRecordKey(target), ...u.build() },
      2,
    );
    await this.sweep.putTarget(target, app);
  }

  /**
   * Removes a target: its record becomes a tombstone first (so stale writers
   * are fenced out from then on), then its status and history go.
   */
  async deleteTarget(target: TargetId): Promise<void> {
    const u = new Update()
      .set(ATTR.itemType, av.s('TargetTombstone'))
      .set(ATTR.ttl, av.n(Math.floor(this.ctx.clock.now() / 1000) + TOMBSTONE_SECONDS))
      .remove(
        ATTR.repoURL,
        ATTR.revision,
        ATTR.suspended,
        ATTR.intervalMs,
        ATTR.wantedRevision,
        ATTR.wantedAt,
        ATTR.listPk,
        ATTR.listSk,
        ATTR.statusHash,
        ATTR.lastCheckedAt,
        ATTR.checkStartedAt,
        ATTR.historySeq,
        ATTR.recheckToken,
        ATTR.termination,
        ATTR.summarySync,
        ATTR.summaryHealth,
        ATTR.summarySyncedRevision,
        ATTR.summaryOperationPhase,
      );
    try {
      await this.ctx.table.updateItem(
        'deleteTarget',
        { Key: targetRecordKey(target), ...u.build(`attribute_exists(${u.name(ATTR.pk)})`) },
        2,
      );
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
    }
    await this.sweep.deleteTarget(target);
    const keys: Item[] = [targetStatusKey(target)];
    const x = new Expression();
    const keyCondition = historyKeyCondition(x, target);
    let start: Item | undefined;
    do {
      const out = await this.ctx.table.query('deleteTarget', {
        KeyConditionExpression: keyCondition,
        ...x.fields(),
        ProjectionExpression: `${x.name(ATTR.pk)}, ${x.name(ATTR.sk)}`,
        ExclusiveStartKey: start,
      });
      for (const item of out.Items ?? []) keys.push(keyOf(item, [ATTR.pk, ATTR.sk]));
      start = out.LastEvaluatedKey;
    } while (start);
    await this.ctx.table.batchWrite(
      'deleteTarget',
      keys.map((Key) => ({ DeleteRequest: { Key } })),
    );
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
  };
  const wantedRevision = readString(item, ATTR.wantedRevision);
  const wantedAt = readNumber(item, ATTR.wantedAt);
  if (wantedRevision !== undefined) record.wantedRevision = wantedRevision;
  if (wantedAt !== undefined) record.wantedAt = wantedAt;
  const recheckToken = readString(item, ATTR.recheckToken);
  if (recheckToken !== undefined) record.recheckToken = recheckToken;
  const termination = readString(item, ATTR.termination);
  if (termination !== undefined) {
    const parsed = TerminationSchema.safeParse(JSON.parse(termination));
    if (parsed.success) record.termination = parsed.data;
  }
  const sync = readString(item, ATTR.summarySync) as TargetRecordSummary['sync'] | undefined;
  const health = readString(item, ATTR.summaryHealth) as TargetRecordSummary['health'] | undefined;
  if (sync && health) {
    const summary: TargetRecordSummary = { sync, health };
    const syncedRevision = readString(item, ATTR.summarySyncedRevision);
    const phase = readString(item, ATTR.summaryOperationPhase);
    const lastCheckedAt = readString(item, ATTR.lastCheckedAt);
    if (syncedRevision !== undefined) summary.syncedRevision = syncedRevision;
    if (phase !== undefined)
      summary.operationPhase = phase as TargetRecordSummary['operationPhase'];
    if (lastCheckedAt !== undefined) summary.lastCheckedAt = lastCheckedAt;
    record.summary = summary;
  }
  return record;
}
