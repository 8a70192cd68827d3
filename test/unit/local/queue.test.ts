// LocalJobQueue as a consumer sees it: the FIFO group of a target blocked
// while its head is retried, a handler that throws redelivered (not lost),
// the receive limit and the worker's `dead` outcome both dead-lettering, and
// the dead letters listed and redriven. The handler is the queue's own
// collaborator (the worker), so it is scripted here.

import { describe, expect, it } from 'vitest';
import { DriftlessError } from '../../../lib/errors.js';
import { LocalJobQueue } from '../../../lib/local/queue.js';
import { isClusterSweep, type QueueMessage, type ReconcileJob } from '../../../lib/ports/queue.js';
import type { JobOutcome } from '../../../lib/worker.js';

function job(app: string, deliveryId: string): ReconcileJob {
  return {
    app,
    cluster: 'local',
    trigger: 'webhook',
    deliveryId,
    enqueuedAt: new Date().toISOString(),
  };
}

const enqueue = (q: LocalJobQueue, ...jobs: ReconcileJob[]) =>
  q.enqueue(jobs.map((j) => ({ dedupId: `${j.app}:${j.deliveryId}`, job: j })));

const retry = (): JobOutcome => ({
  kind: 'retry',
  delaySeconds: 0.01,
  error: new DriftlessError('ClusterUnreachable', 'connection refused'),
});

function reconcileJob(m: QueueMessage): ReconcileJob {
  if (isClusterSweep(m)) throw new Error(`unexpected cluster sweep of ${m.cluster}`);
  return m;
}

describe('LocalJobQueue', () => {
  it('blocks a target’s group while its head is retried; other targets go on', async () => {
    const q = new LocalJobQueue();
    const starts: string[] = [];
    q.start(async (m, attempt) => {
      const j = reconcileJob(m);
      starts.push(`${j.app}/${j.deliveryId}@${attempt}`);
      if (j.deliveryId === 'a1' && attempt < 3) return retry();
      return { kind: 'done' };
    });
    await enqueue(q, job('a', 'a1'), job('a', 'a2'), job('b', 'b1'));
    await q.idle();
    expect(starts.filter((s) => s.startsWith('a/'))).toEqual([
      'a/a1@1',
      'a/a1@2',
      'a/a1@3',
      'a/a2@1',
    ]);
    expect(starts).toContain('b/b1@1');
    // b did not wait for a's retries.
    expect(starts.indexOf('b/b1@1')).toBeLessThan(starts.indexOf('a/a1@2'));
    expect(await q.list(10)).toEqual([]);
  });

  it('redelivers a job whose handler throws, with the attempt counted, ahead of later jobs', async () => {
    const q = new LocalJobQueue({ redeliveryDelayMs: 10 });
    const starts: string[] = [];
    q.start(async (m, attempt) => {
      const j = reconcileJob(m);
      starts.push(`${j.deliveryId}@${attempt}`);
      if (j.deliveryId === 'a1' && attempt === 1) throw new Error('the store was unreachable');
      return { kind: 'done' };
    });
    await enqueue(q, job('a', 'a1'), job('a', 'a2'));
    await q.idle();
    expect(starts).toEqual(['a1@1', 'a1@2', 'a2@1']);
    expect(await q.list(10)).toEqual([]);
  });

  it('dead-letters a job that keeps throwing at the receive limit, then unblocks its group', async () => {
    const q = new LocalJobQueue({ redeliveryDelayMs: 5, maxReceives: 3 });
    const starts: string[] = [];
    q.start(async (m, attempt) => {
      const j = reconcileJob(m);
      starts.push(`${j.deliveryId}@${attempt}`);
      if (j.deliveryId === 'a1') throw new DriftlessError('Internal', 'always broken');
      return { kind: 'done' };
    });
    await enqueue(q, job('a', 'a1'), job('a', 'a2'));
    await q.idle();
    expect(starts).toEqual(['a1@1', 'a1@2', 'a1@3', 'a2@1']);
    expect(await q.list(10)).toEqual([
      {
        id: expect.any(String),
        job: expect.objectContaining({ app: 'a', deliveryId: 'a1' }),
        error: {
          reason: 'Internal',
          message: expect.stringContaining('always broken'),
          attempts: 3,
          sourceQueue: 'local',
          deadLetteredAt: expect.any(String),
        },
      },
    ]);
  });

  it('keeps a job the worker gave up on as a dead letter, and redrives it as a new job', async () => {
    const q = new LocalJobQueue();
    const starts: string[] = [];
    let giveUp = true;
    q.start(async (m, attempt) => {
      const j = reconcileJob(m);
      starts.push(`${j.deliveryId}@${attempt}`);
      if (giveUp) return { kind: 'dead', error: new DriftlessError('ClusterUnreachable', 'gone') };
      return { kind: 'done' };
    });
    await enqueue(q, job('a', 'a1'));
    await q.idle();
    const [dead] = await q.list(10);
    expect(dead?.error).toMatchObject({ reason: 'ClusterUnreachable', attempts: 1 });

    const dry = await q.redrive({ max: 10, dryRun: true });
    expect(dry.redriven.map((d) => d.id)).toEqual([dead?.id]);
    await q.idle();
    expect(starts).toEqual(['a1@1']);
    expect(await q.list(10)).toHaveLength(1);

    giveUp = false;
    const done = await q.redrive({ max: 10 });
    expect(done.redriven.map((d) => d.job?.deliveryId)).toEqual(['a1']);
    await q.idle();
    expect(starts).toEqual(['a1@1', 'a1@1']);
    expect(await q.list(10)).toEqual([]);
  });

  it('stops with a redelivery pending: idle resolves, nothing runs after', async () => {
    const q = new LocalJobQueue({ redeliveryDelayMs: 60_000 });
    let runs = 0;
    let failed!: () => void;
    const firstRun = new Promise<void>((r) => {
      failed = r;
    });
    q.start(async () => {
      runs++;
      failed();
      throw new Error('boom');
    });
    await enqueue(q, job('a', 'a1'));
    await firstRun;
    q.stop();
    await q.idle();
    expect(runs).toBe(1);
  });
});
