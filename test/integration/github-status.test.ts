// Commit statuses against a GitHub API that validates every request against
// GitHub's OpenAPI description (test/support/github-server.ts), with the App's
// private key and a token kept in Secrets Manager (moto).

import { createSign, generateKeyPairSync } from 'node:crypto';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretsManagerSource } from '../../lib/aws/secrets.js';
import {
  GitHubCommitStatusReporter,
  type GitHubReporterOptions,
  type ReporterLogger,
} from '../../lib/github/status.js';
import { awsClientConfig } from '../support/aws.js';
import { EngineHarness } from '../support/engine.js';
import { testenv, uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { GitHubApiServer } from '../support/github-server.js';
import { testNamespace } from '../support/kube.js';

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

class RecordingLogger implements ReporterLogger {
  readonly lines: { message: string; fields?: Record<string, unknown> }[] = [];
  warn(message: string, fields?: Record<string, unknown>) {
    this.lines.push({ message, fields });
  }
}

function reporter(opts: Partial<GitHubReporterOptions> = {}): GitHubCommitStatusReporter {
  return new GitHubCommitStatusReporter({
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

describe('GitHubCommitStatusReporter', () => {
  it('authenticates as the App: JWT → installation token, then statuses with that token', async () => {
    const before = gh.requests.length;
    const r = reporter();
    await r.report(status('web', 'pending', 'syncing aaaaaaa'));
    await r.report(status('web', 'success', 'synced aaaaaaa: 3 objects; Healthy'));
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
    await reporter({ auth: { kind: 'token', tokenSecretId: tokenSecret } }).report(
      status('api', 'failure', 'sync failed'),
    );
    expect(gh.requests.slice(before).map((q) => [q.operationId, q.status, q.auth])).toEqual([
      ['repos/create-commit-status', 201, 'token token'],
    ]);
  });

  it('keeps descriptions within 140 characters, cut at a word', async () => {
    const long = `apps/web.yaml:12: Deployment/prod/web: spec.template.spec.containers[0].image: ${'very long reason '.repeat(12)}`;
    await reporter().report(status('long', 'failure', long));
    const sent = gh.statuses.findLast((s) => s.repo === 'long');
    expect(sent?.description?.length).toBeLessThanOrEqual(140);
    const kept = sent?.description?.slice(0, -1) ?? '';
    expect(sent?.description?.endsWith('…')).toBe(true);
    expect(long.startsWith(kept)).toBe(true);
    expect(long[kept.length]).toBe(' '); // cut between words
    expect(kept.length).toBeGreaterThan(110);
  });

  it('waits as a secondary rate limit asks, then succeeds', async () => {
    const logger = new RecordingLogger();
    const r = reporter({ auth: { kind: 'token', tokenSecretId: tokenSecret }, logger });
    gh.script('repos/create-commit-status', {
      status: 403,
      headers: { 'retry-after': '1' },
      body: {
        message:
          'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
        documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
      },
    });
    await r.report(status('limited', 'pending'));
    const tries = gh
      .requestsOf('repos/create-commit-status')
      .filter((q) => q.path.startsWith('/repos/acme/limited/'));
    expect(tries.map((q) => q.status)).toEqual([403, 201]);
    const waited = (tries[1]?.at ?? 0) - (tries[0]?.at ?? 0);
    expect(waited).toBeGreaterThanOrEqual(990);
    expect(waited).toBeLessThan(5_000);
    expect(logger.lines).toContainEqual({
      message: 'GitHub secondary rate limit',
      fields: expect.objectContaining({ retryAfterS: 1, retrying: true }),
    });
    expect(gh.statuses.filter((s) => s.repo === 'limited')).toHaveLength(1);
  });

  it('retries a 500 with backoff', async () => {
    const r = reporter({
      auth: { kind: 'token', tokenSecretId: tokenSecret },
      retryBaseDelayMs: 200,
    });
    gh.script('repos/create-commit-status', {
      status: 500,
      body: { message: 'Server Error' },
    });
    await r.report(status('flaky', 'success'));
    const tries = gh
      .requestsOf('repos/create-commit-status')
      .filter((q) => q.path.startsWith('/repos/acme/flaky/'));
    expect(tries.map((q) => q.status)).toEqual([500, 201]);
    expect((tries[1]?.at ?? 0) - (tries[0]?.at ?? 0)).toBeGreaterThanOrEqual(190);
  });

  it('never throws through an outage, and logs no secret', async () => {
    const logger = new RecordingLogger();
    const r = reporter({
      auth: { kind: 'token', tokenSecretId: tokenSecret },
      logger,
      retries: 2,
      retryBaseDelayMs: 50,
    });
    gh.setOutage({ status: 503, body: { message: 'Service Unavailable' } });
    try {
      await expect(r.report(status('down', 'pending'))).resolves.toBeUndefined();
    } finally {
      gh.setOutage(undefined);
    }
    const tries = gh
      .requestsOf('repos/create-commit-status')
      .filter((q) => q.path.startsWith('/repos/acme/down/'));
    expect(tries.map((q) => q.status)).toEqual([503, 503, 503]);
    expect(logger.lines.at(-1)).toMatchObject({
      message: 'commit status pending not reported to acme/down',
      fields: { status: 503, commit: SHA, context: 'driftless/down/prod' },
    });
    expect(JSON.stringify(logger.lines)).not.toContain(pat);
  });

  it('reports a rejected App key without throwing or leaking it', async () => {
    const logger = new RecordingLogger();
    const r = reporter({
      auth: {
        kind: 'app',
        appId: APP_ID,
        installationId: INSTALLATION_ID,
        privateKeySecretId: process.env.DRIFTLESS_TEST_WRONG_KEY_SECRET as string,
      },
      logger,
    });
    const before = gh.requests.length;
    await r.report(status('wrongkey', 'pending'));
    expect(gh.requests.slice(before).map((q) => [q.operationId, q.status])).toEqual([
      ['apps/create-installation-access-token', 401],
    ]);
    expect(logger.lines.at(-1)?.fields).toMatchObject({ status: 401 });
    const logged = JSON.stringify(logger.lines);
    expect(logged).not.toContain('PRIVATE KEY');
    expect(logged).not.toContain(otherKey.split('\n')[1]);
  });

  it('skips, with a warning, repositories that are not on its GitHub', async () => {
    const logger = new RecordingLogger();
    const before = gh.requests.length;
    await reporter({ logger }).report({
      ...status('x', 'pending'),
      repoURL: 'https://gitlab.com/acme/x.git',
    });
    expect(gh.requests.length).toBe(before);
    expect(logger.lines[0]?.message).toBe(
      'commit status not reported: https://gitlab.com/acme/x.git is not on github.com',
    );
  });
});

describe('a reconcile reports its commit statuses', () => {
  it('pending then success, and failure with the reason for invalid manifests', async () => {
    const ns = await testNamespace('gh');
    const repo = await TestRepo.create('widgets', { owner: 'acme' });
    const gitHost = new URL(testenv().git.baseUrl).host;
    const h = await EngineHarness.create(uniqueName('app'), {
      repo,
      reporter: reporter({ webHost: gitHost }),
      statusUrl: (t) => `https://status.example.com/apps/${t.app}?cluster=${t.cluster}`,
    });
    const good = await repo.commit({
      'settings.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: { k: v }\n',
    });
    await h.setApp({ namespace: ns });
    const ok = await h.reconcile();
    expect(ok.error).toBeUndefined();
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
    const reported = gh.statuses.filter((s) => s.repo === repoName && s.sha === bad);
    expect(reported).toMatchObject([{ state: 'failure', context }]);
    expect(reported[0]?.description).toMatch(/^b-broken\.yaml:\d+: invalid YAML/);
    expect(reported[0]?.description?.length).toBeLessThanOrEqual(140);
  });
});
