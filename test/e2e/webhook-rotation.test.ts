// Webhook secret rotation through the deployed webhook handler, with the
// secret's value in Secrets Manager (moto) as operators rotate it: a plain
// secret, then {"secrets": [new, old]} while GitHub's side is switched (both
// accepted), then {"secrets": [new]} (the old one refused), and the same per
// repository. The handler caches the value for DEFAULT_SECRET_TTL_MS; the
// test moves Date.now() on past it instead of waiting five minutes. And the
// handler computes a delivery's HMAC once: node:crypto's createHmac is
// wrapped (passing through) to count the keys it is called with.

import { createHmac, randomUUID } from 'node:crypto';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SECRET_TTL_MS } from '../../lib/aws/secrets.js';
import { awsClientConfig } from '../support/aws.js';
import { type DataPlane, startDataPlane } from '../support/dataplane.js';
import { testenv, uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { httpEvent, lambdaContext } from '../support/lambda.js';

// Every key createHmac was called with, in this process's transformed modules (lib/, functions/).
const hmacKeys = vi.hoisted((): unknown[] => []);
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  const createHmac = ((...args: Parameters<typeof real.createHmac>) => {
    hmacKeys.push(args[1]);
    return real.createHmac(...args);
  }) as typeof real.createHmac;
  return { ...real, default: { ...real, createHmac }, createHmac };
});

let plane: DataPlane;
let web: TestRepo;
let team: TestRepo;
const OLD = `old-${randomUUID()}`;
const NEW = `new-${randomUUID()}`;
const TEAM_OLD = `team-old-${randomUUID()}`;
const TEAM_NEW = `team-new-${randomUUID()}`;

// The handler's clock (lib/aws/secrets.ts reads Date.now()), moved on by the test.
let offsetMs = 0;
const realNow = Date.now.bind(Date);

beforeAll(async () => {
  vi.spyOn(Date, 'now').mockImplementation(() => realNow() + offsetMs);
  web = await TestRepo.create('rotation-web');
  team = await TestRepo.create('rotation-team', { owner: 'team-b' });
  plane = await startDataPlane('rotation', { webhookSecretValue: () => OLD });
  const cluster = {
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name: 'local' },
    spec: { kubeconfig: { path: testenv().kube.kubeconfig } },
  };
  expect((await plane.call('PUT', '/clusters/local', cluster)).status).toBe(201);
  for (const [name, repo] of [
    ['rot-web', web],
    ['rot-team', team],
  ] as const) {
    const app = {
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name },
      spec: {
        source: { repoURL: repo.url, revision: 'main', path: '.' },
        destinations: [{ cluster: 'local', namespace: uniqueName(name) }],
      },
    };
    expect((await plane.call('PUT', `/apps/${name}`, app)).status).toBe(201);
  }
});

afterAll(() => {
  vi.restoreAllMocks();
});

/** The webhook secret's new value, as an operator puts it (a new AWSCURRENT version). */
async function rotateTo(value: unknown): Promise<void> {
  const sm = new SecretsManagerClient(awsClientConfig());
  await sm.send(
    new PutSecretValueCommand({
      SecretId: process.env.DRIFTLESS_WEBHOOK_SECRET_ID,
      SecretString: typeof value === 'string' ? value : JSON.stringify(value),
    }),
  );
}

/** Past the handler's cache of the secret: the next delivery reads the new value. */
function afterCacheTtl(): void {
  offsetMs += DEFAULT_SECRET_TTL_MS + 1_000;
}

