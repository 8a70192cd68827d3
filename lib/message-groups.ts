// The records of one queue batch, several message groups at once: a FIFO
// queue's order holds within a group (a target), not across groups, so the
// groups run concurrently up to a bound while each group's records run in
// order. A failure stops its own group there — the group's later records are
// skipped, so they come back after it and the order is kept — and never
// touches another group. Nothing a handler throws rejects the batch: every
// record ends with an outcome. Records without a group (a standard queue) are
// each a group of their own. Powertools' SQS FIFO processor does the skipping
// but runs every record one after another; its parallel processor has no
// bound and no groups.

import { mapBounded } from './concurrency.js';

export type RecordOutcome =
  | { kind: 'done' }
  /** The handler threw (or rejected) for this record. */
  | { kind: 'failed'; error: unknown }
  /** Not run: an earlier record of its group failed. */
  | { kind: 'skipped'; group: string };

export interface GroupedBatchOptions<T> {
  /** The record's message group; undefined, a group of its own. */
  groupOf: (record: T) => string | undefined;
  /** Most groups in flight at once. */
  limit: number;
  handle: (record: T) => Promise<void>;
}

/** Runs `records` by group; resolves (never rejects) to each record's outcome, in input order. */
export async function processGroups<T>(
  records: readonly T[],
  opts: GroupedBatchOptions<T>,
): Promise<RecordOutcome[]> {
  // Groups in order of their first record; each keeps its records' batch order.
  const groups = new Map<string | symbol, number[]>();
  records.forEach((record, index) => {
    const key = opts.groupOf(record) ?? Symbol('ungrouped');
    const members = groups.get(key);
    if (members) members.push(index);
    else groups.set(key, [index]);
  });
  const outcomes = new Array<RecordOutcome>(records.length);
  await mapBounded([...groups.entries()], opts.limit, async ([key, members]) => {
    let failed = false;
    for (const index of members) {
      if (failed) {
        outcomes[index] = { kind: 'skipped', group: String(key) };
        continue;
      }
      try {
        await opts.handle(records[index] as T);
        outcomes[index] = { kind: 'done' };
      } catch (error) {
        outcomes[index] = { kind: 'failed', error };
        failed = true;
      }
    }
  });
  return outcomes;
}
