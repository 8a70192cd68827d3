// lib/source/decrypt.ts with files made by the real sops
// (test/fixtures/sops-files/) and the test identity behind a stub
// SecretSource: where plaintext goes (a private directory, removed after the
// render), what is refused (over 5 MiB, no key, still encrypted), what is
// left alone (another app's file), and errors scrubbed of plaintext.

import { readFileSync } from 'node:fs';
import { access, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DriftlessError } from '../../../lib/errors.js';
import type { ApplicationSource } from '../../../lib/model/application.js';
import type { Manifest } from '../../../lib/model/manifest.js';
import type { KmsDecrypter } from '../../../lib/ports/kms.js';
import type { SecretSource } from '../../../lib/ports/secrets.js';
import {
  type DecryptionKeys,
  MAX_SOPS_FILE_BYTES,
  renderDecrypted,
  scrubber,
} from '../../../lib/source/decrypt.js';
import { loadManifests } from '../../../lib/source/manifests.js';
import { renderOptionsHash } from '../../../lib/source/render.js';
import { FIXTURES_DIR } from '../../support/fixtures.js';

const fixtures = path.join(FIXTURES_DIR, 'sops-files');
const identity = readFileSync(path.join(fixtures, 'key.txt'), 'utf8');

class StubSecrets implements SecretSource {
  reads = 0;
  constructor(private readonly values: Record<string, string>) {}
  async getSecretString(id: string): Promise<string> {
    this.reads++;
    const v = this.values[id];
    if (v === undefined) throw new DriftlessError('InvalidSpec', `secret ${id} does not exist`);
    return v;
  }
}

const noKms: KmsDecrypter = {
  decrypt: async (req) => {
    throw new DriftlessError(
      'Forbidden',
      `KMS Decrypt with ${req.keyArn} was refused: AccessDeniedException`,
    );
  },
};

const keys = (): DecryptionKeys => ({ secrets: new StubSecrets({ age: identity }), kms: noKms });
const spec = { provider: 'sops' as const, secretRef: 'age' };
const source = (p = 'app'): ApplicationSource => ({
  repoURL: 'https://example.com/r.git',
  revision: 'main',
  path: p,
});

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'driftless-decrypt-test-'));
  await mkdir(path.join(root, 'app'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

const load = (dir: string) => loadManifests(dir, 'app');

async function failure(p: Promise<unknown>): Promise<DriftlessError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DriftlessError);
    return e as DriftlessError;
  }
  throw new Error('expected a failure');
}

