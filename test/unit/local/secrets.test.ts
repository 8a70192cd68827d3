import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  defaultSecretsFile,
  LocalSecretSource,
  secretEnvName,
} from '../../../lib/local/secrets.js';
import { rejection } from '../../support/errors.js';

async function secretsFile(text: string): Promise<string> {
  const file = path.join(
    await mkdtemp(path.join(os.tmpdir(), 'driftless-secrets-')),
    'secrets.yaml',
  );
  await writeFile(file, text);
  return file;
}

describe('LocalSecretSource', () => {
  it('reads mappings as JSON and strings as they are; the environment wins', async () => {
    const file = await secretsFile(
      'secrets:\n  acme-git: { type: basic, username: bot, password: "p w" }\n  raw: \'{"type":"token","token":"t"}\'\n',
    );
    const source = new LocalSecretSource({
      file,
      env: { DRIFTLESS_SECRET_RAW: '{"type":"token","token":"from-env"}' },
    });
    expect(JSON.parse(await source.getSecretString('acme-git'))).toEqual({
      type: 'basic',
      username: 'bot',
      password: 'p w',
    });
    expect(await source.getSecretString('raw')).toBe('{"type":"token","token":"from-env"}');
    // Only the environment, no file.
    const envOnly = new LocalSecretSource({
      file: path.join(os.tmpdir(), 'no-such-dir', 'secrets.yaml'),
      env: { [secretEnvName('team/git.main')]: 'v' },
    });
    expect(secretEnvName('team/git.main')).toBe('DRIFTLESS_SECRET_TEAM_GIT_MAIN');
    expect(await envOnly.getSecretString('team/git.main')).toBe('v');
  });

  it('names a missing secret, the file and the variable; refuses a file of the wrong shape', async () => {
    const file = await secretsFile('secrets:\n  other: x\n');
    const missing = await rejection(
      new LocalSecretSource({ file, env: {} }).getSecretString('git'),
    );
    expect(missing.message).toBe(`secret git is not in ${file} nor in DRIFTLESS_SECRET_GIT`);
    const none = path.join(path.dirname(file), 'absent.yaml');
    expect(
      (await rejection(new LocalSecretSource({ file: none, env: {} }).getSecretString('git')))
        .message,
    ).toBe(`secret git is not in ${none} (no such file) nor in DRIFTLESS_SECRET_GIT`);
    const list = await secretsFile('secrets:\n  - a\n');
    const bad = await rejection(
      new LocalSecretSource({ file: list, env: {} }).getSecretString('a'),
    );
    expect(bad.location).toMatchObject({ file: list, field: 'secrets' });
  });

  it('defaults to the XDG config directory', () => {
    expect(defaultSecretsFile({ XDG_CONFIG_HOME: '/cfg' })).toBe('/cfg/driftless/secrets.yaml');
    expect(defaultSecretsFile({})).toBe(
      path.join(os.homedir(), '.config', 'driftless', 'secrets.yaml'),
    );
  });
});
