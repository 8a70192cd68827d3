// The outbox's pure logic: coalescing by key and report time, what each
// answer from GitHub does to a message, and the reporter's ordering.

import { describe, expect, it } from 'vitest';
import {
  coalesce,
  deliverOutbox,
  OUTBOX_DEFAULTS,
  type OutboxRecord,
  OutboxReporter,
  parseOutboxEntry,
  type StatusPoster,
  unavailableBackoffS,
} from '../../../lib/github/outbox.js';
import type { PostResult } from '../../../lib/github/status.js';
import { type OutboxEntry, outboxKey, type StatusOutbox } from '../../../lib/ports/outbox.js';
import type { CommitState, CommitStatus } from '../../../lib/ports/report.js';

const SHA = 'a'.repeat(40);

function status(context: string, state: CommitState, extra: Partial<CommitStatus> = {}) {
  return {
    repoURL: 'https://github.com/acme/fleet.git',
    commit: SHA,
    context,
    state,
    description: `${state} ${context}`,
    ...extra,
  };
}

let nextId = 1;
function record(s: CommitStatus, at: number, receiveCount = 1): OutboxRecord {
  return { id: String(nextId++), body: JSON.stringify({ status: s, at }), receiveCount };
}

/** A poster answering from a script, per context; records what it was asked. */
class ScriptedPoster implements StatusPoster {
  readonly installation = 'installation:1';
  readonly posted: CommitStatus[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(private readonly answers: Record<string, PostResult[]> = {}) {}
  async post(s: CommitStatus): Promise<PostResult> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setImmediate(r));
    this.inFlight--;
    this.posted.push(s);
    return this.answers[s.context]?.shift() ?? { kind: 'posted' };
  }
}

describe('coalesce', () => {
  const item = (s: CommitStatus, at: number) => ({ entry: { status: s, at } });

  it('keeps the newest report per repository, commit and context, by its time', () => {
    const a1 = item(status('a', 'pending'), 1);
    const a3 = item(status('a', 'success'), 3);
    const a2 = item(status('a', 'failure'), 2); // delivered last, reported before a3
    const b1 = item(status('b', 'pending'), 1);
    const { latest, superseded } = coalesce([a1, b1, a3, a2]);
    expect(latest).toEqual([a3, b1]);
    expect(superseded).toEqual([a1, a2]);
  });

  it('keeps the later of two reports made at the same time (the queue order)', () => {
    const first = item(status('a', 'pending'), 5);
    const second = item(status('a', 'success'), 5);
    expect(coalesce([first, second]).latest).toEqual([second]);
  });

  it('keys on the normalized repository, the commit and the context', () => {
    const one = status('a', 'pending');
    expect(outboxKey({ ...one, repoURL: 'https://GitHub.com/Acme/Fleet/' })).toBe(outboxKey(one));
    expect(outboxKey({ ...one, commit: 'b'.repeat(40) })).not.toBe(outboxKey(one));
    expect(outboxKey({ ...one, context: 'b' })).not.toBe(outboxKey(one));
    const { latest } = coalesce([
      item(one, 1),
      item({ ...one, commit: 'b'.repeat(40) }, 2),
      item({ ...one, context: 'b' }, 3),
    ]);
    expect(latest).toHaveLength(3);
  });
});

describe('parseOutboxEntry', () => {
  it('names the field of a malformed message', () => {
    expect(parseOutboxEntry('nope')).toEqual({ invalid: 'the message body is not JSON' });
    expect(parseOutboxEntry(JSON.stringify({ status: status('a', 'pending'), at: 'x' }))).toEqual({
      invalid: expect.stringMatching(/^at: /),
    });
    expect(
      parseOutboxEntry(
        JSON.stringify({ status: { ...status('a', 'pending'), state: 'ok' }, at: 1 }),
      ),
    ).toEqual({ invalid: expect.stringMatching(/^status\.state: /) });
  });
});

