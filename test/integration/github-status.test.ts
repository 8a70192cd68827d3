// Commit statuses against a GitHub API that validates every request against
// GitHub's OpenAPI description (test/support/github-server.ts), with the App's
// private key and a token kept in Secrets Manager (moto).

import { createSign, generateKeyPairSync } from 'node:crypto';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretsManagerSource } from '../../lib/aws/secrets.js';
import { OutboxReporter } from '../../lib/github/outbox.js';
import {
  GitHubStatusClient,
  type GitHubStatusClientOptions,
  SECONDARY_LIMIT_DEFAULT_WAIT_S,
} from '../../lib/github/status.js';
import { LocalStatusOutbox } from '../../lib/local/outbox.js';
import { awsClientConfig } from '../support/aws.js';
import { EngineHarness } from '../support/engine.js';
import { testenv, uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { GitHubApiServer } from '../support/github-server.js';
import { eventually, testNamespace } from '../support/kube.js';

const APP_ID = 4242;
const INSTALLATION_ID = 31337;
const SHA = 'a'.repeat(40);

let gh: GitHubApiServer;
let privateKey: string;
let otherKey: string;
const pat = `github_pat_${uniqueName('t').replace(/-/g, '')}`;
let keySecret: string;
let tokenSecret: string;
const secrets = new SecretsManagerSource({ clientConfig: awsClientConfig() });

/** An App JWT as GitHub documents it: RS256, iss = App id, at most 10 minutes. */
function appJwt(key: string): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ iat: now - 30, exp: now + 540, iss: String(APP_ID) })}`;
  return `${unsigned}.${createSign('RSA-SHA256').update(unsigned).sign(key, 'base64url')}`;
}

function client(opts: Partial<GitHubStatusClientOptions> = {}): GitHubStatusClient {
  return new GitHubStatusClient({
    auth: {
      kind: 'app',
      appId: APP_ID,
      installationId: INSTALLATION_ID,
      privateKeySecretId: keySecret,
    },
    secrets,
    apiBaseUrl: gh.url,
    webHost: 'github.com',
    ...opts,
  });
}

function status(
  repo: string,
  state: 'pending' | 'success' | 'failure' | 'error',
  description = 'x',
) {
  return {
    repoURL: `https://github.com/acme/${repo}.git`,
    commit: SHA,
    context: `driftless/${repo}/prod`,
    state,
    description,
    targetUrl: `https://status.example.com/apps/${repo}?cluster=prod`,
  };
}

beforeAll(async () => {
  const pair = () =>
    generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
  const app = pair();
  privateKey = app.privateKey;
  otherKey = pair().privateKey;
  gh = await GitHubApiServer.start({
    apps: [{ appId: APP_ID, publicKey: app.publicKey, installationIds: [INSTALLATION_ID] }],
    tokens: [pat],
  });
  const sm = new SecretsManagerClient(awsClientConfig());
  keySecret = uniqueName('github-app-key');
  tokenSecret = uniqueName('github-token');
  await sm.send(new CreateSecretCommand({ Name: keySecret, SecretString: privateKey }));
  await sm.send(new CreateSecretCommand({ Name: tokenSecret, SecretString: pat }));
  const wrongKey = uniqueName('github-wrong-key');
  await sm.send(new CreateSecretCommand({ Name: wrongKey, SecretString: otherKey }));
  process.env.DRIFTLESS_TEST_WRONG_KEY_SECRET = wrongKey;
  sm.destroy();
});

afterAll(async () => {
  await gh?.stop();
});

