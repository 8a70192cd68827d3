// lib/source/age.ts against the age format's own test vectors (the age
// testkit, test/fixtures/age-testkit/): every X25519 vector must decrypt to
// its payload's hash or fail as it expects; and the bech32 keys round-trip.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ageDecrypt,
  bech32Decode,
  parseAgeIdentities,
  parseAgeIdentity,
} from '../../../lib/source/age.js';
import { FIXTURES_DIR } from '../../support/fixtures.js';

const dir = path.join(FIXTURES_DIR, 'age-testkit');

interface Vector {
  name: string;
  expect: string;
  payload?: string;
  identity: string;
  armored: boolean;
  file: Buffer;
}

function vectors(): Vector[] {
  return readdirSync(dir)
    .filter((f) => f !== 'NOTICE')
    .map((name) => {
      const raw = readFileSync(path.join(dir, name));
      const split = raw.indexOf('\n\n');
      const headers = Object.fromEntries(
        raw
          .subarray(0, split)
          .toString('utf8')
          .split('\n')
          .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
      );
      return {
        name,
        expect: headers.expect ?? '',
        payload: headers.payload,
        identity: headers.identity ?? '',
        armored: headers.armored === 'yes',
        file: raw.subarray(split + 2),
      };
    });
}

describe('age testkit vectors', () => {
  const all = vectors();
  it('has the X25519 vectors', () => {
    expect(all.length).toBeGreaterThan(70);
    expect(all.filter((v) => v.expect === 'success').length).toBeGreaterThan(10);
  });
  for (const v of all) {
    it(`${v.name}: ${v.expect}`, () => {
      const identity = parseAgeIdentity(v.identity);
      const run = () => ageDecrypt(v.file, [identity]);
      if (v.expect === 'success') {
        expect(createHash('sha256').update(run()).digest('hex')).toBe(v.payload);
      } else {
        expect(run).toThrow();
      }
    });
  }
});

describe('age keys', () => {
  it('derives the recipient of an identity as age-keygen prints it', () => {
    // age-keygen output (the identity and its public key) from the real binary.
    const id = parseAgeIdentities(
      '# created: 2026-12-02T00:49:17Z\n# public key: age1chczpvwd8ylf63ghp5penl7v9wmy82g2scp97jj83d62c3vky56svpmded\nAGE-SECRET-KEY-16G2M3UHNS6Q5E4EYCATCKC6QFG8XDFT0XCQQ3MRNKRPVHU6T47SSNSGVR2\n',
    );
    expect(id.map((i) => i.recipient)).toEqual([
      'age1chczpvwd8ylf63ghp5penl7v9wmy82g2scp97jj83d62c3vky56svpmded',
    ]);
  });

  it('refuses a key with a bad checksum, and names the line, not the key', () => {
    const good = 'AGE-SECRET-KEY-1XMWWC06LY3EE5RYTXM9MFLAZ2U56JJJ36S0MYPDRWSVLUL66MV4QX3S7F6';
    const bad = `${good.slice(0, -1)}7`;
    expect(() => parseAgeIdentities(`# keys\n${bad}\n`)).toThrow(/^line 2: bad bech32 checksum$/);
    expect(bech32Decode(good).hrp).toBe('age-secret-key-');
  });
});