describe('deliverOutbox', () => {
  it('posts one status per key, the newest, and deletes the superseded ones', async () => {
    const poster = new ScriptedPoster();
    const records = [
      record(status('a', 'pending'), 1),
      record(status('a', 'success'), 3),
      record(status('a', 'failure'), 2),
      record(status('b', 'pending'), 1),
    ];
    const decisions = await deliverOutbox({ poster }, records);
    expect(poster.posted.map((s) => `${s.context} ${s.state}`).sort()).toEqual([
      'a success',
      'b pending',
    ]);
    const why = Object.fromEntries(decisions.map((d) => [d.id, d.why]));
    expect(records.map((r) => why[r.id])).toEqual(['superseded', 'posted', 'superseded', 'posted']);
    expect(decisions.every((d) => d.action === 'delete')).toBe(true);
  });

  it('waits as long as a rate limit asks, for that post and the rest of the batch', async () => {
    const poster = new ScriptedPoster({
      a: [{ kind: 'rate-limited', limit: 'secondary', retryAfterS: 42, status: 403 }],
    });
    const records = ['a', 'b', 'c', 'd'].map((c) => record(status(c, 'success'), 1));
    const decisions = await deliverOutbox({ poster, concurrency: 1 }, records);
    // One at a time: a is answered 42 s, and nothing else is asked meanwhile.
    expect(poster.posted.map((s) => s.context)).toEqual(['a']);
    expect(decisions).toEqual(
      records.map((r) => ({ id: r.id, action: 'retry', delaySeconds: 42, why: 'rate-limited' })),
    );
  });

  it('backs off when GitHub is unavailable, and drops what it refuses', async () => {
    const poster = new ScriptedPoster({
      a: [{ kind: 'unavailable', status: 502, message: 'Bad Gateway' }],
      b: [{ kind: 'rejected', status: 422, message: 'Validation Failed' }],
    });
    const a = record(status('a', 'success'), 1, 3);
    const b = record(status('b', 'success'), 1);
    const bad = { id: 'x', body: '{}', receiveCount: 1 };
    const decisions = await deliverOutbox({ poster }, [a, b, bad]);
    expect(decisions).toContainEqual({
      id: a.id,
      action: 'retry',
      delaySeconds: unavailableBackoffS(3),
      why: 'unavailable',
    });
    expect(decisions).toContainEqual({ id: b.id, action: 'delete', why: 'rejected' });
    expect(decisions).toContainEqual({ id: 'x', action: 'delete', why: 'invalid' });
  });

  it('keeps at most `concurrency` posts in flight', async () => {
    const poster = new ScriptedPoster();
    const records = Array.from({ length: 10 }, (_, i) => record(status(`c${i}`, 'success'), 1));
    await deliverOutbox({ poster }, records);
    expect(poster.posted).toHaveLength(10);
    expect(poster.maxInFlight).toBe(OUTBOX_DEFAULTS.concurrencyPerInstallation);
  });

  it('caps a rate limit at what SQS can wait, and backoff at its maximum', async () => {
    const poster = new ScriptedPoster({
      a: [{ kind: 'rate-limited', limit: 'primary', retryAfterS: 10 ** 6, status: 403 }],
    });
    const [d] = await deliverOutbox({ poster }, [record(status('a', 'success'), 1)]);
    expect(d).toMatchObject({ action: 'retry', delaySeconds: OUTBOX_DEFAULTS.maxDelayS });
    expect(unavailableBackoffS(1)).toBe(OUTBOX_DEFAULTS.backoffBaseS);
    expect(unavailableBackoffS(2)).toBe(2 * OUTBOX_DEFAULTS.backoffBaseS);
    expect(unavailableBackoffS(50)).toBe(OUTBOX_DEFAULTS.maxBackoffS);
  });
});

describe('OutboxReporter', () => {
  class RecordingOutbox implements StatusOutbox {
    sends: OutboxEntry[][] = [];
    fail = false;
    async send(entries: OutboxEntry[]) {
      if (this.fail) throw new Error('SQS is down');
      this.sends.push(entries);
    }
  }

  it('sends the reports of one tick together, stamped in order even within one millisecond', async () => {
    const outbox = new RecordingOutbox();
    const r = new OutboxReporter(outbox, { clock: { now: () => 1000 } });
    await Promise.all([r.report(status('a', 'pending')), r.report(status('a', 'success'))]);
    await r.report(status('b', 'pending'));
    expect(outbox.sends.map((s) => s.map((e) => [e.status.context, e.status.state, e.at]))).toEqual(
      [
        [
          ['a', 'pending', 1000],
          ['a', 'success', 1001],
        ],
        [['b', 'pending', 1002]],
      ],
    );
  });

  it('never throws: a failed send is logged', async () => {
    const outbox = new RecordingOutbox();
    outbox.fail = true;
    const warnings: string[] = [];
    const r = new OutboxReporter(outbox, {
      logger: { info() {}, warn: (m) => warnings.push(m) },
    });
    await expect(r.report(status('a', 'success'))).resolves.toBeUndefined();
    expect(warnings).toEqual(['commit status success not queued']);
  });
});
