import { describe, expect, it } from 'vitest';
import { SHORT_SHA_LENGTH, shortSha } from '../../../lib/model/revision.js';

describe('shortSha', () => {
  it('keeps the leading digits of a SHA, and says "-" when there is none', () => {
    expect(shortSha('3f2a9c1e5b7d00112233445566778899aabbccdd')).toBe('3f2a9c1e');
    expect(shortSha('3f2a9c1e5b7d').length).toBe(SHORT_SHA_LENGTH);
    expect(shortSha('abc')).toBe('abc');
    expect(shortSha(undefined)).toBe('-');
    expect(shortSha('')).toBe('-');
  });
});
