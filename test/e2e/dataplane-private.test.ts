// Private repositories through the deployed data plane, on the real servers:
// the status API and worker functions against moto (DynamoDB, SQS, Secrets
// Manager), the Kubernetes API server and git http-backend. Credentials come
// from Secrets Manager by name (source.credentials, or a Repository record's
// URL prefix), or from the GitHub App: the loopback GitHub issues an
// installation token, and a second Git server over the same repositories
// accepts exactly the tokens that GitHub issued. No credential reaches the
// table: the test scans all of it.

import { generateKeyPairSync } from 'node:crypto';
import { DynamoDBClient, ScanCommand, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitHttpBackend } from '../../scripts/testenv/env.js';
import { GitServer } from '../../scripts/testenv/gitserver.js';
import { awsClientConfig } from '../support/aws.js';
import { type DataPlane, startDataPlane } from '../support/dataplane.js';
import { testenv, uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { GitHubApiServer } from '../support/github-server.js';
import { eventually, kubeConfig, testNamespace } from '../support/kube.js';
import { drain, pollOnce } from '../support/lambda.js';

const APP_ID = 4711;
const INSTALLATION_ID = 99;

let plane: DataPlane;
let gh: GitHubApiServer;
let appGit: GitServer;
const call: DataPlane['call'] = (...args) => plane.call(...args);
/** Every password and token the test hands out: none may appear in the table. */
const handedOut: string[] = [];

const configMap = (name: string, value: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ${name} }\ndata: { v: "${value}" }\n`;

function appSpec(name: string, repoURL: string, ns: string, credentials?: string) {
  return {
    apiVersion: 'driftless.dev/v1',
    kind: 'Application',
    metadata: { name },
    spec: {
      source: {
        repoURL,
        revision: 'main',
        path: 'deploy',
        ...(credentials ? { credentials } : {}),
      },
      destinations: [{ cluster: 'local', namespace: ns }],
    },
  };
}

async function syncOnce(name: string) {
  expect((await call('POST', `/apps/${name}/sync`, {})).status).toBe(202);
  await pollOnce(plane.sqs, plane.queueUrl, plane.worker);
  return (await call('GET', `/apps/${name}`)).body;
}

async function syncedValue(name: string, ns: string, configMapName: string) {
  expect((await call('POST', `/apps/${name}/sync`, {})).status).toBe(202);
  await eventually(`${name} to be Synced`, async () => {
    await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker, { quietMs: 500 });
    const res = await call('GET', `/apps/${name}`);
    return res.body.targets[0]?.sync === 'Synced' ? res.body : undefined;
  });
  const cm = await kubeConfig()
    .makeApiClient(CoreV1Api)
    .readNamespacedConfigMap({ name: configMapName, namespace: ns });
  return cm.data?.v;
}

/** The whole table, every attribute of every item, as text. */
async function scanTable(): Promise<string> {
  const ddb = new DynamoDBClient(awsClientConfig());
  const items: unknown[] = [];
  let start: ScanCommandOutput['LastEvaluatedKey'];
  do {
    const out = await ddb.send(
      new ScanCommand({ TableName: plane.tableName, ExclusiveStartKey: start }),
    );
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return JSON.stringify(items);
}

beforeAll(async () => {
  const pair = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  gh = await GitHubApiServer.start({
    apps: [{ appId: APP_ID, publicKey: pair.publicKey, installationIds: [INSTALLATION_ID] }],
  });
  // GitHub's Git service: the same repositories, readable with an installation
  // token of the loopback GitHub (user x-access-token), and nothing else.
  appGit = await GitServer.start({
    root: testenv().git.root,
    httpBackend: gitHttpBackend(),
    username: 'unused',
    password: 'unused',
    authorize: ({ repo, username, password }) =>
      username === 'x-access-token' &&
      gh.acceptsInstallationToken(
        password,
        repo
          .replace(/\.git$/, '')
          .split('/')
          .pop() ?? '',
      ),
  });
  plane = await startDataPlane('private', {
    githubApp: {
      apiUrl: gh.url,
      appId: APP_ID,
      installationId: INSTALLATION_ID,
      privateKey: pair.privateKey,
      webHost: new URL(appGit.info.baseUrl).host,
    },
  });
  const cluster = {
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name: 'local' },
    spec: { kubeconfig: { path: testenv().kube.kubeconfig } },
  };
  expect((await call('PUT', '/clusters/local', cluster)).status).toBe(201);
});

afterAll(async () => {
  await appGit?.stop();
  await gh?.stop();
});

describe('a private repository with basic auth', () => {
  it('supplies an app that names no credentials from the Repository record of the longest matching prefix', async () => {
    // First in this file: the resolver's list of records is read once and reused for a while.
    const { git: server } = testenv();
    const repo = await TestRepo.create('team', { private: true, owner: 'acme' });
    const ns = await testNamespace('private-prefix');
    await repo.commit({ 'deploy/cm.yaml': configMap('from-prefix', 'one') });
    handedOut.push(server.password);
    await plane.putSecret(
      'acme-git',
      JSON.stringify({ type: 'basic', username: server.username, password: server.password }),
    );
    await plane.putSecret('wrong-git', JSON.stringify({ type: 'token', token: 'not-it-12345' }));
    handedOut.push('not-it-12345');
    const record = (name: string, urlPrefix: string, credentials: string) => ({
      apiVersion: 'driftless.dev/v1',
      kind: 'Repository',
      metadata: { name },
      spec: { urlPrefix, credentials },
    });
    // A shorter prefix with the wrong credentials: the longer one wins whatever the order.
    expect(
      (await call('PUT', '/repositories/host', record('host', `${server.baseUrl}/`, 'wrong-git')))
        .status,
    ).toBe(201);
    const put = await call(
      'PUT',
      '/repositories/acme',
      record('acme', `${server.baseUrl}/acme/`, 'acme-git'),
    );
    expect(put.status).toBe(201);
    expect(put.body.repository.spec).toEqual({
      urlPrefix: `${server.baseUrl}/acme/`,
      credentials: 'acme-git',
    });
    const listed = await call('GET', '/repositories');
    expect(listed.body.items.map((r: { metadata: { name: string } }) => r.metadata.name)).toEqual([
      'acme',
      'host',
    ]);

    expect((await call('PUT', '/apps/by-prefix', appSpec('by-prefix', repo.url, ns))).status).toBe(
      201,
    );
    expect(await syncedValue('by-prefix', ns, 'from-prefix')).toBe('one');
  });

  it('syncs with credentials from Secrets Manager named by source.credentials', async () => {
    const { git: server } = testenv();
    const repo = await TestRepo.create('basic', { private: true });
    const ns = await testNamespace('private-basic');
    await repo.commit({ 'deploy/cm.yaml': configMap('private-basic', 'v1') });
    await plane.putSecret(
      'basic-git',
      JSON.stringify({ type: 'basic', username: server.username, password: server.password }),
    );
    const put = await call('PUT', '/apps/basic', appSpec('basic', repo.url, ns, 'basic-git'));
    expect(put.status).toBe(201);
    expect(await syncedValue('basic', ns, 'private-basic')).toBe('v1');
  });

  it('fails a wrong credential with an error naming the repository and the secret, never the value', async () => {
    const repo = await TestRepo.create('wrong', { private: true });
    const ns = await testNamespace('private-wrong');
    await repo.commit({ 'deploy/cm.yaml': configMap('never', 'x') });
    const wrongPassword = `wrong-${uniqueName('pw')}`;
    handedOut.push(wrongPassword);
    await plane.putSecret(
      'stale-git',
      JSON.stringify({ type: 'basic', username: 'driftless', password: wrongPassword }),
    );
    expect(
      (await call('PUT', '/apps/wrong', appSpec('wrong', repo.url, ns, 'stale-git'))).status,
    ).toBe(201);
    const body = await syncOnce('wrong');
    const text = JSON.stringify(body);
    expect(text).toContain(
      `${repo.url}: authentication failed (HTTP 401) with credentials from secret ${plane.secretPrefix}stale-git`,
    );
    expect(text).not.toContain(wrongPassword);

    // A secret that does not exist is named too.
    expect(
      (await call('PUT', '/apps/missing', appSpec('missing', repo.url, ns, 'no-such-secret')))
        .status,
    ).toBe(201);
    const missing = JSON.stringify(await syncOnce('missing'));
    expect(missing).toContain(
      `secret ${plane.secretPrefix}no-such-secret does not exist in Secrets Manager`,
    );
  });

  it('refuses a repoURL carrying a token (400 naming spec.source.repoURL), and stores nothing', async () => {
    const repo = await TestRepo.create('userinfo', { private: true });
    const token = `ghp_${uniqueName('tok').replace(/-/g, '')}`;
    handedOut.push(token);
    const url = repo.url.replace('http://', `http://x-access-token:${token}@`);
    const res = await call('PUT', '/apps/userinfo', appSpec('userinfo', url, 'default'));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'InvalidSpec', field: 'spec.source.repoURL' });
    expect(res.body.message).toContain('source.credentials');
    expect(JSON.stringify(res.body)).not.toContain(token);
    expect((await call('GET', '/apps/userinfo')).status).toBe(404);
  });
});

