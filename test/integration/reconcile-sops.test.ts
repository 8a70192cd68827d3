// SOPS through the engine against the real API server, with files encrypted
// by the real sops (scripts/testenv/build-sops.sh): an age key read from
// Secrets Manager on moto, a KMS key on moto (the worker's credentials, and
// a role assumed through STS), dotenv and JSON files of a Kustomize
// secretGenerator, a Helm values file, a Secret value that is a SOPS
// document. A tampered file fails its MAC naming the file and nothing is
// applied; no plaintext reaches the status, history, events, commit statuses
// or diffs.

import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CoreV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { AwsKmsDecrypter } from '../../lib/aws/kms.js';
import { SecretsManagerSource } from '../../lib/aws/secrets.js';
import { SourceCache } from '../../lib/source/index.js';
import { awsClientConfig } from '../support/aws.js';
import { EngineHarness } from '../support/engine.js';
import { testenv, uniqueName } from '../support/env.js';
import { kubeConfig, unlessNotFound } from '../support/kube.js';
import { type AgeKey, ageKeygen, createKmsKey, sopsEncrypt } from '../support/sops.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const namespace = (ns: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n`;
const secretYaml = (name: string, values: Record<string, string>) =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\nstringData:\n${Object.entries(values)
    .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
    .join('\n')}\n`;

let age: AgeKey;
let secretRef: string;
let kmsArn: string;

/** The harness's KMS client, by app name: its stats show the calls made. */
const kmsClients = new Map<string, AwsKmsDecrypter>();

async function harness(name: string) {
  const { aws } = testenv();
  const cfg = awsClientConfig();
  const kms = new AwsKmsDecrypter({
    endpoint: aws.endpoint,
    credentials: async () => cfg.credentials,
  });
  const renderer = new SourceCache({
    decryption: { secrets: new SecretsManagerSource({ clientConfig: cfg }), kms },
  });
  const h = await EngineHarness.create(uniqueName(name), { renderer });
  kmsClients.set(h.appName, kms);
  return h;
}

async function liveSecret(ns: string, name: string): Promise<Record<string, string> | undefined> {
  try {
    const s = await kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name, namespace: ns });
    return Object.fromEntries(
      Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
    );
  } catch (e) {
    if ((e as { code?: number }).code === 404) return undefined;
    throw e;
  }
}

async function namespaceExists(ns: string): Promise<boolean> {
  const read = kubeConfig().makeApiClient(CoreV1Api).readNamespace({ name: ns });
  return (await unlessNotFound(read)) !== undefined;
}

/** Everything the engine recorded for the harness's target, as text to search. */
async function recorded(h: EngineHarness): Promise<string> {
  const status = await h.store.getTargetStatus(h.target);
  const history = await h.store.listHistory(h.target);
  return JSON.stringify({ status, history, events: h.events, reports: h.reporter.reports });
}

function expectNoPlaintext(text: string, values: string[]) {
  for (const v of values) {
    expect(text).not.toContain(v);
    expect(text).not.toContain(b64(v));
  }
}

beforeAll(async () => {
  age = await ageKeygen();
  secretRef = uniqueName('sops-age');
  const sm = new SecretsManagerClient(awsClientConfig());
  await sm.send(new CreateSecretCommand({ Name: secretRef, SecretString: age.identity }));
  kmsArn = await createKmsKey();
});

describe('SOPS with age', () => {
  it('applies a Secret encrypted by sops with an age key, and shows no value anywhere', async () => {
    const ns = uniqueName('sops');
    const password = `pw-${uniqueName('age')}`;
    const h = await harness('sops-age');
    await h.repo.commit(
      {
        'namespace.yaml': namespace(ns),
        'secret.yaml': await sopsEncrypt('secret.yaml', secretYaml('creds', { password }), {
          age: age.recipient,
        }),
      },
      'encrypted secret',
    );
    await h.setApp({ namespace: ns, decryption: { provider: 'sops', secretRef } });
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.sync).toBe('Synced');
    expect(await liveSecret(ns, 'creds')).toEqual({ password });

    // A rotated value: the preview's diff names the change and shows no value.
    const rotated = `pw-${uniqueName('rotated')}`;
    await h.repo.commit(
      {
        'secret.yaml': await sopsEncrypt(
          'secret.yaml',
          secretYaml('creds', { password: rotated }),
          {
            age: age.recipient,
          },
        ),
      },
      'rotate',
    );
    const preview = await h.reconcile({ preview: true });
    const diff = preview.drift?.find((d) => d.key === `/Secret/${ns}/creds`)?.diff ?? '';
    expect(diff).toMatch(/password/);
    expectNoPlaintext(diff, [password, rotated]);
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    expect(await liveSecret(ns, 'creds')).toEqual({ password: rotated });
    expectNoPlaintext(await recorded(h), [password, rotated]);
  });

  it('a file with one byte of a value changed fails its MAC, naming the file, and applies nothing', async () => {
    const ns = uniqueName('sops');
    const password = `pw-${uniqueName('tamper')}`;
    const h = await harness('sops-tamper');
    const encrypted = await sopsEncrypt('secret.yaml', secretYaml('creds', { password }), {
      age: age.recipient,
    });
    const at = encrypted.indexOf('data:', encrypted.indexOf('password:')) + 'data:'.length + 1;
    const tampered =
      encrypted.slice(0, at) + (encrypted[at] === 'A' ? 'B' : 'A') + encrypted.slice(at + 1);
    await h.repo.commit({ 'namespace.yaml': namespace(ns), 'secret.yaml': tampered }, 'tampered');
    await h.setApp({ namespace: ns, decryption: { provider: 'sops', secretRef } });
    const outcome = await h.reconcile();
    expect(outcome.error?.reason).toBe('DecryptionFailed');
    expect(outcome.error?.location.file).toBe('secret.yaml');
    expect(outcome.error?.message).toMatch(/stringData\.password: value failed authentication/);
    expect(await namespaceExists(ns)).toBe(false);

    // The MAC itself changed: the same, for the MAC.
    const mac = encrypted.indexOf('data:', encrypted.indexOf('mac:')) + 'data:'.length + 4;
    const badMac =
      encrypted.slice(0, mac) + (encrypted[mac] === 'A' ? 'B' : 'A') + encrypted.slice(mac + 1);
    await h.repo.commit({ 'secret.yaml': badMac }, 'MAC tampered');
    const again = await h.reconcile();
    expect(again.error?.reason).toBe('DecryptionFailed');
    expect(again.error?.location.file).toBe('secret.yaml');
    expect(again.error?.message).toMatch(/sops\.mac|MAC mismatch/);
    expect(await namespaceExists(ns)).toBe(false);
    expectNoPlaintext(await recorded(h), [password]);
  });

  it('refuses a SOPS file when the app has no spec.decryption, applying nothing', async () => {
    const ns = uniqueName('sops');
    const h = await harness('sops-nospec');
    await h.repo.commit(
      {
        'namespace.yaml': namespace(ns),
        'secret.yaml': await sopsEncrypt(
          'secret.yaml',
          secretYaml('creds', { password: 'x-y-z' }),
          {
            age: age.recipient,
          },
        ),
      },
      'encrypted secret',
    );
    await h.setApp({ namespace: ns });
    const outcome = await h.reconcile();
    expect(outcome.error?.reason).toBe('DecryptionFailed');
    expect(outcome.error?.message).toMatch(/set spec\.decryption/);
    expect(outcome.error?.location.file).toBe('secret.yaml');
    expect(await namespaceExists(ns)).toBe(false);
  });

  it('decrypts a dotenv and a JSON file of a Kustomize secretGenerator, and a Secret value that is a SOPS document', async () => {
    const ns = uniqueName('sops');
    const dbPassword = `db-${uniqueName('env')}`;
    const apiToken = `tok-${uniqueName('json')}`;
    const blobToken = `blob-${uniqueName('value')}`;
    const h = await harness('sops-kustomize');
    const embedded = await sopsEncrypt('token.env', `TOKEN=${blobToken}\n`, { age: age.recipient });
    await h.repo.commit(
      {
        'app/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ${ns}
resources: [namespace.yaml, embedded.yaml]
generatorOptions: { disableNameSuffixHash: true }
secretGenerator:
  - name: app-env
    envs: [app.env]
  - name: app-json
    files: [config.json]
`,
        'app/namespace.yaml': namespace(ns),
        'app/embedded.yaml': `apiVersion: v1\nkind: Secret\nmetadata:\n  name: embedded\ndata:\n  token.env: ${b64(embedded)}\n`,
        'app/app.env': await sopsEncrypt('app.env', `DB_USER=admin\nDB_PASSWORD=${dbPassword}\n`, {
          age: age.recipient,
        }),
        'app/config.json': await sopsEncrypt(
          'config.json',
          JSON.stringify({ url: 'https://api.example', token: apiToken }),
          { age: age.recipient },
        ),
      },
      'kustomize with sops files',
    );
    await h.setApp({
      namespace: ns,
      source: { path: 'app' },
      decryption: { provider: 'sops', secretRef },
    });
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(await liveSecret(ns, 'app-env')).toEqual({ DB_USER: 'admin', DB_PASSWORD: dbPassword });
    const json = (await liveSecret(ns, 'app-json'))?.['config.json'] ?? '';
    expect(JSON.parse(json)).toEqual({ url: 'https://api.example', token: apiToken });
    expect((await liveSecret(ns, 'embedded'))?.['token.env']).toBe(`TOKEN=${blobToken}\n`);
    expectNoPlaintext(await recorded(h), [dbPassword, apiToken, blobToken]);
  });

  it('decrypts a Helm values file encrypted with sops', async () => {
    const ns = uniqueName('sops');
    const password = `helm-${uniqueName('values')}`;
    const h = await harness('sops-helm');
    await h.repo.commit(
      {
        'chart/Chart.yaml': 'apiVersion: v2\nname: app\nversion: 0.1.0\n',
        'chart/values.yaml': 'db:\n  password: changeme\n',
        'chart/templates/secret.yaml':
          'apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {{ .Values.db.password | quote }}\n',
        'chart/secrets.yaml': await sopsEncrypt('secrets.yaml', `db:\n  password: ${password}\n`, {
          age: age.recipient,
        }),
        'namespace.yaml': namespace(ns),
      },
      'chart with encrypted values',
    );
    // The namespace first (a separate app would do; here, the cluster).
    await kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: ns } } });
    await h.setApp({
      namespace: ns,
      source: { path: 'chart', helm: { valueFiles: ['secrets.yaml'], values: {} } },
      decryption: { provider: 'sops', secretRef },
    });
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(await liveSecret(ns, 'db')).toEqual({ password });
    expectNoPlaintext(await recorded(h), [password]);
  });
});

