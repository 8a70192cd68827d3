// YAML read as kubectl reads it (go-yaml v2 scalars, sigs.k8s.io/yaml keys):
// one test per rule of lib/model/yaml-schema.ts. The integration test
// yaml11.test.ts checks the same rules against the real kubectl.

import { describe, expect, it } from 'vitest';
import { parseYamlDocuments } from '../../../lib/model/yaml.js';
import { formatFloatKey, resolvePlain } from '../../../lib/model/yaml-schema.js';
import { thrown } from '../../support/errors.js';

/** The value of `v:` written as `text`. */
function value(text: string): unknown {
  const [doc] = parseYamlDocuments(`v: ${text}\n`, 'v.yaml');
  return (doc?.value as { v: unknown } | undefined)?.v;
}

function parse(text: string): unknown {
  return parseYamlDocuments(text, 'x.yaml')[0]?.value;
}

/** Every text of `texts` reads as `expected`. */
function expectAll(texts: string[], expected: unknown) {
  expect(Object.fromEntries(texts.map((t) => [t, value(t)]))).toEqual(
    Object.fromEntries(texts.map((t) => [t, expected])),
  );
}

describe('YAML 1.1 scalars as kubectl reads them', () => {
  it('reads a leading 0 as octal: file modes are what chmod means', () => {
    expect(value('0644')).toBe(0o644); // 420
    expect(value('0400')).toBe(0o400); // 256, not 400 = 0o620
    expect(value('0755')).toBe(493);
    expect(value('0')).toBe(0);
    expect(value('00')).toBe(0);
    expect(value('-010')).toBe(-8);
  });

  it('reads 0o and 0O octal too (Go integer syntax)', () => {
    expectAll(['0o644', '0O644'], 420);
  });

  it('reads 08 and 09, which are no octal, as decimal', () => {
    expect(value('08')).toBe(8);
    expect(value('09')).toBe(9);
  });

  it('reads hex and binary, either case, with a sign', () => {
    expectAll(['0x1F', '0x1f', '0X1F', '+0x1F'], 31);
    expect(value('-0x1F')).toBe(-31);
    expectAll(['0b101', '0B101', '+0b101'], 5);
    expect(value('-0b101')).toBe(-5);
  });

  it('ignores underscores anywhere after the first character', () => {
    expectAll(['1_000', '1__000', '1000_', '+_1000'], 1000);
    expect(value('0_644')).toBe(420);
    expect(value('0x_1F')).toBe(31);
    expect(value('1_0.5')).toBe(10.5);
    expect(value('_1000')).toBe('_1000');
  });

  it('takes a + sign', () => {
    expect(value('+12')).toBe(12);
    expect(value('+1.5')).toBe(1.5);
    expect(value('+.5')).toBe(0.5);
  });

  it('reads YAML floats, and a float written as an int is the same JSON number', () => {
    expect(value('1.5')).toBe(1.5);
    expect(value('1.')).toBe(1);
    expect(value('.5')).toBe(0.5);
    expect(value('-.5e3')).toBe(-500);
    expect(value('1e3')).toBe(1000);
    expect(value('1E+3')).toBe(1000);
    expect(value('0644.5')).toBe(644.5); // not octal with a fraction
  });

  it('leaves what go-yaml does not read as a number a string', () => {
    expectAll(['.'], '.');
    // Starting with a dot, underscores are not removed.
    expect(value('._5')).toBe('._5');
    expect(value('0x')).toBe('0x');
    expect(value('0b')).toBe('0b');
    expect(value('0b102')).toBe('0b102');
    expect(value('1e')).toBe('1e');
    expect(value('+')).toBe('+');
    expect(value('1.2.3')).toBe('1.2.3');
    expect(value('0x1F.5')).toBe('0x1F.5');
  });

  it('does not read sexagesimal (base 60) numbers: 190:20:30 is a string', () => {
    expect(value('190:20:30')).toBe('190:20:30');
    expect(value('1:30')).toBe('1:30');
    expect(value('-1:30.5')).toBe('-1:30.5');
  });

  it('keeps timestamps as written, not as dates', () => {
    expect(value('2001-12-14')).toBe('2001-12-14');
    expect(value('2001-12-14T21:59:43.10Z')).toBe('2001-12-14T21:59:43.10Z');
    expect(value('2001-12-14 21:59:43.10')).toBe('2001-12-14 21:59:43.10');
  });

  it('reads the YAML 1.1 booleans in exactly the casings go-yaml knows', () => {
    expectAll(['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'], true);
    expectAll(['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'], false);
    for (const s of ['yEs', 'tRUE', 'oN', 'nO', 'OfF', 'yes!', 'enabled']) expect(value(s)).toBe(s);
  });

  it('reads the nulls: ~, null, Null, NULL and nothing', () => {
    expectAll(['~', 'null', 'Null', 'NULL', ''], null);
    expect(value('nULL')).toBe('nULL');
  });

  it('treats quoted and block scalars as strings, whatever they look like', () => {
    for (const s of ['0644', '0x1F', 'yes', 'on', '~', 'null', '1e3', '.inf']) {
      expect(value(`"${s}"`)).toBe(s);
      expect(value(`'${s}'`)).toBe(s);
    }
    expect(parse('v: |\n  0644\n')).toEqual({ v: '0644\n' });
    expect(parse('v: >-\n  yes\n')).toEqual({ v: 'yes' });
  });

  it('reads integers beyond int64 as go-yaml does: unsigned, a decimal float, or text', () => {
    // Unsigned, and (as every JavaScript number) rounded to a double.
    expect(value('18446744073709551615')).toBe(2 ** 64);
    expect(resolvePlain('18446744073709551615')).toMatchObject({ type: 'int', unsigned: true });
    // Past uint64, or signed past int64: a float.
    expect(resolvePlain('99999999999999999999')).toEqual({ type: 'float', value: 1e20 });
    expect(resolvePlain('-9223372036854775809')).toEqual({ type: 'float', value: -(2 ** 63) });
    expect(value('0xFFFFFFFFFFFFFFFFFF')).toBe('0xFFFFFFFFFFFFFFFFFF');
    // A float that overflows float64 stays text.
    expect(value('1e999')).toBe('1e999');
  });

  it('refuses .inf and .nan as values: JSON has no such numbers, and kubectl fails on them', () => {
    for (const s of ['.inf', '.Inf', '+.INF', '-.inf', '.nan', '.NaN']) {
      const e = thrown(() => parseYamlDocuments(`a: 1\nv: ${s}\n`, 'inf.yaml'));
      expect(e.reason).toBe('InvalidManifest');
      expect(e.message).toContain(s);
      expect(e.location).toMatchObject({ file: 'inf.yaml', line: 2 });
    }
    expect(thrown(() => parse('a: &x .inf\nb: *x\n')).location.line).toBe(1);
    // Other spellings are just strings.
    expect(value('.INf')).toBe('.INf');
    expect(value('inf')).toBe('inf');
  });

  it('resolves explicit tags like go-yaml, failing on a mismatch', () => {
    expect(value('!!str 0644')).toBe('0644');
    expect(value('!!str yes')).toBe('yes');
    expect(value('!!int "0644"')).toBe(420);
    expect(value('!!int 0x1F')).toBe(31);
    expect(value('!!float 1')).toBe(1);
    expect(value('!!bool "on"')).toBe(true);
    expect(value('!!null ""')).toBe(null);
    expect(value('!!binary aGVsbG8=')).toBe('hello');
    expect(value('!!timestamp 2001-12-14')).toBe('2001-12-14');
    expect(value('!custom 0644')).toBe('0644');
    for (const [text, message] of [
      ['!!int yes', 'cannot decode !!bool `yes` as a !!int'],
      ['!!int 1.5', 'cannot decode !!float `1.5` as a !!int'],
      ['!!bool 1', 'cannot decode !!int `1` as a !!bool'],
      ['!!binary not*base64', 'invalid base64'],
      ['!!timestamp yesterday', 'as a !!timestamp'],
    ] as const) {
      const e = thrown(() => parseYamlDocuments(`a: 1\nv: ${text}\n`, 'tag.yaml'));
      expect(e.message).toContain(message);
      expect(e.location).toMatchObject({ file: 'tag.yaml', line: 2 });
    }
  });

  it('classifies plain scalars with their go-yaml type', () => {
    expect(resolvePlain('0644')).toMatchObject({ type: 'int', value: 420, exact: 420n });
    expect(resolvePlain('1e3')).toEqual({ type: 'float', value: 1000 });
    expect(resolvePlain('on')).toEqual({ type: 'bool', value: true });
    expect(resolvePlain('190:20:30')).toEqual({ type: 'str', value: '190:20:30' });
  });
});

