// SQS queue logic without I/O: ids SQS accepts, delays, batching with
// partial-failure retries, and job parsing.

import { describe, expect, it } from 'vitest';
import {
  delayFor,
  type FailedEntry,
  parseJob,
  sendInBatches,
  sqsMessageId,
} from '../../../lib/aws/queue.js';

describe('sqsMessageId', () => {
  it('keeps ids SQS accepts and hashes the others deterministically', () => {
    expect(sqsMessageId('push:d-1:web#prod')).toBe('push:d-1:web#prod');
    expect(sqsMessageId('x'.repeat(128))).toBe('x'.repeat(128));
    const long = sqsMessageId('x'.repeat(129));
    expect(long).toMatch(/^[0-9a-f]{64}$/);
    expect(sqsMessageId('x'.repeat(129))).toBe(long);
    expect(sqsMessageId('has space')).toMatch(/^[0-9a-f]{64}$/);
    expect(sqsMessageId('Zoë')).toMatch(/^[0-9a-f]{64}$/);
    expect(sqsMessageId('')).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('delayFor', () => {
  it('rounds up to whole seconds and caps at 900', () => {
    expect(delayFor(0)).toBe(0);
    expect(delayFor(-5)).toBe(0);
    expect(delayFor(Number.NaN)).toBe(0);
    expect(delayFor(1.2)).toBe(2);
    expect(delayFor(900)).toBe(900);
    expect(delayFor(3_600)).toBe(900);
  });
});

describe('sendInBatches', () => {
  type Entry = { Id?: string; MessageGroupId: string };
  const entries = (n: number): Entry[] =>
    Array.from({ length: n }, (_, i) => ({ MessageGroupId: `app-${i}#prod` }));
  const opts = { maxAttempts: 3, backoffMs: () => 0, queue: 'jobs.fifo', sleep: async () => {} };

  it('sends 10 per call with batch-local ids', async () => {
    const batches: Entry[][] = [];
    await sendInBatches(
      entries(25),
      async (b) => {
        batches.push(b);
        return [];
      },
      opts,
    );
    expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(batches[0]?.map((e) => e.Id)).toEqual([
      '0',
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
    ]);
    expect(batches.flat().map((e) => e.MessageGroupId)).toEqual(
      entries(25).map((e) => e.MessageGroupId),
    );
  });

  it('retries entries SQS failed on its side, and only those', async () => {
    const sent: string[][] = [];
    let first = true;
    await sendInBatches(
      entries(12),
      async (b) => {
        sent.push(b.map((e) => e.MessageGroupId));
        if (!first) return [];
        first = false;
        return [
          { id: '3', senderFault: false, code: 'InternalError', message: 'try again' },
          { id: '7', senderFault: false, code: 'ServiceUnavailable', message: '' },
        ];
      },
      opts,
    );
    expect(sent).toEqual([
      entries(12)
        .slice(0, 10)
        .map((e) => e.MessageGroupId),
      ['app-10#prod', 'app-11#prod'],
      ['app-3#prod', 'app-7#prod'],
    ]);
  });

  it('fails at once, naming the target, for an entry SQS refuses', async () => {
    let calls = 0;
    const refusing = async (b: Entry[]): Promise<FailedEntry[]> => {
      calls++;
      return b[1]
        ? [{ id: '1', senderFault: true, code: 'InvalidParameterValue', message: 'bad body' }]
        : [];
    };
    await expect(sendInBatches(entries(2), refusing, opts)).rejects.toMatchObject({
      reason: 'Internal',
      message: expect.stringMatching(
        /did not queue 1 of 2 jobs on jobs\.fifo: 1 refused as invalid \(app-1#prod: InvalidParameterValue bad body\)/,
      ),
    });
    expect(calls).toBe(1);
  });

  it('gives up after maxAttempts with a clear error', async () => {
    let calls = 0;
    const failing = async (b: Entry[]): Promise<FailedEntry[]> => {
      calls++;
      return b.map((e) => ({
        id: e.Id ?? '',
        senderFault: false,
        code: 'RequestThrottled',
        message: 'slow down',
      }));
    };
    await expect(sendInBatches(entries(3), failing, opts)).rejects.toMatchObject({
      message: expect.stringContaining('3 still failing after 3 attempts'),
    });
    expect(calls).toBe(3);
  });
});

describe('parseJob', () => {
  const valid = {
    app: 'web',
    cluster: 'prod',
    trigger: 'manual',
    revision: 'v1.2.3',
    allowPrune: false,
    deliveryId: 'op-1',
    enqueuedAt: '2026-03-01T12:00:00.000Z',
  };

  it('accepts a job and drops fields it does not know', () => {
    // `sync` is what jobs queued before the mode was derived from the trigger carried.
    expect(parseJob(JSON.stringify({ ...valid, sync: true }))).toEqual(valid);
    expect(parseJob(JSON.stringify({ ...valid, future: 1 }))).toEqual(valid);
    expect(
      parseJob(
        JSON.stringify({ app: 'a', cluster: 'b', trigger: 'sweep', enqueuedAt: valid.enqueuedAt }),
      ),
    ).toEqual({ app: 'a', cluster: 'b', trigger: 'sweep', enqueuedAt: valid.enqueuedAt });
  });

  it('accepts every trigger the API, the webhook, the sweep and the worker queue', () => {
    // The API queues `delete` for a cascade: the worker once dead-lettered it as unparseable.
    for (const trigger of ['webhook', 'sweep', 'manual', 'rollback', 'health-check', 'delete']) {
      expect(parseJob(JSON.stringify({ ...valid, trigger })).trigger).toBe(trigger);
    }
  });

  it('keeps what a re-check and a deferred job carry', () => {
    const job = {
      ...valid,
      trigger: 'health-check',
      operationId: 'op-1',
      recheckToken: 'r-2',
      priorAttempts: 2,
      initiator: 'arn:aws:iam::123456789012:role/deployer',
    };
    expect(parseJob(JSON.stringify(job))).toEqual(job);
  });

  it('rejects malformed bodies with the field at fault', () => {
    const cases: [string, RegExp][] = [
      ['', /not JSON/],
      ['[]', /malformed reconcile job/],
      ['null', /malformed reconcile job/],
      [JSON.stringify({ ...valid, app: undefined }), /app/],
      [JSON.stringify({ ...valid, cluster: 'a'.repeat(64) }), /cluster/],
      [JSON.stringify({ ...valid, trigger: 'cron' }), /trigger/],
      [JSON.stringify({ ...valid, allowPrune: 'yes' }), /allowPrune/],
      [JSON.stringify({ ...valid, enqueuedAt: 'soon' }), /enqueuedAt: must be an ISO timestamp/],
    ];
    for (const [body, message] of cases) {
      expect(() => parseJob(body), body).toThrow(message);
    }
  });
});