describe('SOPS with AWS KMS (moto)', () => {
  it("applies a Secret encrypted with a KMS key, through the worker's credentials and through an assumed role", async () => {
    const ns = uniqueName('sops');
    const token = `kms-${uniqueName('token')}`;
    const h = await harness('sops-kms');
    await h.repo.commit(
      {
        'namespace.yaml': namespace(ns),
        'secret.yaml': await sopsEncrypt('secret.yaml', secretYaml('kms', { token }), {
          kms: kmsArn,
          args: ['--encryption-context', 'app:driftless,env:test'],
        }),
      },
      'kms secret',
    );
    await h.setApp({ namespace: ns, decryption: { provider: 'sops' } });
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(await liveSecret(ns, 'kms')).toEqual({ token });

    // Tenant isolation: the same file through a role assumed for the app.
    const other = await harness('sops-kms-role');
    const ns2 = uniqueName('sops');
    await other.repo.commit(
      {
        'namespace.yaml': namespace(ns2),
        'secret.yaml': await sopsEncrypt('secret.yaml', secretYaml('kms', { token }), {
          kms: kmsArn,
        }),
      },
      'kms secret',
    );
    await other.setApp({
      namespace: ns2,
      decryption: { provider: 'sops', roleArn: 'arn:aws:iam::123456789012:role/tenant-a' },
    });
    const viaRole = await other.reconcileUntilSettled();
    expect(viaRole.error).toBeUndefined();
    expect(await liveSecret(ns2, 'kms')).toEqual({ token });
    // The first app used the worker's credentials, the second the assumed role.
    expect(kmsClients.get(h.appName)?.stats).toEqual({ decrypt: 1, assumeRole: 0 });
    expect(kmsClients.get(other.appName)?.stats).toEqual({ decrypt: 1, assumeRole: 1 });
    expectNoPlaintext(await recorded(h), [token]);
    expectNoPlaintext(await recorded(other), [token]);
  });

  it('a file encrypted for a KMS key the worker cannot use fails naming the file and the key', async () => {
    const ns = uniqueName('sops');
    const h = await harness('sops-kms-missing');
    const encrypted = await sopsEncrypt('secret.yaml', secretYaml('kms', { token: 'nope-nope' }), {
      kms: kmsArn,
    });
    // The same blob under a key that does not exist: KMS refuses it.
    const missing = kmsArn.replace(/key\/.*/, 'key/00000000-0000-0000-0000-000000000000');
    await h.repo.commit(
      { 'namespace.yaml': namespace(ns), 'secret.yaml': encrypted.replaceAll(kmsArn, missing) },
      'wrong key',
    );
    await h.setApp({ namespace: ns, decryption: { provider: 'sops' } });
    const outcome = await h.reconcile();
    expect(outcome.error?.reason).toBe('DecryptionFailed');
    expect(outcome.error?.location.file).toBe('secret.yaml');
    expect(outcome.error?.message).toContain(missing);
    expect(await namespaceExists(ns)).toBe(false);
  });
});