describe('map keys as sigs.k8s.io/yaml names them', () => {
  it('names bool-like keys "true" and "false"', () => {
    expect(parse('on: a\nno: b\n')).toEqual({ true: 'a', false: 'b' });
    expect(parse('y: a\n')).toEqual({ true: 'a' });
    expect(parse('"on": a\n"y": b\n')).toEqual({ on: 'a', y: 'b' });
  });

  it('names int keys in decimal', () => {
    expect(parse('0x1F: a\n0644: b\n1_000: c\n-0b1: d\n')).toEqual({
      '31': 'a',
      '420': 'b',
      '1000': 'c',
      '-1': 'd',
    });
    // Exactly, past 2^53.
    expect(parse('9223372036854775807: a\n')).toEqual({ '9223372036854775807': 'a' });
  });

  it("names float keys as Go's FormatFloat(f, 'g', -1, 32) does", () => {
    expect(parse('1.5: a\n1e6: b\n3.14159265358979: c\n0.00001: d\n1.0: e\n')).toEqual({
      '1.5': 'a',
      '1e+06': 'b',
      '3.1415927': 'c',
      '1e-05': 'd',
      '1': 'e',
    });
    expect(parse('.inf: a\n-.inf: b\n.nan: c\n')).toEqual({
      '.inf': 'a',
      '-.inf': 'b',
      '.nan': 'c',
    });
    expect(parse('99999999999999999999: a\n')).toEqual({ '1e+20': 'a' });
    expect(formatFloatKey(123456.7)).toBe('123456.7');
    expect(formatFloatKey(1234567)).toBe('1.234567e+06');
    expect(formatFloatKey(100000)).toBe('100000');
    expect(formatFloatKey(0.0001)).toBe('0.0001');
    expect(formatFloatKey(-2.5e-7)).toBe('-2.5e-07');
    expect(formatFloatKey(1e300)).toBe('.inf'); // no float32 that large
  });

  it('keeps string-like keys as written: timestamps, sexagesimal, quoted numbers', () => {
    expect(parse('2001-12-14: a\n1:30: b\n"0644": c\n')).toEqual({
      '2001-12-14': 'a',
      '1:30': 'b',
      '0644': 'c',
    });
  });

  it('names a key given by an alias like the value it repeats', () => {
    expect(parse('a: &k 1e6\nb: {*k : x}\n')).toEqual({ a: 1e6, b: { '1e+06': 'x' } });
  });

  it('refuses keys with no JSON name, with their line', () => {
    for (const [text, message] of [
      ['a: 1\n~: 1\n', 'null key'],
      ['a: 1\nnull: 1\n', 'null key'],
      ['a: 1\n? [x, y]\n: 1\n', 'must be a scalar'],
      ['a: 1\n? {x: 1}\n: 1\n', 'must be a scalar'],
      ['a: 1\n18446744073709551615: 1\n', 'beyond int64'],
    ] as const) {
      const e = thrown(() => parseYamlDocuments(text, 'keys.yaml'));
      expect(e.message).toContain(message);
      expect(e.location).toMatchObject({ file: 'keys.yaml', line: 2 });
    }
  });

  it('refuses keys that become the same JSON key, naming how it was written', () => {
    const e = thrown(() => parseYamlDocuments('data:\n  yes: a\n  on: b\n', 'dup.yaml'));
    expect(e.message).toBe(
      'invalid YAML: duplicate key "true" (written on, which Kubernetes reads as "true")',
    );
    expect(e.location).toMatchObject({ file: 'dup.yaml', line: 3 });
    expect(thrown(() => parse('1: a\n"1": b\n')).message).toContain('duplicate key "1"');
    expect(thrown(() => parse('0x1F: a\n31: b\n')).location.line).toBe(2);
  });
});

