// SOPS through the deployed data plane, in-process (functions/ handlers,
// DynamoDB, SQS, Secrets Manager, KMS and STS on moto): an app whose Secrets
// the real sops encrypted for an age key (kept in Secrets Manager) and for a
// KMS key, synced by the worker function to the real API server. A scan of
// the table, the functions' logs and the status API's answers (app, history,
// diff) finds no plaintext; a tampered file fails its MAC with an error
// naming it, and the cluster keeps what it had.

import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { awsClientConfig } from '../support/aws.js';
import { type DataPlane, startDataPlane } from '../support/dataplane.js';
import { testenv, uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { kubeConfig } from '../support/kube.js';
import { drain } from '../support/lambda.js';
import { type AgeKey, ageKeygen, createKmsKey, sopsEncrypt } from '../support/sops.js';

let plane: DataPlane;
let age: AgeKey;
let secretRef: string;
let kmsArn: string;
const call: DataPlane['call'] = (...args) => plane.call(...args);
const b64 = (s: string) => Buffer.from(s).toString('base64');

const secretYaml = (name: string, values: Record<string, string>) =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\nstringData:\n${Object.entries(values)
    .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
    .join('\n')}\n`;

/** What the functions write to stdout and stderr (Powertools logs), while a test runs. */
const logs: string[] = [];
let restore: (() => void) | undefined;
beforeEach(() => {
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const capture =
    (write: typeof out) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      logs.push(String(chunk));
      return (write as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest);
    };
  process.stdout.write = capture(out) as typeof process.stdout.write;
  process.stderr.write = capture(err) as typeof process.stderr.write;
  restore = () => {
    process.stdout.write = out;
    process.stderr.write = err;
  };
});
afterEach(() => restore?.());

async function tableText(): Promise<string> {
  const dynamo = new DynamoDBClient(awsClientConfig());
  const items: unknown[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(
      new ScanCommand({
        TableName: plane.tableName,
        ExclusiveStartKey: start as never,
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return JSON.stringify(items);
}

async function liveSecret(ns: string, name: string): Promise<Record<string, string>> {
  const s = await kubeConfig()
    .makeApiClient(CoreV1Api)
    .readNamespacedSecret({ name, namespace: ns });
  return Object.fromEntries(
    Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
}

function expectNoPlaintext(where: string, text: string, values: string[]) {
  for (const v of values) {
    expect(text.includes(v), `${where} holds a plaintext value`).toBe(false);
    expect(text.includes(b64(v)), `${where} holds a value in base64`).toBe(false);
  }
}

const sync = async (app: string) => {
  expect((await call('POST', `/apps/${app}/sync`, {})).status).toBe(202);
  await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker, { quietMs: 500 });
};

beforeAll(async () => {
  // INFO: the logs scanned below are the ones a deployment writes.
  plane = await startDataPlane('sops', { logLevel: 'INFO' });
  const cluster = {
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name: 'local' },
    spec: { kubeconfig: { path: testenv().kube.kubeconfig } },
  };
  expect((await call('PUT', '/clusters/local', cluster)).status).toBe(201);
  age = await ageKeygen();
  secretRef = uniqueName('sops-age');
  await new SecretsManagerClient(awsClientConfig()).send(
    new CreateSecretCommand({ Name: secretRef, SecretString: age.identity }),
  );
  kmsArn = await createKmsKey();
});

describe('SOPS in the deployed data plane', () => {
  it('syncs age and KMS Secrets and keeps every value out of the table, the logs and the API', async () => {
    const ns = uniqueName('sops-e2e');
    const agePassword = `age-${uniqueName('pw')}`;
    const kmsToken = `kms-${uniqueName('tok')}`;
    const repo = await TestRepo.create('e2e-sops');
    await repo.commit(
      {
        'deploy/namespace.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
        'deploy/db.yaml': await sopsEncrypt(
          'db.yaml',
          secretYaml('db', { password: agePassword }),
          {
            age: age.recipient,
          },
        ),
        'deploy/api.yaml': await sopsEncrypt('api.yaml', secretYaml('api', { token: kmsToken }), {
          kms: kmsArn,
        }),
      },
      'encrypted secrets',
    );
    const app = {
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name: 'sops-e2e' },
      spec: {
        source: { repoURL: repo.url, revision: 'main', path: 'deploy' },
        destinations: [{ cluster: 'local', namespace: ns }],
        decryption: { provider: 'sops', secretRef },
        syncPolicy: { automated: false },
      },
    };
    expect((await call('PUT', '/apps/sops-e2e', app)).status).toBe(201);
    await sync('sops-e2e');
    expect(await liveSecret(ns, 'db')).toEqual({ password: agePassword });
    expect(await liveSecret(ns, 'api')).toEqual({ token: kmsToken });
    const detail = await call('GET', '/apps/sops-e2e');
    expect(detail.body.targets[0]).toMatchObject({ sync: 'Synced' });

    // A rotation waits (manual sync) while the diff preview shows the change, masked.
    const rotated = `age-${uniqueName('rotated')}`;
    await repo.commit(
      {
        'deploy/db.yaml': await sopsEncrypt('db.yaml', secretYaml('db', { password: rotated }), {
          age: age.recipient,
        }),
      },
      'rotate',
    );
    const diff = await call('GET', '/apps/sops-e2e/diff');
    expect(diff.status).toBe(200);
    // The Secret's change is there, its values masked.
    expect(JSON.stringify(diff.body)).toMatch(/Secret\/[^"]*\/db/);
    expect(JSON.stringify(diff.body)).toMatch(/password: \++/);

    const values = [agePassword, kmsToken, rotated];
    const answers = [
      detail,
      diff,
      await call('GET', '/apps/sops-e2e'),
      await call('GET', '/apps/sops-e2e/history'),
      await call('GET', '/apps'),
    ];
    expectNoPlaintext('the status API', JSON.stringify(answers.map((a) => a.body)), values);
    expectNoPlaintext('the table', await tableText(), values);
    // The worker logged this app's reconcile (so the scan below reads real logs).
    expect(logs.join('')).toMatch(/sops-e2e/);
    expectNoPlaintext('the logs', logs.join(''), values);
    expect(JSON.stringify(app)).not.toContain(age.identity.split('\n').at(-2));
    expect(await tableText()).not.toContain('AGE-SECRET-KEY-');
  });

  it('a tampered file fails its MAC naming the file; the cluster keeps what it had', async () => {
    const ns = uniqueName('sops-e2e');
    const password = `age-${uniqueName('pw')}`;
    const repo = await TestRepo.create('e2e-sops-tamper');
    const encrypted = await sopsEncrypt('db.yaml', secretYaml('db', { password }), {
      age: age.recipient,
    });
    await repo.commit(
      {
        'deploy/namespace.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
        'deploy/db.yaml': encrypted,
      },
      'encrypted',
    );
    const app = {
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name: 'sops-tamper' },
      spec: {
        source: { repoURL: repo.url, revision: 'main', path: 'deploy' },
        destinations: [{ cluster: 'local', namespace: ns }],
        decryption: { provider: 'sops', secretRef },
        syncPolicy: { automated: false },
      },
    };
    expect((await call('PUT', '/apps/sops-tamper', app)).status).toBe(201);
    await sync('sops-tamper');
    expect(await liveSecret(ns, 'db')).toEqual({ password });

    // The same file with one byte of the password's ciphertext changed.
    const at = encrypted.indexOf('data:', encrypted.indexOf('password:')) + 'data:'.length + 1;
    const tampered =
      encrypted.slice(0, at) + (encrypted[at] === 'A' ? 'B' : 'A') + encrypted.slice(at + 1);
    await repo.commit({ 'deploy/db.yaml': tampered }, 'tampered');
    await sync('sops-tamper');
    const target = (await call('GET', '/apps/sops-tamper')).body.targets[0];
    const text = JSON.stringify(target);
    expect(text).toMatch(/DecryptionFailed/);
    expect(text).toMatch(/deploy\/db\.yaml/);
    expect(await liveSecret(ns, 'db')).toEqual({ password });
    expectNoPlaintext('the status API', text, [password]);
    expectNoPlaintext('the table', await tableText(), [password]);
  });
});
