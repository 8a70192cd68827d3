import { describe, expect, it } from 'vitest';
import { processGroups } from '../../lib/message-groups.js';

/** A promise the test settles by hand. */
function deferred() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending continuation run. */
const settle = () => new Promise((r) => setImmediate(r));

interface Rec {
  id: string;
  group?: string;
}

/** Records whose handling the test finishes one by one, recording what started. */
function controlled(records: Rec[]) {
  const gates = new Map(records.map((r) => [r.id, deferred()]));
  const started: string[] = [];
  const handle = async (r: Rec) => {
    started.push(r.id);
    await gates.get(r.id)?.promise;
  };
  const gate = (id: string) => gates.get(id) as ReturnType<typeof deferred>;
  return { started, handle, gate };
}

const rec = (id: string, group?: string): Rec => ({ id, group });
const groupOf = (r: Rec) => r.group;

describe('processGroups', () => {
  it('runs the heads of several groups at once, up to the limit', async () => {
    const records = [rec('a1', 'a'), rec('b1', 'b'), rec('c1', 'c')];
    const c = controlled(records);
    const run = processGroups(records, { groupOf, limit: 2, handle: c.handle });
    await settle();
    // Two groups in flight together; the third waits for a free slot.
    expect(c.started).toEqual(['a1', 'b1']);
    c.gate('b1').resolve();
    await settle();
    expect(c.started).toEqual(['a1', 'b1', 'c1']);
    c.gate('a1').resolve();
    c.gate('c1').resolve();
    expect(await run).toEqual([{ kind: 'done' }, { kind: 'done' }, { kind: 'done' }]);
  });

  it("runs a group's records in batch order, one after the other", async () => {
    const records = [rec('a1', 'a'), rec('b1', 'b'), rec('a2', 'a'), rec('a3', 'a')];
    const c = controlled(records);
    const run = processGroups(records, { groupOf, limit: 4, handle: c.handle });
    await settle();
    expect(c.started).toEqual(['a1', 'b1']);
    c.gate('a1').resolve();
    await settle();
    expect(c.started).toEqual(['a1', 'b1', 'a2']);
    c.gate('a2').resolve();
    await settle();
    expect(c.started).toEqual(['a1', 'b1', 'a2', 'a3']);
    c.gate('a3').resolve();
    c.gate('b1').resolve();
    expect((await run).map((o) => o.kind)).toEqual(['done', 'done', 'done', 'done']);
  });

  it('skips the rest of a failing group and leaves the other groups alone', async () => {
    const records = [
      rec('a1', 'a'),
      rec('b1', 'b'),
      rec('a2', 'a'),
      rec('b2', 'b'),
      rec('a3', 'a'),
    ];
    const c = controlled(records);
    const run = processGroups(records, { groupOf, limit: 2, handle: c.handle });
    await settle();
    const boom = new Error('a1 failed');
    c.gate('a1').reject(boom);
    await settle();
    c.gate('b1').resolve();
    await settle();
    c.gate('b2').resolve();
    const outcomes = await run;
    expect(c.started).toEqual(['a1', 'b1', 'b2']);
    expect(outcomes).toEqual([
      { kind: 'failed', error: boom },
      { kind: 'done' },
      { kind: 'skipped', group: 'a' },
      { kind: 'done' },
      { kind: 'skipped', group: 'a' },
    ]);
  });

  it('never rejects for what a handler throws, synchronously or not', async () => {
    const records = [rec('a1', 'a'), rec('b1', 'b'), rec('c1', 'c')];
    const outcomes = await processGroups(records, {
      groupOf,
      limit: 1,
      handle: (r) => {
        if (r.id === 'a1') throw new TypeError('thrown before any await');
        if (r.id === 'b1') return Promise.reject('not even an Error');
        return Promise.resolve();
      },
    });
    expect(outcomes.map((o) => o.kind)).toEqual(['failed', 'failed', 'done']);
    expect(outcomes[1]).toEqual({ kind: 'failed', error: 'not even an Error' });
  });

  it('treats records without a group as groups of their own (a standard queue)', async () => {
    const records = [rec('x'), rec('y'), rec('z')];
    const c = controlled(records);
    const run = processGroups(records, { groupOf, limit: 3, handle: c.handle });
    await settle();
    expect(c.started).toEqual(['x', 'y', 'z']);
    c.gate('x').reject(new Error('x failed'));
    c.gate('y').resolve();
    c.gate('z').resolve();
    expect((await run).map((o) => o.kind)).toEqual(['failed', 'done', 'done']);
  });

  it('refuses a limit below one', async () => {
    await expect(
      processGroups([rec('a1', 'a')], { groupOf, limit: 0, handle: async () => {} }),
    ).rejects.toThrow(/at least 1/);
  });
});