describe('a private repository read through the GitHub App', () => {
  it('syncs with the installation token the loopback GitHub issued for that repository', async () => {
    const repo = await TestRepo.create('via-app', { private: true, owner: 'acme' });
    const ns = await testNamespace('private-app');
    await repo.commit({ 'deploy/cm.yaml': configMap('via-app', 'app') });
    const url = `${appGit.info.baseUrl}/${repo.name}`;
    await plane.putSecret('github-app', JSON.stringify({ type: 'githubApp' }));
    expect(
      (await call('PUT', '/apps/via-app', appSpec('via-app', url, ns, 'github-app'))).status,
    ).toBe(201);
    expect(await syncedValue('via-app', ns, 'via-app')).toBe('app');
    // The token was minted for this one repository, read-only, by the App's JWT.
    const minted = gh.requestsOf('apps/create-installation-access-token');
    expect(minted.length).toBeGreaterThan(0);
    expect(minted[0]).toMatchObject({
      status: 201,
      auth: 'bearer jwt',
      body: {
        repositories: [
          repo.name
            .split('/')
            .pop()
            ?.replace(/\.git$/, ''),
        ],
        permissions: { contents: 'read' },
      },
    });
  });
});

describe('the table', () => {
  it('holds no password or token anywhere: specs, records, status, history, indexes', async () => {
    const table = await scanTable();
    expect(handedOut.length).toBeGreaterThan(3);
    for (const secret of handedOut) expect(table).not.toContain(secret);
    expect(table).toContain('acme-git'); // the reference is there
    // Nor the installation tokens GitHub issued (ghs_…).
    expect(table).not.toMatch(/ghs_[A-Za-z0-9_-]{10,}/);
  });
});
