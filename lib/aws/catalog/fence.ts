// Fenced writes to a target's record: every status and history write is an
// UpdateItem conditional on no newer lease taken (leaseToken), no newer token
// written (fence, which the write raises) and the target not deleted (ttl).

import { DriftlessError } from '../../errors.js';
import { type TargetId, targetKey } from '../../model/target.js';
import { isConditionFailure } from '../dynamo/client.js';
import type { Update } from '../dynamo/expression.js';
import { av, type Item, readNumber } from '../dynamo/items.js';
import { ATTR, targetRecordKey } from '../dynamo/schema.js';
import type { CatalogContext } from './context.js';

/** Adds the fence to an update: raises `fence` to `token`; returns the condition. */
export function fence(u: Update, token: number): string {
  const t = u.value(av.n(token));
  u.setExpression(`${u.name(ATTR.fence)} = ${t}`);
  return `${u.atMost(ATTR.leaseToken, t)} AND ${u.atMost(ATTR.fence, t)} AND attribute_not_exists(${u.name(ATTR.ttl)})`;
}

/** An UpdateItem on the record under the fence, which it raises; LeaseLost if fenced out. */
export async function fencedUpdate(
  ctx: CatalogContext,
  target: TargetId,
  token: number,
  what: 'status' | 'history',
  u: Update,
  returnValues?: 'UPDATED_NEW',
): Promise<Item | undefined> {
  const condition = fence(u, token);
  try {
    const out = await ctx.table.updateItem(
      what === 'status' ? 'putTargetStatus' : 'appendHistory',
      {
        Key: targetRecordKey(target),
        ...u.build(condition),
        ReturnValues: returnValues,
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
