// SqsJobQueue against moto's SQS, what is particular to SQS: batching
// (counted with a client middleware), groups and dedup ids as SQS sees them,
// the delay cap of the standard queue, and parseJob on what comes off the
// queue. The JobQueue's contract runs in test/integration/contract.test.ts.

import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { beforeEach, describe, expect, it } from 'vitest';
import { MAX_DELAY_SECONDS, parseJob, SqsJobQueue } from '../../lib/aws/queue.js';
import type { QueuedJob, ReconcileJob } from '../../lib/ports/queue.js';
import { awsClientConfig } from '../support/aws.js';
import { uniqueName } from '../support/env.js';
import { eventually } from '../support/kube.js';

function job(app: string, cluster = 'prod', extra: Partial<ReconcileJob> = {}): ReconcileJob {
  return {
    app,
    cluster,
    trigger: 'webhook',
    deliveryId: 'd-1',
    enqueuedAt: '2026-03-01T12:00:00.000Z',
    ...extra,
  };
}

describe('SqsJobQueue', () => {
  let sqs: SQSClient;
  let queueUrl: string;
  let delayedQueueUrl: string;
  let queue: SqsJobQueue;
  let calls: string[];
  /** DelaySeconds of each SendMessage, as SQS was asked. */
  let delays: (number | undefined)[];

  beforeEach(async () => {
    sqs = new SQSClient(awsClientConfig());
    calls = [];
    delays = [];
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        calls.push(context.commandName ?? '?');
        if (context.commandName === 'SendMessageCommand') {
          delays.push((args.input as { DelaySeconds?: number }).DelaySeconds);
        }
        return next(args);
      },
      { step: 'initialize', name: 'countCommands' },
    );
    const name = uniqueName('jobs');
    queueUrl = (
      await sqs.send(
        new CreateQueueCommand({
          QueueName: `${name}.fifo`,
          Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' },
        }),
      )
    ).QueueUrl as string;
    delayedQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-delayed` })))
      .QueueUrl as string;
    calls = [];
    queue = new SqsJobQueue({ client: sqs, queueUrl, delayedQueueUrl });
  });

  async function receiveAll(url: string, waitSeconds = 1): Promise<Message[]> {
    const out: Message[] = [];
    for (;;) {
      const res = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: waitSeconds,
          VisibilityTimeout: 60,
          MessageSystemAttributeNames: ['MessageGroupId', 'MessageDeduplicationId'],
        }),
      );
      if (!res.Messages?.length) return out;
      out.push(...res.Messages);
    }
  }

  it('sends 25 jobs in 3 batches, grouped by target, bodies that parseJob accepts', async () => {
    const jobs: QueuedJob[] = Array.from({ length: 25 }, (_, i) => ({
      dedupId: `push:d-1:app-${i}#prod`,
      job: job(`app-${i}`),
    }));
    await queue.enqueue(jobs);
    expect(calls).toEqual(Array(3).fill('SendMessageBatchCommand'));
    const received = await receiveAll(queueUrl);
    expect(received).toHaveLength(25);
    const byGroup = new Map(received.map((m) => [m.Attributes?.MessageGroupId, m]));
    for (const { job: j, dedupId } of jobs) {
      const m = byGroup.get(`${j.app}#${j.cluster}`);
      expect(m?.Attributes?.MessageDeduplicationId).toBe(dedupId);
      expect(parseJob(m?.Body ?? '')).toEqual(j);
    }
  });

  it('hashes dedup ids SQS would refuse, so they still deduplicate', async () => {
    const long = `sweep:${'x'.repeat(200)}`;
    const spaced = 'manual sync by Zoë';
    await queue.enqueue([
      { dedupId: long, job: job('a') },
      { dedupId: spaced, job: job('b') },
    ]);
    await queue.enqueue([
      { dedupId: long, job: job('a') },
      { dedupId: spaced, job: job('b') },
    ]);
    const received = await receiveAll(queueUrl);
    expect(received).toHaveLength(2);
    for (const m of received) {
      expect(m.Attributes?.MessageDeduplicationId).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('sends nothing for no jobs', async () => {
    await queue.enqueue([]);
    expect(calls).toEqual([]);
  });

  /** Messages the queue holds back (delayed), as SQS counts them. */
  async function delayedCount(url: string): Promise<number> {
    const out = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessagesDelayed'],
      }),
    );
    return Number(out.Attributes?.ApproximateNumberOfMessagesDelayed);
  }

  it('delays a job on the standard queue, and caps delays SQS cannot take', async () => {
    const recheck = job('web', 'prod', { trigger: 'health-check', deliveryId: undefined });
    const { deliveryId: _, ...expected } = recheck;
    // A delay no busy machine outlasts here: held back, on the standard queue only.
    await queue.enqueueDelayed(recheck, 600);
    expect(calls).toEqual(['SendMessageCommand']);
    expect(delays).toEqual([600]);
    expect(await delayedCount(delayedQueueUrl)).toBe(1);
    expect(await receiveAll(delayedQueueUrl, 0)).toHaveLength(0);
    expect(await receiveAll(queueUrl, 0)).toHaveLength(0);

    // Over 900 s SQS would refuse the message: it is sent, and held, with 900 s instead.
    await queue.enqueueDelayed(job('web', 'prod', { trigger: 'health-check' }), 3_600);
    expect(delays).toEqual([600, MAX_DELAY_SECONDS]);
    expect(await delayedCount(delayedQueueUrl)).toBe(2);

    // A short delay: delivered once it is over, the body parseJob reads back.
    await queue.enqueueDelayed(recheck, 1);
    const later = await eventually('the 1 s delayed job', async () => {
      const got = await receiveAll(delayedQueueUrl, 1);
      return got.length ? got : undefined;
    });
    expect(later.map((m) => parseJob(m.Body ?? ''))).toEqual([expected]);
    expect(await delayedCount(delayedQueueUrl)).toBe(2);
  });

  it('fails with the queue and the cause when the queue does not exist', async () => {
    const missing = new SqsJobQueue({
      client: sqs,
      queueUrl: `${queueUrl.replace(/[^/]+$/, '')}no-such-queue.fifo`,
      delayedQueueUrl: `${queueUrl.replace(/[^/]+$/, '')}no-such-queue`,
    });
    await expect(missing.enqueue([{ dedupId: 'x', job: job('web') }])).rejects.toMatchObject({
      reason: 'Internal',
      message: expect.stringContaining('no-such-queue.fifo'),
    });
    await expect(missing.enqueueDelayed(job('web'), 5)).rejects.toMatchObject({
      reason: 'Internal',
      message: expect.stringContaining('web#prod'),
    });
  });

  it('parseJob rejects malformed bodies with a clear error instead of crashing', () => {
    expect(() => parseJob('{not json')).toThrow(/not JSON/);
    expect(() => parseJob('{"app":"web"}')).toThrow(/malformed reconcile job: cluster/);
    expect(() => parseJob(JSON.stringify({ ...job('web'), trigger: 'cron' }))).toThrow(/trigger/);
    expect(() => parseJob(JSON.stringify({ ...job('Web_App') }))).toThrow(
      /app: must be a DNS label/,
    );
    try {
      parseJob(JSON.stringify({ ...job('web'), enqueuedAt: 'yesterday' }));
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ reason: 'InvalidSpec', location: { field: 'enqueuedAt' } });
    }
  });
});
