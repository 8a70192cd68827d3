// Operation history: two lists per target, successful syncs and everything
// else, each of at most `historyLimit` entries (each append deletes the entry
// that many places back in its list), each entry with a TTL; a failure that
// repeats the newest entry replaces it with a count. Reads return at most
// `historyLimit`, newest first, and skip expired entries (TTL deletion lags by
// up to two days). Appends are fenced like status writes.

import { DriftlessError } from '../../errors.js';
import { byNewest, collapseRepeat, type OperationResult } from '../../model/status.js';
import { type TargetId, targetKey } from '../../model/target.js';
import { Expression, Update } from '../dynamo/expression.js';
import { av, type Item, readNumber, readString } from '../dynamo/items.js';
import {
  ATTR,
  type HistoryList,
  historyKey,
  historyRange,
  SK_HISTORY_PREFIX,
  targetPartition,
} from '../dynamo/schema.js';
import type { CatalogContext } from './context.js';
import { fencedUpdate } from './fence.js';

export class HistoryItems {
  constructor(private readonly ctx: CatalogContext) {}

  async appendHistory(
    target: TargetId,
    entry: OperationResult,
    fencingToken: number,
  ): Promise<void> {
    const list: HistoryList = entry.phase === 'Succeeded' ? 'succeeded' : 'other';
    // A failure repeating the newest entry replaces it, with a count.
    if (list === 'other') {
      const [newest] = await this.readList(target, 'other', 1);
      const repeat = newest && collapseRepeat(newest.entry, entry);
      if (newest && repeat) {
        await fencedUpdate(this.ctx, target, fencingToken, 'history', new Update());
        await this.put(target, newest.seq, list, repeat, fencingToken);
        return;
      }
    }
    const seqAttr = list === 'succeeded' ? ATTR.historySucceededSeq : ATTR.historySeq;
    const u = new Update();
    const seqName = u.name(seqAttr);
    u.setExpression(
      `${seqName} = if_not_exists(${seqName}, ${u.value(av.n(0))}) + ${u.value(av.n(1))}`,
    );
    const updated = await fencedUpdate(this.ctx, target, fencingToken, 'history', u, 'UPDATED_NEW');
    const seq = readNumber(updated, seqAttr);
    if (seq === undefined) {
      throw new DriftlessError('Internal', `history sequence of ${targetKey(target)} not returned`);
    }
    await this.put(target, seq, list, entry, fencingToken);
    if (seq > this.ctx.historyLimit) {
      try {
        await this.ctx.table.deleteItem('appendHistory', {
          Key: historyKey(target, seq - this.ctx.historyLimit, list),
        });
      } catch {
        // Trimming is best effort: reads stop at historyLimit and the TTL removes it.
      }
    }
  }

  private async put(
    target: TargetId,
    seq: number,
    list: HistoryList,
    entry: OperationResult,
    fencingToken: number,
  ): Promise<void> {
    const expires = Math.floor(this.ctx.clock.now() / 1000) + this.ctx.historyTtlSeconds;
    await this.ctx.table.putItem('appendHistory', {
      Item: {
        ...historyKey(target, seq, list),
        [ATTR.itemType]: av.s('HistoryEntry'),
        [ATTR.entry]: av.s(JSON.stringify(entry)),
        [ATTR.fence]: av.n(fencingToken),
        [ATTR.ttl]: av.n(expires),
      },
    });
  }

  async listHistory(
    target: TargetId,
    limit = this.ctx.historyLimit,
    filter: { succeeded?: boolean } = {},
  ): Promise<OperationResult[]> {
    const want = Math.max(0, Math.min(Math.floor(limit), this.ctx.historyLimit));
    if (want === 0) return [];
    if (filter.succeeded)
      return (await this.readList(target, 'succeeded', want)).map((e) => e.entry);
    const [succeeded, other] = await Promise.all([
      this.readList(target, 'succeeded', want),
      this.readList(target, 'other', want),
    ]);
    return [...succeeded, ...other]
      .map((e) => e.entry)
      .sort(byNewest)
      .slice(0, want);
  }

  /** Up to `want` unexpired entries of one list, newest first. */
  private async readList(
    target: TargetId,
    list: HistoryList,
    want: number,
  ): Promise<{ seq: number; entry: OperationResult }[]> {
    const nowSeconds = Math.floor(this.ctx.clock.now() / 1000);
    const entries: { seq: number; entry: OperationResult }[] = [];
    const range = historyRange(list);
    const x = new Expression();
    const keyCondition =
      `${x.name(ATTR.pk)} = ${x.value(av.s(targetPartition(target)))} AND ` +
      `${x.name(ATTR.sk)} BETWEEN ${x.value(av.s(range.from))} AND ${x.value(av.s(range.to))}`;
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
        const sk = readString(item, ATTR.sk) ?? '';
        const seq = Number.parseInt(sk.slice(sk.lastIndexOf('#') + 1), 10);
        if (text) entries.push({ seq, entry: JSON.parse(text) as OperationResult });
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
