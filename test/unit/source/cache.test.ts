import { describe, expect, it } from 'vitest';
import { CheckoutCache } from '../../../lib/source/cache.js';

describe('CheckoutCache.repoKey', () => {
  const cache = new CheckoutCache('/tmp/unused', {
    maxCommitsPerRepo: 1,
    maxCacheBytes: 1,
    protectMs: 0,
  });
  const url = 'https://git.example.com/acme/deploy.git';
  const a = { username: 'bot', password: 'right' };
  const b = { username: 'bot', password: 'wrong' };

  it('keys by URL and credentials: different credentials never share an entry', () => {
    expect(cache.repoKey(url, a)).toBe(cache.repoKey(url, { ...a }));
    expect(cache.repoKey(url, a)).not.toBe(cache.repoKey(url, b));
    expect(cache.repoKey(url, a)).not.toBe(cache.repoKey(url));
    expect(cache.repoKey(url, a)).not.toBe(cache.repoKey(`${url}x`, a));
    // User info in the URL changes nothing; an App's identity stands for its changing tokens.
    expect(cache.repoKey(url.replace('https://', 'https://u:p@'))).toBe(cache.repoKey(url));
    const app = (password: string) => ({
      username: 'x',
      password,
      cacheIdentity: 'github-app:1:2',
    });
    expect(cache.repoKey(url, app('ghs_1'))).toBe(cache.repoKey(url, app('ghs_2')));
  });

  it('does not put the password in the key', () => {
    expect(cache.repoKey(url, a)).toMatch(/^[0-9a-f]{24}$/);
    expect(cache.repoKey(url, a)).not.toContain('right');
  });
});
