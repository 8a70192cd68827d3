// Operation history: at most `historyLimit` entries per target (each append
// deletes the entry that many places back), each with a TTL; reads return at
// most `historyLimit`, newest first, and skip expired entries (TTL deletion
// lags by up to two days). Appends are fenced like status writes.

import { DriftlessError } from '../../errors.js';
import type { OperationResult } from '../../model/status.js';
import { type TargetId, targetKey } from '../../model/target.js';
import { Expression, Update } from '../dynamo/expression.js';
import { av, type Item, readNumber, readString } from '../dynamo/items.js';
import { ATTR, historyKey, SK_HISTORY_PREFIX, targetPartition } from '../dynamo/schema.js';
import type { CatalogContext } from './context.js';
import { fencedUpdate } from './fence.js';

export class HistoryItems {
  constructor(private readonly ctx: CatalogContext) {}

  async appendHistory(
    target: TargetId,
    entry: OperationResult,
    fencingToken: number,
  ): Promise<void> {
    const u = new Update();
    const seqName = u.name(ATTR.historySeq);
    u.setExpression(
      `${seqName} = if_not_exists(${seqName}, ${u.value(av.n(0))}) + ${u.value(av.n(1))}`,
    );
    const updated = await fencedUpdate(this.ctx, target, fencingToken, 'history', u, 'UPDATED_NEW');
    const seq = readNumber(updated, ATTR.historySeq);
    if (seq === undefined) {
      throw new DriftlessError('Internal', `history sequence of ${targetKey(target)} not returned`);
    }
    const expires = Math.floor(this.ctx.clock.now() / 1000) + this.ctx.historyTtlSeconds;
    await this.ctx.table.putItem('appendHistory', {
      Item: {
        ...historyKey(target, seq),
        [ATTR.itemType]: av.s('HistoryEntry'),
        [ATTR.entry]: av.s(JSON.stringify(entry)),
        [ATTR.fence]: av.n(fencingToken),
        [ATTR.ttl]: av.n(expires),
      },
    });
    if (seq > this.ctx.historyLimit) {
      try {
        await this.ctx.table.deleteItem('appendHistory', {
          Key: historyKey(target, seq - this.ctx.historyLimit),
        });
      } catch {
        // Trimming is best effort: reads stop at historyLimit and the TTL removes it.
      }
    }
  }

  async listHistory(target: TargetId, limit = this.ctx.historyLimit): Promise<OperationResult[]> {
    const want = Math.max(0, Math.min(Math.floor(limit), this.ctx.historyLimit));
    if (want === 0) return [];
    const nowSeconds = Math.floor(this.ctx.clock.now() / 1000);
    const entries: OperationResult[] = [];
    const x = new Expression();
    const keyCondition = historyKeyCondition(x, target);
    let start: Item | undefined;
    do {
      const out = await this.ctx.table.query('listHistory', {
        KeyConditionExpression: keyCondition,
        ...x.fields(),
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
}

/** The key condition of a target's history entries (`pk = TARGET#… AND begins_with(sk, HISTORY#)`). */
export function historyKeyCondition(x: Expression, target: TargetId): string {
  return (
    `${x.name(ATTR.pk)} = ${x.value(av.s(targetPartition(target)))} AND ` +
    `begins_with(${x.name(ATTR.sk)}, ${x.value(av.s(SK_HISTORY_PREFIX))})`
  );
}
