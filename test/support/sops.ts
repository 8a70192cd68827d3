// The real sops and age-keygen (scripts/testenv/build-sops.sh, pinned), and
// KMS keys on moto: fixtures encrypted the way a user encrypts them.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { signRequest } from '../../lib/aws/sigv4.js';
import { sopsBinDir } from '../../scripts/testenv/env.js';
import { testenv } from './env.js';

const run = promisify(execFile);

function bin(name: 'sops' | 'age-keygen'): string {
  const dir = sopsBinDir();
  const p = path.join(dir, name);
  if (!existsSync(path.join(dir, '.complete'))) {
    throw new Error(
      `${name} is not built (${dir}): run scripts/testenv/build-sops.sh (./scripts/test does)`,
    );
  }
  return p;
}

export interface AgeKey {
  /** The key file's text (what the secret holds). */
  identity: string;
  recipient: string;
}

export async function ageKeygen(): Promise<AgeKey> {
  const { stdout } = await run(bin('age-keygen'), []);
  const recipient = /public key: (age1[a-z0-9]+)/.exec(stdout)?.[1];
  if (!recipient) throw new Error(`age-keygen printed no public key:\n${stdout}`);
  return { identity: stdout, recipient };
}

/** The environment sops needs to reach KMS on moto. */
function awsEnv(): Record<string, string> {
  const { aws } = testenv();
  return {
    AWS_ENDPOINT_URL: aws.endpoint,
    AWS_REGION: aws.region,
    AWS_ACCESS_KEY_ID: aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
  };
}

/**
 * `sops encrypt` of `plaintext` as file `name` (its extension picks the
 * format), for an age recipient and/or a KMS key ARN.
 */
export async function sopsEncrypt(
  name: string,
  plaintext: string,
  keys: { age?: string; kms?: string; args?: string[] },
): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-sops-fixture-'));
  try {
    const file = path.join(dir, path.basename(name));
    await writeFile(file, plaintext);
    const args = ['encrypt', ...(keys.args ?? [])];
    if (keys.age) args.push('--age', keys.age);
    if (keys.kms) args.push('--kms', keys.kms);
    const { stdout } = await run(bin('sops'), [...args, file], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: dir, ...awsEnv() },
    });
    return stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A symmetric KMS key on moto (CreateKey); its ARN. */
export async function createKmsKey(): Promise<string> {
  const { aws } = testenv();
  const url = new URL(aws.endpoint);
  const body = JSON.stringify({ Description: 'driftless sops test', KeyUsage: 'ENCRYPT_DECRYPT' });
  const headers = await signRequest({
    method: 'POST',
    url,
    body,
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'TrentService.CreateKey',
    },
    service: 'kms',
    region: aws.region,
    credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
  });
  const res = await fetch(url, { method: 'POST', headers, body });
  const out = (await res.json()) as { KeyMetadata?: { Arn?: string } };
  if (!res.ok || !out.KeyMetadata?.Arn)
    throw new Error(`CreateKey: ${res.status} ${JSON.stringify(out)}`);
  return out.KeyMetadata.Arn;
}