describe('renderDecrypted', () => {
  it('renders from a private directory with the plaintext, then removes it', async () => {
    await copyFile(path.join(fixtures, 'secret.yaml'), path.join(root, 'app', 'secret.yaml'));
    let seen = '';
    const manifests = await renderDecrypted(
      root,
      { spec, keys: keys(), source: source() },
      async (dir) => {
        seen = dir;
        const mode = (await stat(path.dirname(dir))).mode & 0o777;
        expect(mode).toBe(0o700);
        expect((await stat(path.join(dir, 'app', 'secret.yaml'))).mode & 0o777).toBe(0o600);
        return load(dir);
      },
    );
    expect(seen).not.toBe(root);
    if (
      process.platform === 'linux' &&
      (await access('/dev/shm').then(
        () => true,
        () => false,
      ))
    )
      expect(seen.startsWith('/dev/shm/')).toBe(true);
    await expect(access(seen)).rejects.toThrow();
    const obj = manifests[0]?.object as unknown as { stringData: Record<string, unknown> };
    expect(obj.stringData.password).toBe('hunter2-yaml');
    expect(manifests[0]?.file).toBe('app/secret.yaml');
    // The checkout itself is untouched.
    expect(await readFile(path.join(root, 'app', 'secret.yaml'), 'utf8')).toContain(
      'ENC[AES256_GCM',
    );
  });

  it('renders from the checkout when nothing is encrypted', async () => {
    await writeFile(
      path.join(root, 'app', 'cm.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n',
    );
    let seen = '';
    await renderDecrypted(root, { spec, keys: keys(), source: source() }, async (dir) => {
      seen = dir;
      return load(dir);
    });
    expect(seen).toBe(root);
  });

  it('refuses a SOPS file over 5 MiB, naming it', async () => {
    const text = readFileSync(path.join(fixtures, 'secret.yaml'), 'utf8');
    const padding = `# ${'x'.repeat(1000)}\n`.repeat(Math.ceil(MAX_SOPS_FILE_BYTES / 1000) + 10);
    await writeFile(path.join(root, 'app', 'big.yaml'), padding + text);
    const e = await failure(renderDecrypted(root, { spec, keys: keys(), source: source() }, load));
    expect(e.reason).toBe('DecryptionFailed');
    expect(e.location.file).toBe('app/big.yaml');
    expect(e.message).toMatch(/over the 5 MiB limit/);
  });

  it("fails on a file of the app that its keys cannot open; leaves another app's file alone", async () => {
    await copyFile(path.join(fixtures, 'secret.yaml'), path.join(root, 'app', 'secret.yaml'));
    await mkdir(path.join(root, 'other'));
    await copyFile(path.join(fixtures, 'values.yaml'), path.join(root, 'other', 'values.yaml'));
    const wrong = { secrets: new StubSecrets({ age: '' }), kms: noKms };
    const e = await failure(renderDecrypted(root, { spec, keys: wrong, source: source() }, load));
    expect(e.message).toMatch(/no usable age identity/);

    // Only the other app's file is undecryptable: this app renders.
    const kmsOnly = readFileSync(path.join(fixtures, 'values.yaml'), 'utf8').replace(
      /age1[a-z0-9]+/g,
      'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqs',
    );
    await writeFile(path.join(root, 'other', 'values.yaml'), kmsOnly);
    const manifests = await renderDecrypted(root, { spec, keys: keys(), source: source() }, load);
    expect(manifests).toHaveLength(1);

    // The same file in this app's path fails, saying why.
    await writeFile(path.join(root, 'app', 'foreign.yaml'), kmsOnly);
    const mine = await failure(
      renderDecrypted(root, { spec, keys: keys(), source: source() }, load),
    );
    expect(mine.location.file).toBe('app/foreign.yaml');
    expect(mine.message).toMatch(/holds none of these identities/);
  });

  it('scrubs decrypted values from a render error', async () => {
    await copyFile(path.join(fixtures, 'secret.yaml'), path.join(root, 'app', 'secret.yaml'));
    const e = await failure(
      renderDecrypted(root, { spec, keys: keys(), source: source() }, async () => {
        throw new DriftlessError('RenderFailed', 'helm: cannot parse "hunter2-yaml" at line 3');
      }),
    );
    expect(e.message).toBe('helm: cannot parse "***" at line 3');
  });

  it('refuses an encrypted file for an app without spec.decryption, and one with it but no keys', async () => {
    await copyFile(path.join(fixtures, 'secret.yaml'), path.join(root, 'app', 'secret.yaml'));
    const none = await failure(
      renderDecrypted(root, { spec: undefined, keys: keys(), source: source() }, load),
    );
    expect(none.reason).toBe('DecryptionFailed');
    expect(none.message).toMatch(/set spec\.decryption/);
    const noKeys = await failure(
      renderDecrypted(root, { spec, keys: undefined, source: source() }, load),
    );
    expect(noKeys.message).toMatch(/no decryption keys configured/);
  });

  it('decrypts a Secret value that is a SOPS document, and refuses it without spec.decryption', async () => {
    const env = readFileSync(path.join(fixtures, 'secret.env'), 'utf8');
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'gen' },
      data: { 'app.env': Buffer.from(env).toString('base64') },
    };
    const rendered = async (): Promise<Manifest[]> => [
      {
        object: secret as unknown as Manifest['object'],
        file: 'app/kustomization.yaml',
        line: 1,
        documentIndex: 1,
        lineOf: () => 1,
      },
    ];
    const out = await renderDecrypted(root, { spec, keys: keys(), source: source() }, rendered);
    const data =
      (out[0]?.object as unknown as { data: Record<string, string> } | undefined)?.data ?? {};
    expect(Buffer.from(data['app.env'] ?? '', 'base64').toString()).toBe(
      readFileSync(path.join(fixtures, 'decrypted', 'secret.env'), 'utf8'),
    );
    expect(secret.data['app.env']).toBe(Buffer.from(env).toString('base64')); // input not mutated
    const e = await failure(
      renderDecrypted(root, { spec: undefined, keys: undefined, source: source() }, rendered),
    );
    expect(e.location.field).toBe('data.app.env');
  });

  it("asks KMS once a minute about another tenant's key, not once per render", async () => {
    const arn = 'arn:aws:kms:eu-west-1:123456789012:key/other-tenant';
    const text = readFileSync(path.join(fixtures, 'values.yaml'), 'utf8').replace(
      /sops:\n {4}age:[\s\S]*?(?=\n {4}lastmodified)/,
      `sops:\n    kms:\n        - arn: ${arn}\n          enc: AQID\n          created_at: "2026-12-02T00:00:00Z"`,
    );
    await mkdir(path.join(root, 'other'));
    await writeFile(path.join(root, 'other', 'values.yaml'), text);
    let calls = 0;
    const counting: KmsDecrypter = {
      decrypt: async (req) => {
        calls++;
        return noKms.decrypt(req);
      },
    };
    const k = { secrets: new StubSecrets({ age: identity }), kms: counting };
    for (let i = 0; i < 3; i++)
      await renderDecrypted(root, { spec, keys: k, source: source() }, load);
    expect(calls).toBe(1);
  });

  it('reads the age secret once per render, however many files', async () => {
    for (const f of ['secret.yaml', 'regex.yaml', 'unregex.yaml'])
      await copyFile(path.join(fixtures, f), path.join(root, 'app', f.replace('.yaml', '-x.yaml')));
    const secrets = new StubSecrets({ age: identity });
    await renderDecrypted(
      root,
      { spec, keys: { secrets, kms: noKms }, source: source() },
      async () => [],
    );
    expect(secrets.reads).toBe(1);
  });
});

describe('scrubber and the render cache key', () => {
  it('replaces values and their base64, longest first', () => {
    const scrub = scrubber(['hunter2', 'hunter2-long', 'ab']);
    const b64 = Buffer.from('hunter2').toString('base64');
    expect(scrub(`x hunter2-long y hunter2 z ${b64} ab`)).toBe('x *** y *** z *** ab');
  });

  it('the render cache key changes with spec.decryption and holds no secret', () => {
    const target = { appName: 'a', namespace: 'n' };
    const base = renderOptionsHash(source(), target, undefined);
    const withAge = renderOptionsHash(source(), target, spec);
    const withRole = renderOptionsHash(source(), target, {
      ...spec,
      roleArn: 'arn:aws:iam::123456789012:role/x',
    });
    expect(new Set([base, withAge, withRole]).size).toBe(3);
    expect(withAge).toMatch(/^[0-9a-f]{32}$/);
  });
});
