// lib/source/sops.ts against files made by the real sops (v3.13.3,
// test/fixtures/sops-files/): each decrypts to what `sops decrypt` gives,
// under every selector; a changed byte of a value, of a value in the clear
// or of the MAC fails; nothing decrypted is put in a message.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ageDecrypt, parseAgeIdentities } from '../../../lib/source/age.js';
import {
  detectSopsFile,
  parseSopsFile,
  SopsError,
  type SopsFile,
  sopsFormatOf,
} from '../../../lib/source/sops.js';
import { FIXTURES_DIR } from '../../support/fixtures.js';

const dir = path.join(FIXTURES_DIR, 'sops-files');
const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
const identities = parseAgeIdentities(read('key.txt'));

function open(name: string, text = read(name)): { file: SopsFile; key: Buffer } {
  const file = parseSopsFile(text, sopsFormatOf(name));
  if (!file) throw new Error(`${name} is not a SOPS file`);
  const stanza = file.metadata.age[0];
  if (!stanza) throw new Error(`${name} has no age key`);
  return { file, key: ageDecrypt(stanza.enc, identities) };
}

const yamlDocs = (text: string) => parseAllDocuments(text).map((d) => d.toJS());

describe('SOPS files from the real sops', () => {
  for (const name of [
    'secret.yaml',
    'regex.yaml',
    'suffix.yaml',
    'unregex.yaml',
    'maconly.yaml',
    'values.yaml',
  ]) {
    it(`${name} decrypts to what sops decrypt gives`, () => {
      const { file, key } = open(name);
      const out = file.decrypt(key);
      expect(yamlDocs(out.text)).toEqual(yamlDocs(read(`decrypted/${name}`)));
    });
  }

  it('secret.json keeps JSON, key order included', () => {
    const { file, key } = open('secret.json');
    const out = file.decrypt(key).text;
    expect(JSON.parse(out)).toEqual(JSON.parse(read('decrypted/secret.json')));
    expect(Object.keys(JSON.parse(out).nested)).toEqual(['10', 'keys']); // JS order; the MAC walked the file's
  });

  it('secret.env decrypts line for line, escapes kept', () => {
    const { file, key } = open('secret.env');
    expect(file.decrypt(key).text).toBe(read('decrypted/secret.env'));
  });

  it('blob.bin (binary) gives the bytes back', () => {
    const { file, key } = open('blob.bin');
    expect(file.decrypt(key).text).toBe(read('decrypted/blob.bin'));
  });

  it('the selector leaves values in the clear where the file says', () => {
    const { file } = open('regex.yaml');
    expect(file.metadata.shouldEncrypt(['stringData', 'password'])).toBe(true);
    expect(file.metadata.shouldEncrypt(['metadata', 'name'])).toBe(false);
    expect(
      open('secret.yaml').file.metadata.shouldEncrypt(['stringData', 'note_unencrypted']),
    ).toBe(false);
    expect(open('suffix.yaml').file.metadata.shouldEncrypt(['user'])).toBe(false);
    expect(open('unregex.yaml').file.metadata.shouldEncrypt(['kind'])).toBe(false);
  });

  it('lists the decrypted values (to scrub them from messages)', () => {
    const { file, key } = open('secret.yaml');
    expect(file.decrypt(key).secrets).toContain('hunter2-yaml');
  });

  it('finds a SOPS document in a Secret value by its key name', () => {
    expect(detectSopsFile(read('secret.env'), 'app.env')?.format).toBe('dotenv');
    expect(detectSopsFile(read('secret.json'), 'config.json')?.format).toBe('json');
    expect(detectSopsFile(read('blob.bin'), 'cert')?.format).toBe('binary');
    expect(detectSopsFile(read('secret.json'), 'config')?.format).toBe('json');
    expect(detectSopsFile(read('secret.yaml'), 'secret')?.format).toBe('yaml');
    expect(detectSopsFile('plain: text', 'x.yaml')).toBeUndefined();
  });
});

describe('tampering', () => {
  function failure(name: string, text: string): SopsError {
    const { file, key } = open(name, text);
    try {
      file.decrypt(key);
    } catch (e) {
      expect(e).toBeInstanceOf(SopsError);
      return e as SopsError;
    }
    throw new Error('decrypted a tampered file');
  }
  const flip = (s: string, at: number) =>
    s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);

  it('one byte of an encrypted value fails, naming its path and not its value', () => {
    const text = read('secret.yaml');
    const at = text.indexOf('data:', text.indexOf('password:')) + 'data:'.length + 2;
    const e = failure('secret.yaml', flip(text, at));
    expect(e.path).toBe('stringData.password');
    expect(e.message).toMatch(/failed authentication/);
    expect(e.message).not.toContain('hunter2');
  });

  it('a value in the clear changed fails the MAC', () => {
    const text = read('secret.yaml').replace('in the clear', 'in the clear!');
    expect(failure('secret.yaml', text).message).toMatch(/^MAC mismatch/);
  });

  it('a MAC changed fails', () => {
    const text = read('secret.env');
    const at = text.indexOf('data:', text.indexOf('sops_mac=')) + 'data:'.length + 3;
    expect(failure('secret.env', flip(text, at)).message).toMatch(
      /failed authentication|MAC mismatch/,
    );
  });

  it('a value moved to another key fails (the path is authenticated)', () => {
    const text = read('suffix.yaml');
    const moved = text.replace('pw_secret:', 'other_secret:');
    expect(failure('suffix.yaml', moved).path).toBe('other_secret');
  });
});

describe('not SOPS', () => {
  it('a file without sops metadata is not a SOPS file', () => {
    expect(
      parseSopsFile('a: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n', 'yaml'),
    ).toBeUndefined();
    expect(parseSopsFile('A=b\n', 'dotenv')).toBeUndefined();
  });
  it('several key groups (Shamir) are refused', () => {
    const text = read('values.yaml').replace('sops:\n', 'sops:\n    key_groups: [{}, {}]\n');
    expect(() => parseSopsFile(text, 'yaml')).toThrow(/2 groups/);
  });
});
