import { describe, expect, it } from 'vitest';
import {
  classifyGitHubError,
  parseGitHubRepo,
  SECONDARY_LIMIT_DEFAULT_WAIT_S,
  statusDescription,
} from '../../../lib/github/status.js';

describe('parseGitHubRepo', () => {
  it('reads owner and repo from GitHub URLs', () => {
    expect(parseGitHubRepo('https://github.com/acme/web.git')).toEqual({
      owner: 'acme',
      repo: 'web',
    });
    expect(parseGitHubRepo('https://github.com/acme/web')).toEqual({ owner: 'acme', repo: 'web' });
    expect(parseGitHubRepo('https://GitHub.com/acme/web.js/')).toEqual({
      owner: 'acme',
      repo: 'web.js',
    });
  });

  it('reads GitHub Enterprise URLs on the configured host', () => {
    expect(parseGitHubRepo('https://ghe.example.com/team/infra.git', 'ghe.example.com')).toEqual({
      owner: 'team',
      repo: 'infra',
    });
    expect(parseGitHubRepo('https://ghe.example.com/team/infra.git')).toBeUndefined();
  });

  it('refuses what is not owner/repo on that host', () => {
    expect(parseGitHubRepo('https://gitlab.com/acme/web.git')).toBeUndefined();
    expect(parseGitHubRepo('https://github.com/acme')).toBeUndefined();
    expect(parseGitHubRepo('https://github.com/acme/web/tree/main')).toBeUndefined();
    expect(parseGitHubRepo('git@github.com:acme/web.git')).toBeUndefined();
    expect(parseGitHubRepo('not a url')).toBeUndefined();
  });
});

describe('statusDescription', () => {
  it('keeps short text as one line', () => {
    expect(statusDescription('synced abc1234:\n  3 objects')).toBe('synced abc1234: 3 objects');
  });

  it('cuts long text to 140 characters at a word, marked with …', () => {
    const text = `sync failed: ${'word '.repeat(40)}`;
    const d = statusDescription(text);
    expect(d.length).toBeLessThanOrEqual(140);
    expect(d.endsWith('word…')).toBe(true);
  });

  it('cuts inside a long token when no word break is near', () => {
    const d = statusDescription(`x ${'y'.repeat(300)}`);
    expect(d).toHaveLength(140);
    expect(d.endsWith('y…')).toBe(true);
  });
});

describe('classifyGitHubError', () => {
  const now = 1_700_000_000_000;
  const answer = (status: number, headers: Record<string, string> = {}, message = 'x') => ({
    status,
    message,
    response: { headers },
  });

  it('reads rate limits as GitHub documents them', () => {
    expect(classifyGitHubError(answer(403, { 'retry-after': '30' }), now)).toEqual({
      kind: 'rate-limited',
      limit: 'secondary',
      retryAfterS: 30,
      status: 403,
    });
    expect(
      classifyGitHubError(
        answer(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 90) }),
        now,
      ),
    ).toMatchObject({ kind: 'rate-limited', limit: 'primary', retryAfterS: 90 });
    expect(
      classifyGitHubError(answer(403, {}, 'You have exceeded a secondary rate limit'), now),
    ).toMatchObject({ kind: 'rate-limited', retryAfterS: SECONDARY_LIMIT_DEFAULT_WAIT_S });
    expect(classifyGitHubError(answer(429), now)).toMatchObject({ kind: 'rate-limited' });
  });

  it('retries 5xx and answers that never came; drops other 4xx', () => {
    expect(classifyGitHubError(answer(502), now)).toMatchObject({
      kind: 'unavailable',
      status: 502,
    });
    expect(classifyGitHubError(new TypeError('fetch failed'), now)).toMatchObject({
      kind: 'unavailable',
    });
    expect(classifyGitHubError(answer(422, {}, 'Validation Failed'), now)).toEqual({
      kind: 'rejected',
      status: 422,
      message: 'Validation Failed',
    });
    expect(classifyGitHubError(answer(403, {}, 'Resource not accessible'), now)).toMatchObject({
      kind: 'rejected',
    });
  });
});