describe('merge keys as go-yaml merges them', () => {
  it('merges at the position of <<: keys before it are overwritten, keys after it win', () => {
    expect(parse('base: &b {a: 1, c: 3}\nm:\n  a: 0\n  <<: *b\n  c: 9\n')).toMatchObject({
      m: { a: 1, c: 9 },
    });
  });

  it('lets the earlier map of a list win', () => {
    expect(parse('m:\n  <<: [{a: 1}, {a: 2, b: 2}]\n  c: 3\n')).toEqual({
      m: { a: 1, b: 2, c: 3 },
    });
  });

  it('merges through aliases and nested merges', () => {
    const text = 'x: &x {a: 1}\ny: &y {<<: *x, b: 2}\nz:\n  <<: [*y]\n  c: 3\n';
    expect(parse(text)).toMatchObject({ z: { a: 1, b: 2, c: 3 } });
  });

  it('refuses a merge of anything but maps, with its line', () => {
    for (const text of ['m:\n  <<: 3\n', 'm:\n  <<: [{a: 1}, 2]\n', 'a: &a [1]\nm:\n  <<: *a\n']) {
      const e = thrown(() => parseYamlDocuments(text, 'merge.yaml'));
      expect(e.message).toContain('merge key');
    }
  });

  it('reads a quoted << as an ordinary key', () => {
    expect(parse('"<<": {a: 1}\n')).toEqual({ '<<': { a: 1 } });
  });

  it('counts the aliases a merge uses against the expansion bound', () => {
    const text = `b: &b {a: 1}\n${[1, 2, 3, 4, 5].map((i) => `m${i}: {<<: *b}`).join('\n')}\n`;
    expect(() => parseYamlDocuments(text, 'x.yaml', { maxAliasCount: 10 })).not.toThrow();
    const e = thrown(() => parseYamlDocuments(text, 'x.yaml', { maxAliasCount: 2 }));
    expect(e.message).toMatch(/alias/i);
  });
});

describe('YamlDocument.sourceOf', () => {
  it('gives a scalar as written, for messages that must quote it', () => {
    const [doc] = parseYamlDocuments('metadata:\n  labels:\n    enabled: yes\n', 'x.yaml');
    expect(doc?.sourceOf(['metadata', 'labels', 'enabled'])).toBe('yes');
    expect(doc?.sourceOf(['metadata', 'labels'])).toBeUndefined();
  });
});