describe('the validating GitHub server', () => {
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gh.url}${path}`, {
      method: 'POST',
      headers: {
        'user-agent': 'test',
        'content-type': 'application/json',
        authorization: `token ${pat}`,
        ...headers,
      },
      body: JSON.stringify(body),
    });

  it('accepts what the description allows and rejects what it does not', async () => {
    expect((await post(`/repos/acme/web/statuses/${SHA}`, { state: 'success' })).status).toBe(201);
    expect((await post('/repos/acme/web/no-such-thing', { state: 'success' })).status).toBe(404);
    const invalid = await post(`/repos/acme/web/statuses/${SHA}`, { state: 'done' });
    expect(invalid.status).toBe(422);
    expect(((await invalid.json()) as { message: string }).message).toMatch(
      /\/state must be equal to one of the allowed values/,
    );
    expect(
      (await post(`/repos/acme/web/statuses/${SHA}`, { state: 'success', context: 7 })).status,
    ).toBe(422);
    expect(
      (await post(`/repos/acme/web/statuses/${SHA}`, { state: 'success' }, { authorization: '' }))
        .status,
    ).toBe(401);
    expect(
      (
        await post(
          `/repos/acme/web/statuses/${SHA}`,
          { state: 'success' },
          { authorization: 'token nope' },
        )
      ).status,
    ).toBe(401);
    // A path parameter its schema refuses (installation_id is an integer).
    expect((await post('/app/installations/abc/access_tokens', {})).status).toBe(404);
    // /app endpoints want a JWT, not a token.
    expect((await post(`/app/installations/${INSTALLATION_ID}/access_tokens`, {})).status).toBe(
      401,
    );
    expect(
      (
        await post(`/repos/acme/web/statuses/${SHA}`, {
          state: 'success',
          description: 'x'.repeat(141),
        })
      ).status,
    ).toBe(422); // OpenAPI 3.0's nullable is honoured.
    expect(
      (await post(`/repos/acme/web/statuses/${SHA}`, { state: 'success', description: null }))
        .status,
    ).toBe(201);
  });

  it('checks App JWTs and validates bodies through $refs', async () => {
    const tokens = `/app/installations/${INSTALLATION_ID}/access_tokens`;
    const bearer = (key: string) => ({ authorization: `Bearer ${appJwt(key)}` });
    expect((await post(tokens, {}, bearer(privateKey))).status).toBe(201);
    expect((await post(tokens, {}, bearer(otherKey))).status).toBe(401);
    // permissions is a $ref to components/schemas/app-permissions, whose values are enums.
    const bad = await post(tokens, { permissions: { statuses: 'bogus' } }, bearer(privateKey));
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { message: string }).message).toMatch(
      /\/permissions\/statuses must be equal to one of the allowed values/,
    );
    expect(
      (await post(tokens, { permissions: { statuses: 'write' } }, bearer(privateKey))).status,
    ).toBe(201);
    expect((await post('/app/installations/1/access_tokens', {}, bearer(privateKey))).status).toBe(
      404,
    );
  });
});

describe('GitHubStatusClient', () => {
  it('authenticates as the App: JWT → installation token, then statuses with that token', async () => {
    const before = gh.requests.length;
    const c = client();
    expect(await c.post(status('web', 'pending', 'syncing aaaaaaa'))).toEqual({ kind: 'posted' });
    expect(await c.post(status('web', 'success', 'synced aaaaaaa: 3 objects; Healthy'))).toEqual({
      kind: 'posted',
    });
    expect(c.installation).toBe(`installation:${INSTALLATION_ID}`);
    const requests = gh.requests.slice(before);
    expect(requests.map((q) => [q.operationId, q.status, q.auth])).toEqual([
      ['apps/create-installation-access-token', 201, 'bearer jwt'],
      ['repos/create-commit-status', 201, `token installation:${INSTALLATION_ID}`],
      // The installation token is cached: no second token request.
      ['repos/create-commit-status', 201, `token installation:${INSTALLATION_ID}`],
    ]);
    expect(requests[1]?.path).toBe(`/repos/acme/web/statuses/${SHA}`);
    expect(requests[1]?.body).toEqual({
      state: 'pending',
      context: 'driftless/web/prod',
      description: 'syncing aaaaaaa',
      target_url: 'https://status.example.com/apps/web?cluster=prod',
    });
    expect(
      gh.statuses.filter((s) => s.repo === 'web' && s.installationId === INSTALLATION_ID),
    ).toMatchObject([{ state: 'pending' }, { state: 'success' }]);
  });

  it('uses a token from Secrets Manager', async () => {
    const before = gh.requests.length;
    const c = client({ auth: { kind: 'token', tokenSecretId: tokenSecret } });
    expect(await c.post(status('api', 'failure', 'sync failed'))).toEqual({ kind: 'posted' });
    expect(gh.requests.slice(before).map((q) => [q.operationId, q.status, q.auth])).toEqual([
      ['repos/create-commit-status', 201, 'token token'],
    ]);
  });

  it('keeps descriptions within 140 characters, cut at a word', async () => {
    const long = `apps/web.yaml:12: Deployment/prod/web: spec.template.spec.containers[0].image: ${'very long reason '.repeat(12)}`;
    await client().post(status('long', 'failure', long));
    const sent = gh.statuses.findLast((s) => s.repo === 'long');
    expect(sent?.description?.length).toBeLessThanOrEqual(140);
    const kept = sent?.description?.slice(0, -1) ?? '';
    expect(sent?.description?.endsWith('…')).toBe(true);
    expect(long.startsWith(kept)).toBe(true);
    expect(long[kept.length]).toBe(' '); // cut between words
    expect(kept.length).toBeGreaterThan(110);
  });

  it('answers a rate limit with the wait GitHub asked for, without waiting itself', async () => {
    const c = client({ auth: { kind: 'token', tokenSecretId: tokenSecret } });
    const limited = {
      message:
        'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
      documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
    };
    gh.script(
      'repos/create-commit-status',
      { status: 403, headers: { 'retry-after': '17' }, body: limited },
      { status: 429, body: limited },
      {
        status: 403,
        headers: {
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 600),
        },
        body: { message: 'API rate limit exceeded' },
      },
    );
    expect(await c.post(status('limited', 'pending'))).toEqual({
      kind: 'rate-limited',
      limit: 'secondary',
      retryAfterS: 17,
      status: 403,
    });
    expect(await c.post(status('limited', 'pending'))).toMatchObject({
      kind: 'rate-limited',
      retryAfterS: SECONDARY_LIMIT_DEFAULT_WAIT_S,
      status: 429,
    });
    const primary = await c.post(status('limited', 'pending'));
    expect(primary).toMatchObject({ kind: 'rate-limited', limit: 'primary' });
    expect((primary as { retryAfterS: number }).retryAfterS).toBeGreaterThan(500);
    // One request each: the client does not retry (the outbox does).
    const tries = gh
      .requestsOf('repos/create-commit-status')
      .filter((q) => q.path.startsWith('/repos/acme/limited/'));
    expect(tries.map((q) => q.status)).toEqual([403, 429, 403]);
    expect(gh.statuses.filter((s) => s.repo === 'limited')).toHaveLength(0);
  });

  it('answers 5xx as unavailable and a 422 as rejected, once each', async () => {
    const c = client({ auth: { kind: 'token', tokenSecretId: tokenSecret } });
    gh.setOutage({ status: 503, body: { message: 'Service Unavailable' } });
    try {
      expect(await c.post(status('down', 'pending'))).toMatchObject({
        kind: 'unavailable',
        status: 503,
      });
    } finally {
      gh.setOutage(undefined);
    }
    expect(
      gh.requestsOf('repos/create-commit-status').filter((q) => q.path.includes('/acme/down/')),
    ).toHaveLength(1);
    // A permanent refusal, as GitHub answers one.
    gh.script('repos/create-commit-status', {
      status: 422,
      body: { message: 'Validation Failed', errors: [{ resource: 'Status', code: 'custom' }] },
    });
    expect(await c.post(status('refused', 'success'))).toEqual({
      kind: 'rejected',
      status: 422,
      message: expect.stringContaining('Validation Failed'),
    });
  });

  it('reports a rejected App key as rejected, without leaking it', async () => {
    const c = client({
      auth: {
        kind: 'app',
        appId: APP_ID,
        installationId: INSTALLATION_ID,
        privateKeySecretId: process.env.DRIFTLESS_TEST_WRONG_KEY_SECRET as string,
      },
    });
    const before = gh.requests.length;
    const result = await c.post(status('wrongkey', 'pending'));
    expect(gh.requests.slice(before).map((q) => [q.operationId, q.status])).toEqual([
      ['apps/create-installation-access-token', 401],
    ]);
    expect(result).toMatchObject({ kind: 'rejected', status: 401 });
    const text = JSON.stringify(result);
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain(otherKey.split('\n')[1]);
  });

  it('rejects, without a request, repositories that are not on its GitHub', async () => {
    const before = gh.requests.length;
    const result = await client().post({
      ...status('x', 'pending'),
      repoURL: 'https://gitlab.com/acme/x.git',
    });
    expect(gh.requests.length).toBe(before);
    expect(result).toEqual({
      kind: 'rejected',
      message: 'https://gitlab.com/acme/x.git is not a repository on github.com',
    });
  });
});

describe('the local outbox against GitHub', () => {
  it('retries a 5xx and a rate limit through the same consumer, and posts the newest status', async () => {
    const c = client({ auth: { kind: 'token', tokenSecretId: tokenSecret } });
    const outbox = new LocalStatusOutbox({ poster: c });
    const reporter = new OutboxReporter(outbox);
    gh.script(
      'repos/create-commit-status',
      { status: 502, body: { message: 'Bad Gateway' } },
      { status: 403, headers: { 'retry-after': '1' }, body: { message: 'secondary rate limit' } },
    );
    await Promise.all([
      reporter.report(status('local', 'pending', 'queued')),
      reporter.report(status('local', 'success', 'synced')),
    ]);
    await eventually('the local outbox to post', async () =>
      gh.statuses.some((s) => s.repo === 'local') ? true : undefined,
    );
    await outbox.idle();
    outbox.stop();
    // One key, one batch: only the newest report is posted, after the retries.
    expect(outbox.decisions.map((d) => [d.entry.status.state, d.action, d.why])).toEqual([
      ['pending', 'delete', 'superseded'],
      ['success', 'retry', 'unavailable'],
      ['success', 'retry', 'rate-limited'],
      ['success', 'delete', 'posted'],
    ]);
    expect(outbox.decisions[2]).toMatchObject({ delaySeconds: 1 });
    expect(gh.statuses.filter((s) => s.repo === 'local').map((s) => s.state)).toEqual(['success']);
  }, 60_000);
});

describe('a reconcile reports its commit statuses', () => {
  it('pending then success, and failure with the reason for invalid manifests', async () => {
    const ns = await testNamespace('gh');
    const repo = await TestRepo.create('widgets', { owner: 'acme' });
    const gitHost = new URL(testenv().git.baseUrl).host;
    const outbox = new LocalStatusOutbox({ poster: client({ webHost: gitHost }) });
    const h = await EngineHarness.create(uniqueName('app'), {
      repo,
      reporter: new OutboxReporter(outbox),
      statusUrl: (t) => `https://status.example.com/apps/${t.app}?cluster=${t.cluster}`,
    });
    const good = await repo.commit({
      'settings.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: { k: v }\n',
    });
    await h.setApp({ namespace: ns });
    const ok = await h.reconcile();
    expect(ok.error).toBeUndefined();
    await outbox.idle();
    const repoName = repo.name.replace(/^acme\//, '').replace(/\.git$/, '');
    const context = `driftless/${h.appName}/local`;
    expect(gh.statuses.filter((s) => s.repo === repoName && s.sha === good)).toMatchObject([
      {
        owner: 'acme',
        state: 'pending',
        context,
        description: expect.stringMatching(new RegExp(`^syncing ${good.slice(0, 7)}`)),
        target_url: `https://status.example.com/apps/${h.appName}?cluster=local`,
        installationId: INSTALLATION_ID,
      },
      { state: 'success', context, description: expect.stringMatching(/^synced /) },
    ]);

    const bad = await repo.commit({
      'b-broken.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata: [unclosed\n',
    });
    const failed = await h.reconcile();
    expect(failed.error?.reason).toBe('InvalidManifest');
    await outbox.idle();
    const reported = gh.statuses.filter((s) => s.repo === repoName && s.sha === bad);
    expect(reported).toMatchObject([{ state: 'failure', context }]);
    expect(reported[0]?.description).toMatch(/^b-broken\.yaml:\d+: invalid YAML/);
    expect(reported[0]?.description?.length).toBeLessThanOrEqual(140);
  });
});
