// Pages of the `list` index (Applications, Clusters) with opaque tokens.

import { DriftlessError } from '../../errors.js';
import { Expression } from '../dynamo/expression.js';
import {
  av,
  decodePageToken,
  encodePageToken,
  type Item,
  keyOf,
  startKeySchema,
} from '../dynamo/items.js';
import { ATTR, LIST_INDEX } from '../dynamo/schema.js';
import { type CatalogContext, MAX_PAGE_SIZE } from './context.js';

export function pageSize(limit: number): number {
  if (!Number.isFinite(limit) || limit < 1) {
    throw new DriftlessError('InvalidSpec', `page limit must be at least 1, got ${limit}`, {
      field: 'limit',
    });
  }
  return Math.min(Math.floor(limit), MAX_PAGE_SIZE);
}

export async function listPage(
  ctx: CatalogContext,
  op: string,
  listPk: string,
  limit: number,
  next: string | undefined,
): Promise<{ items: Item[]; next?: string }> {
  const size = pageSize(limit);
  const keyNames = [ATTR.pk, ATTR.sk, ATTR.listPk, ATTR.listSk];
  let start: Item | undefined = next ? decodePageToken(next, startKeySchema(keyNames)) : undefined;
  const items: Item[] = [];
  const x = new Expression();
  const keyCondition = `${x.name(ATTR.listPk)} = ${x.value(av.s(listPk))}`;
  // One more than the page is read so `next` is absent exactly on the last page.
  do {
    const out = await ctx.table.query(op, {
      IndexName: LIST_INDEX,
      KeyConditionExpression: keyCondition,
      ...x.fields(),
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
