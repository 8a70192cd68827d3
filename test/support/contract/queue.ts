// The JobQueue contract (lib/ports/queue.ts), defined once and run against
// SQS (on moto) and the in-process queue by test/integration/contract.test.ts.
// What a consumer does with a delivered job (retries, FIFO blocking, dead
// letters) is the event source's in AWS and is tested with the local queue
// itself (test/unit/local/queue.test.ts) and end to end on the data plane.

import { expect, it } from 'vitest';
import { eventually } from '../kube.js';
import { job, type MakeQueue } from './fixtures.js';

export function queueContract(make: MakeQueue): void {
  it('delivers a job once for one dedup id, within a call and across calls', async () => {
    const { queue, received } = await make();
    const once = { dedupId: 'push:delivery-7:web#prod', job: job('web') };
    await queue.enqueue([once, once]);
    await queue.enqueue([once]);
    expect(await received()).toEqual([job('web')]);
  });

  it('delivers every job of a fan-out, and one target’s jobs in order', async () => {
    const { queue, received } = await make();
    const triggers = ['webhook', 'sweep', 'manual'] as const;
    await queue.enqueue([
      ...triggers.map((trigger, i) => ({ dedupId: `d-${i}`, job: job('web', 'eu', { trigger }) })),
      ...Array.from({ length: 12 }, (_, i) => ({ dedupId: `fan-${i}`, job: job(`app-${i}`) })),
    ]);
    const got = await received();
    expect(got).toHaveLength(15);
    expect(got.filter((j) => j.app === 'web').map((j) => j.trigger)).toEqual([...triggers]);
    expect(
      got
        .filter((j) => j.app !== 'web')
        .map((j) => j.app)
        .sort(),
    ).toEqual(Array.from({ length: 12 }, (_, i) => `app-${i}`).sort());
  });

  it('deduplicates ids SQS would refuse as they are (long, not printable ASCII)', async () => {
    const { queue, received } = await make();
    const long = `sweep:${'x'.repeat(200)}`;
    const longToo = `sweep:${'x'.repeat(199)}y`; // equal up to any truncation
    const spaced = 'manual sync by Zoë';
    const batch = [
      { dedupId: long, job: job('a') },
      { dedupId: longToo, job: job('c') },
      { dedupId: spaced, job: job('b') },
    ];
    await queue.enqueue(batch);
    await queue.enqueue(batch);
    expect((await received()).map((j) => j.app).sort()).toEqual(['a', 'b', 'c']);
  });

  it('delivers nothing for no jobs', async () => {
    const { queue, received } = await make();
    await queue.enqueue([]);
    expect(await received()).toEqual([]);
  });

  it('delivers a delayed job after its delay', async () => {
    const { queue, receivedDelayed } = await make();
    const recheck = job('web', 'prod', { trigger: 'health-check', deliveryId: undefined });
    const { deliveryId: _, ...expected } = recheck;
    await queue.enqueueDelayed(recheck, 1);
    const later = await eventually('the delayed job', async () => {
      const got = await receivedDelayed(2_000);
      return got.length ? got : undefined;
    });
    expect(later).toEqual([expected]);
  });
}
