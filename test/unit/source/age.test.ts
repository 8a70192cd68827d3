// lib/source/age.ts's keys: bech32 identities and recipients round-trip as
// the real age-keygen prints them. Decryption itself is tested against files
// the real sops and age binaries encrypt (test/integration/reconcile-sops.test.ts,
// test/unit/source/sops.test.ts).

import { describe, expect, it } from 'vitest';
import { bech32Decode, parseAgeIdentities } from '../../../lib/source/age.js';

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