/** A push of a new commit of `repo`, signed with `secret`; the handler's answer. */
async function push(repo: TestRepo, secret: string) {
  const commit = await repo.commit({ 'cm.yaml': `# ${randomUUID()}\n` });
  const body = JSON.stringify({
    ref: 'refs/heads/main',
    before: '0'.repeat(40),
    after: commit,
    created: false,
    deleted: false,
    forced: false,
    repository: {
      full_name: repo.name.replace(/\.git$/, '').includes('/')
        ? repo.name.replace(/\.git$/, '')
        : `test/${repo.name.replace(/\.git$/, '')}`,
      clone_url: repo.url,
      html_url: repo.url.replace(/\.git$/, ''),
      default_branch: 'main',
    },
    pusher: { name: 'dev', email: 'dev@example.com' },
    commits: [],
  });
  const res = await plane.webhook(
    httpEvent('POST', '/', {
      body,
      headers: {
        'X-GitHub-Event': 'push',
        'X-GitHub-Delivery': randomUUID(),
        'X-Hub-Signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
        'User-Agent': 'GitHub-Hookshot/e2e',
      },
    }),
    lambdaContext('driftless-webhook'),
  );
  const parsed = JSON.parse(res.body as string);
  // No answer ever carries a secret.
  for (const s of [OLD, NEW, TEAM_OLD, TEAM_NEW]) expect(res.body).not.toContain(s);
  return { status: res.statusCode, body: parsed };
}

/** Accepted: routed to the repository's app. */
async function expectAccepted(repo: TestRepo, secret: string, app: string) {
  expect(await push(repo, secret)).toMatchObject({
    status: 202,
    body: { targets: [{ app, cluster: 'local' }] },
  });
}

async function expectRefused(repo: TestRepo, secret: string) {
  expect(await push(repo, secret)).toMatchObject({
    status: 401,
    body: { code: 'BadSignature' },
  });
}

describe('webhook secret rotation, from the secret in Secrets Manager', () => {
  it('verifies a delivery once: one HMAC of the body with the secret, through the handler', async () => {
    const commit = await web.commit({ 'cm.yaml': `# ${randomUUID()}\n` });
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      before: '0'.repeat(40),
      after: commit,
      repository: { full_name: 'test/rotation-web', clone_url: web.url },
      commits: [],
    });
    const signature = `sha256=${createHmac('sha256', OLD).update(body).digest('hex')}`;
    hmacKeys.length = 0;
    const res = await plane.webhook(
      httpEvent('POST', '/', {
        body,
        headers: {
          'X-GitHub-Event': 'push',
          'X-GitHub-Delivery': randomUUID(),
          'X-Hub-Signature-256': signature,
        },
      }),
      lambdaContext('driftless-webhook'),
    );
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body as string)).toMatchObject({
      targets: [{ app: 'rot-web', cluster: 'local' }],
    });
    expect(hmacKeys.filter((k) => k === OLD)).toHaveLength(1);
  });

  it('accepts the plain secret it starts with, and nothing else', async () => {
    await expectAccepted(web, OLD, 'rot-web');
    await expectRefused(web, NEW);
  });

  it('during a rotation ({"secrets": [new, old]}) accepts both, once its cached value expired', async () => {
    await rotateTo({ secrets: [NEW, OLD] });
    // Within the cache's TTL the handler still has the plain old value.
    await expectRefused(web, NEW);
    afterCacheTtl();
    await expectAccepted(web, NEW, 'rot-web');
    await expectAccepted(web, OLD, 'rot-web');
    // A secret that was never in the document stays refused.
    await expectRefused(web, `retired-${randomUUID()}`);
  });

  it('after the rotation ({"secrets": [new]}) refuses the old secret', async () => {
    await rotateTo({ secrets: [NEW] });
    afterCacheTtl();
    await expectRefused(web, OLD);
    await expectAccepted(web, NEW, 'rot-web');
  });

  it("rotates one repository's secret: current and previous for it, neither for another repository", async () => {
    await rotateTo({ default: NEW, repositories: { [team.url]: [TEAM_NEW, TEAM_OLD] } });
    afterCacheTtl();
    await expectAccepted(team, TEAM_NEW, 'rot-team');
    await expectAccepted(team, TEAM_OLD, 'rot-team');
    // Bound to the team's repository: they do not sign for web's.
    await expectRefused(web, TEAM_NEW);
    await expectRefused(web, TEAM_OLD);
    await expectAccepted(web, NEW, 'rot-web');

    await rotateTo({ default: NEW, repositories: { [team.url]: TEAM_NEW } });
    afterCacheTtl();
    await expectRefused(team, TEAM_OLD);
    await expectAccepted(team, TEAM_NEW, 'rot-team');
  });
});
