// The in-process status outbox: FIFO per repository+commit+context as the SQS
// outbox is — a report waiting out a retry holds back the newer ones of its
// context (which then supersede it), other contexts flow on.

import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StatusPoster } from '../../../lib/github/outbox.js';
import type { PostResult } from '../../../lib/github/status.js';
import { LocalStatusOutbox } from '../../../lib/local/outbox.js';
import type { CommitState, CommitStatus } from '../../../lib/ports/report.js';

const status = (context: string, state: CommitState): CommitStatus => ({
  repoURL: 'https://github.com/acme/fleet.git',
  commit: 'a'.repeat(40),
  context,
  state,
  description: state,
});

class Poster implements StatusPoster {
  readonly installation = 'token';
  readonly posted: string[] = [];
  constructor(private readonly answers: PostResult[]) {}
  async post(s: CommitStatus): Promise<PostResult> {
    const answer = this.answers.shift() ?? { kind: 'posted' };
    if (answer.kind === 'posted') this.posted.push(`${s.context} ${s.state}`);
    return answer;
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('LocalStatusOutbox', () => {
  it('holds a context while its report waits out Retry-After; the newer report then wins', async () => {
    vi.useFakeTimers();
    const poster = new Poster([
      { kind: 'rate-limited', limit: 'secondary', retryAfterS: 30, status: 403 },
    ]);
    const outbox = new LocalStatusOutbox({ poster, concurrency: 1 });
    await outbox.send([{ status: status('a', 'pending'), at: 1 }]);
    await vi.advanceTimersByTimeAsync(0);
    expect(outbox.decisions.map((d) => [d.entry.status.state, d.action])).toEqual([
      ['pending', 'retry'],
    ]);
    // Newer reports meanwhile: `a`'s waits behind its held one, `b`'s goes at once.
    await outbox.send([
      { status: status('a', 'success'), at: 2 },
      { status: status('b', 'success'), at: 3 },
    ]);
    await vi.advanceTimersByTimeAsync(0);
    expect(poster.posted).toEqual(['b success']);
    await vi.advanceTimersByTimeAsync(29_000);
    expect(poster.posted).toEqual(['b success']);
    await vi.advanceTimersByTimeAsync(1_000);
    await outbox.idle();
    expect(poster.posted).toEqual(['b success', 'a success']);
    expect(outbox.decisions.slice(-2).map((d) => [d.entry.status.state, d.why])).toEqual([
      ['pending', 'superseded'],
      ['success', 'posted'],
    ]);
    outbox.stop();
  });
});
