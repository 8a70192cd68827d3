import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../lib/model/canonical.js';

describe('canonical JSON', () => {
  it('sorts keys at every depth, arrays keep their order', () => {
    expect(canonicalJson({ b: [2, 1, { z: 1, a: 2 }], a: { d: null, c: 'x' } })).toBe(
      '{"a":{"c":"x","d":null},"b":[2,1,{"a":2,"z":1}]}',
    );
    expect(canonicalJson({ b: 1, a: 2 })).toBe(canonicalJson({ a: 2, b: 1 }));
  });

  it('is JSON.stringify for values whose keys are already sorted', () => {
    const v = { a: [1, 'two', true, null, { b: 1.5, c: 'é"\n' }], d: {}, e: [] };
    expect(canonicalJson(v)).toBe(JSON.stringify(v));
  });

  it('leaves undefined members out, and writes undefined elsewhere as null', () => {
    expect(canonicalJson({ b: 1, a: undefined })).toBe('{"b":1}');
    expect(canonicalJson([1, undefined])).toBe('[1,null]');
    expect(canonicalJson(undefined)).toBe('null');
  });
});
