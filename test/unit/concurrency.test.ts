import { describe, expect, it } from 'vitest';
import { mapBounded } from '../../lib/concurrency.js';

/** A promise the test settles by hand. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending continuation run. */
const settle = () => new Promise((r) => setImmediate(r));

/** Items whose work the test finishes one by one, recording what started and what is in flight. */
function controlled(n: number) {
  const gates = Array.from({ length: n }, () => deferred<string>());
  const started: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const fn = async (i: number) => {
    started.push(i);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      return await (gates[i] as ReturnType<typeof deferred<string>>).promise;
    } finally {
      inFlight--;
    }
  };
  return {
    gates,
    started,
    fn,
    inFlight: () => inFlight,
    maxInFlight: () => maxInFlight,
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('mapBounded', () => {
  it('keeps the results in input order whatever order the items finish in', async () => {
    const c = controlled(5);
    const run = mapBounded(range(5), 5, c.fn);
    for (const i of [3, 1, 4, 0, 2]) {
      c.gates[i]?.resolve(`r${i}`);
      await settle();
    }
    expect(await run).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
  });

  it('never has more than the limit in flight, and starts the next item as one finishes', async () => {
    const c = controlled(10);
    const run = mapBounded(range(10), 3, c.fn);
    await settle();
    expect(c.started).toEqual([0, 1, 2]);
    for (const i of [1, 0, 2, 5, 3, 4, 8, 6, 7, 9]) {
      expect(c.inFlight()).toBeLessThanOrEqual(3);
      c.gates[i]?.resolve(`r${i}`);
      await settle();
    }
    await run;
    expect(c.maxInFlight()).toBe(3);
    expect(c.started).toEqual(range(10));
  });

  it('with random durations, never exceeds the limit and finishes every item', async () => {
    let inFlight = 0;
    let max = 0;
    const out = await mapBounded(range(40), 4, async (i) => {
      inFlight++;
      max = Math.max(max, inFlight);
      await new Promise((r) => setTimeout(r, (i * 7) % 5));
      inFlight--;
      return i * 2;
    });
    expect(max).toBe(4);
    expect(out).toEqual(range(40).map((i) => i * 2));
  });

  it('fails fast: after the first rejection no new item starts', async () => {
    const c = controlled(10);
    let outcome: unknown;
    const run = mapBounded(range(10), 3, c.fn).then(
      () => {
        outcome = 'resolved';
      },
      (e) => {
        outcome = e;
      },
    );
    await settle();
    expect(c.started).toEqual([0, 1, 2]);
    const boom = new Error('boom');
    c.gates[1]?.reject(boom);
    await settle();
    // Items 0 and 2 are still running; nothing else was started in 1's place.
    expect(c.started).toEqual([0, 1, 2]);
    c.gates[0]?.resolve('r0');
    await settle();
    expect(c.started).toEqual([0, 1, 2]);
    // It rejects only once what it started has settled.
    expect(outcome).toBeUndefined();
    c.gates[2]?.resolve('r2');
    await run;
    expect(outcome).toBe(boom);
    expect(c.started).toEqual([0, 1, 2]);
  });

  it('rejects with the first error when several items fail', async () => {
    const c = controlled(4);
    const run = mapBounded(range(4), 4, c.fn);
    await settle();
    const first = new Error('first');
    c.gates[2]?.reject(first);
    await settle();
    c.gates[0]?.reject(new Error('second'));
    c.gates[1]?.resolve('r1');
    c.gates[3]?.resolve('r3');
    await expect(run).rejects.toBe(first);
  });

  it('counts a synchronous throw as a failure', async () => {
    const started: number[] = [];
    const run = mapBounded(range(5), 1, (i) => {
      started.push(i);
      if (i === 1) throw new Error('sync');
      return Promise.resolve(i);
    });
    await expect(run).rejects.toThrow('sync');
    expect(started).toEqual([0, 1]);
  });

  it('runs every item when the limit exceeds their number, and nothing for none', async () => {
    expect(await mapBounded(range(3), 100, async (i) => i + 1)).toEqual([1, 2, 3]);
    expect(await mapBounded(range(3), Number.POSITIVE_INFINITY, async (i) => i)).toEqual([0, 1, 2]);
    let calls = 0;
    expect(
      await mapBounded([], 4, async () => {
        calls++;
      }),
    ).toEqual([]);
    expect(calls).toBe(0);
  });

  it('passes each item its index', async () => {
    expect(await mapBounded(['a', 'b', 'c'], 2, async (s, i) => `${i}:${s}`)).toEqual([
      '0:a',
      '1:b',
      '2:c',
    ]);
  });

  it('refuses a limit below one instead of silently doing nothing', async () => {
    await expect(mapBounded(range(3), 0, async (i) => i)).rejects.toThrow(RangeError);
    await expect(mapBounded(range(3), Number.NaN, async (i) => i)).rejects.toThrow(RangeError);
  });
});
