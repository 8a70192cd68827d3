// Webhook verification and routing with real GitHub example payloads
// (@octokit/webhooks-examples), signed as GitHub signs them.

import { createHmac } from 'node:crypto';
import examples from '@octokit/webhooks-examples/api.github.com/index.json' with { type: 'json' };
import { beforeEach, describe, expect, it } from 'vitest';
import {
  changedPaths,
  DEFAULT_STALE_PUSH_MS,
  followsRef,
  handleWebhook,
  matchSignature,
  PUSH_MAX_COMMITS,
  PUSH_MAX_FILES_PER_LIST,
  type PushEvent,
  touchesPath,
  type WebhookDeps,
} from '../../../lib/github/webhook.js';
import { MemoryStore } from '../../../lib/local/store.js';
import { ApplicationSchema } from '../../../lib/model/application.js';
import { parseWebhookSecrets } from '../../../lib/model/webhook-secrets.js';
import type { CommitStatusReporter } from '../../../lib/ports/report.js';
import { RecordingQueue } from '../../support/recording-queue.js';

type Example = { name: string; examples: Record<string, unknown>[] };
const byName = (name: string) =>
  (examples as unknown as Example[]).find((e) => e.name === name)?.examples ?? [];
const pushToBranch = byName('push').find(
  (p) => p.ref === 'refs/heads/master' && !p.deleted,
) as Record<string, unknown>;
const pushTag = byName('push').find(
  (p) => p.ref === 'refs/tags/simple-tag' && !p.deleted,
) as Record<string, unknown>;
const pushDeleted = byName('push').find((p) => p.deleted) as Record<string, unknown>;
const ping = byName('ping')[0] as Record<string, unknown>;

const SECRET = 'It’s a Secret to Everybody';

function sign(body: string, secret = SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function request(
  event: string,
  payload: unknown,
  opts: { delivery?: string; signature?: string | null; body?: string } = {},
) {
  const body = opts.body ?? JSON.stringify(payload);
  const headers: Record<string, string | undefined> = {
    'X-GitHub-Event': event,
    'X-GitHub-Delivery': opts.delivery ?? '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    'Content-Type': 'application/json',
  };
  if (opts.signature !== null) headers['X-Hub-Signature-256'] = opts.signature ?? sign(body);
  return { headers, body };
}

class RecordingReporter implements CommitStatusReporter {
  reports: Parameters<CommitStatusReporter['report']>[0][] = [];
  async report(input: Parameters<CommitStatusReporter['report']>[0]) {
    this.reports.push(input);
  }
}

function app(
  name: string,
  repoURL: string,
  revision: string,
  clusters = ['prod'],
  suspended = false,
  path?: string,
) {
  return ApplicationSchema.parse({
    apiVersion: 'driftless.dev/v1',
    kind: 'Application',
    metadata: { name },
    spec: {
      source: { repoURL, revision, ...(path ? { path } : {}) },
      destinations: clusters.map((cluster) => ({ cluster })),
      suspended,
    },
  });
}

describe('webhook', () => {
  let store: MemoryStore;
  let queue: RecordingQueue;
  let reporter: RecordingReporter;
  let deps: WebhookDeps;
  beforeEach(async () => {
    store = new MemoryStore();
    queue = new RecordingQueue();
    reporter = new RecordingReporter();
    deps = {
      catalog: store,
      queue,
      reporter,
      secrets: async () => [SECRET],
      clock: { now: () => 1_700_000_000_000 },
    };
    await store.putApplication(
      app('web', 'https://github.com/Codertocat/Hello-World', 'master', ['prod', 'staging']),
    );
    await store.putApplication(
      app('docs', 'https://GitHub.com/codertocat/hello-world.git/', 'HEAD'),
    );
    await store.putApplication(
      app('release', 'https://github.com/Codertocat/Hello-World.git', 'simple-tag'),
    );
    await store.putApplication(app('other', 'https://github.com/acme/else.git', 'master'));
    await store.putApplication(
      app('paused', 'https://github.com/Codertocat/Hello-World.git', 'master', ['prod'], true),
    );
  });

  it('routes a branch push to every target following it, records the wanted revision, enqueues and reports pending', async () => {
    const res = await handleWebhook(deps, request('push', pushToBranch));
    expect(res.status).toBe(202);
    const after = pushToBranch.after as string;
    expect(res.body).toMatchObject({ event: 'push', ref: 'refs/heads/master', commit: after });
    const routed = (res.body.targets as { app: string; cluster: string }[])
      .map((t) => `${t.app}#${t.cluster}`)
      .sort();
    // docs follows HEAD, and master is the example repository's default branch.
    expect(routed).toEqual(['docs#prod', 'web#prod', 'web#staging']);
    expect(queue.sent.map((q) => q.job.app).sort()).toEqual(['docs', 'web', 'web']);
    expect(queue.sent[0]?.dedupId).toMatch(/^push:72d3162e-cc78-11e3-81ab-4c9367dc0958:/);
    expect(queue.sent[0]?.job).toMatchObject({
      trigger: 'webhook',
      deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    });
    expect((await store.getTargetRecord({ app: 'web', cluster: 'prod' }))?.wantedRevision).toBe(
      after,
    );
    expect(reporter.reports.map((r) => [r.context, r.state, r.commit])).toContainEqual([
      'driftless/web/prod',
      'pending',
      after,
    ]);
  });

  it('routes a tag push to apps following that tag', async () => {
    const res = await handleWebhook(deps, request('push', pushTag));
    expect((res.body.targets as { app: string }[]).map((t) => t.app)).toEqual(['release']);
  });

  it('ignores branch and tag deletions, other events, and answers pings', async () => {
    expect((await handleWebhook(deps, request('push', pushDeleted))).status).toBe(202);
    expect((await handleWebhook(deps, request('issues', { action: 'opened' }))).body).toMatchObject(
      { ignored: 'event issues' },
    );
    const pong = await handleWebhook(deps, request('ping', ping));
    expect(pong).toMatchObject({ status: 200, body: { pong: true } });
    expect(queue.sent).toHaveLength(0);
  });

  it('rejects forged, missing and wrong-secret signatures with 401 and enqueues nothing', async () => {
    const body = JSON.stringify(pushToBranch);
    const forged = body.replace('"master"', '"evil"');
    expect(
      (await handleWebhook(deps, request('push', null, { body: forged, signature: sign(body) })))
        .status,
    ).toBe(401);
    expect(
      (await handleWebhook(deps, request('push', pushToBranch, { signature: null }))).status,
    ).toBe(401);
    expect(
      (await handleWebhook(deps, request('push', pushToBranch, { signature: sign(body, 'guess') })))
        .status,
    ).toBe(401);
    expect(
      (await handleWebhook(deps, request('push', pushToBranch, { signature: 'sha1=abc' }))).status,
    ).toBe(401);
    expect(queue.sent).toHaveLength(0);
    expect(reporter.reports).toHaveLength(0);
  });

  it('accepts a previous secret during rotation', async () => {
    deps.secrets = async () => ['new-secret', SECRET];
    expect((await handleWebhook(deps, request('push', pushToBranch))).status).toBe(202);
  });

  it('caps the body size before verifying (413) and rejects malformed bodies (400)', async () => {
    deps.maxBodyBytes = 1024;
    expect((await handleWebhook(deps, request('push', pushToBranch))).status).toBe(413);
    deps.maxBodyBytes = undefined;
    const notJson = '{"ref": "refs/heads/master",';
    expect((await handleWebhook(deps, request('push', null, { body: notJson }))).status).toBe(400);
    const missing = await handleWebhook(
      deps,
      request('push', { ref: 'refs/heads/master', repository: {} }),
    );
    expect(missing).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^push payload: after:/) },
    });
    expect(
      (await handleWebhook(deps, request('push', pushToBranch, { delivery: '../../etc' }))).status,
    ).toBe(400);
    expect(queue.sent).toHaveLength(0);
  });

  it('enqueues nothing when recording the wanted revision fails', async () => {
    deps.catalog = {
      targetsForRepo: (url) => store.targetsForRepo(url),
      getApplication: (name) => store.getApplication(name),
      recordWantedRevision: async () => {
        throw new Error('DynamoDB is down');
      },
    };
    await expect(handleWebhook(deps, request('push', pushToBranch))).rejects.toThrow(
      'DynamoDB is down',
    );
    expect(queue.sent).toHaveLength(0);
  });

  it('matches refs to app revisions', () => {
    const push = (ref: string) =>
      ({ ref, after: 'a'.repeat(40), repository: { default_branch: 'main' } }) as PushEvent;
    expect(followsRef('main', push('refs/heads/main'))).toBe(true);
    expect(followsRef('refs/heads/main', push('refs/heads/main'))).toBe(true);
    expect(followsRef('HEAD', push('refs/heads/main'))).toBe(true);
    expect(followsRef('HEAD', push('refs/heads/dev'))).toBe(false);
    expect(followsRef('v1', push('refs/tags/v1'))).toBe(true);
    expect(followsRef('v1', push('refs/heads/v1-branch'))).toBe(false);
    expect(followsRef('a'.repeat(40), push('refs/heads/main'))).toBe(false);
  });

  describe('pending statuses only where the push touched the app path', () => {
    const repo = 'https://github.com/acme/fleet.git';
    const commit = 'c'.repeat(40);
    const push = (commits: unknown[] | undefined, extra: Record<string, unknown> = {}) => ({
      ref: 'refs/heads/main',
      after: commit,
      repository: { clone_url: repo, default_branch: 'main' },
      ...(commits ? { commits } : {}),
      ...extra,
    });
    beforeEach(async () => {
      await store.putApplication(app('api', repo, 'main', ['prod'], false, 'apps/api'));
      await store.putApplication(app('ui', repo, 'main', ['prod'], false, './apps/ui/'));
      await store.putApplication(app('whole', repo, 'main', ['prod'], false));
    });
    const pendingApps = () =>
      reporter.reports
        .filter((r) => r.state === 'pending' && r.repoURL === repo)
        .map((r) => r.context)
        .sort();

    it('reports pending for touched apps only, and every target still gets its job', async () => {
      const res = await handleWebhook(
        deps,
        request(
          'push',
          push([
            { added: ['apps/api/new.yaml'], modified: [], removed: [] },
            { added: [], modified: ['README.md'], removed: ['apps/uix/old.yaml'] },
          ]),
        ),
      );
      expect(res.status).toBe(202);
      // `whole` follows the repository root: every change touches it.
      expect(pendingApps()).toEqual(['driftless/api/prod', 'driftless/whole/prod']);
      expect(res.body.pending).toEqual([
        { app: 'api', cluster: 'prod' },
        { app: 'whole', cluster: 'prod' },
      ]);
      const jobs = Object.fromEntries(queue.sent.map((q) => [q.job.app, q.job]));
      expect(Object.keys(jobs).sort()).toEqual(['api', 'ui', 'whole']);
      // The job carries the commit whose pending status it must resolve, where one was posted.
      expect(jobs.api).toMatchObject({ commit, repoURL: repo });
      expect(jobs.ui?.commit).toBeUndefined();
    });

    it('treats every app as touched when the payload cannot tell', async () => {
      const many = Array.from({ length: PUSH_MAX_COMMITS }, () => ({ modified: ['README.md'] }));
      const cut = Array.from({ length: PUSH_MAX_FILES_PER_LIST }, (_, i) => `docs/${i}.md`);
      for (const payload of [
        push(undefined),
        push([]),
        push(many),
        push([{ added: cut }]),
        push([{ modified: ['README.md'] }], { forced: true }),
      ]) {
        reporter.reports = [];
        expect(
          (await handleWebhook(deps, request('push', payload, { delivery: crypto.randomUUID() })))
            .status,
        ).toBe(202);
        expect(pendingApps()).toEqual([
          'driftless/api/prod',
          'driftless/ui/prod',
          'driftless/whole/prod',
        ]);
      }
    });

    it('hands pending to the reporter before the jobs are queued, and errors them if queueing fails', async () => {
      const order: string[] = [];
      deps.reporter = {
        report: async (s) => {
          order.push(`${s.state} ${s.context}`);
        },
      };
      deps.queue = {
        enqueueSweeps: async () => {},
        enqueue: async () => {
          order.push('enqueue');
          throw new Error('SQS is down');
        },
        enqueueDelayed: async () => {},
      };
      await expect(
        handleWebhook(deps, request('push', push([{ modified: ['apps/api/x.yaml'] }]))),
      ).rejects.toThrow('SQS is down');
      expect(order).toEqual([
        'pending driftless/api/prod',
        'pending driftless/whole/prod',
        'enqueue',
        'error driftless/api/prod',
        'error driftless/whole/prod',
      ]);
    });

    it('matches paths by directory', () => {
      const paths = changedPaths(
        push([{ modified: ['apps/api/a.yaml', 'apps/api'] }]) as PushEvent,
      );
      expect(touchesPath(paths, 'apps/api')).toBe(true);
      expect(touchesPath(paths, 'apps')).toBe(true);
      expect(touchesPath(paths, 'apps/ap')).toBe(false);
      expect(touchesPath(paths, 'apps/api/sub')).toBe(false);
      expect(touchesPath(paths, '.')).toBe(true);
      expect(touchesPath(undefined, 'apps/ap')).toBe(true);
    });
  });

  describe('secrets per repository', () => {
    const WEB = 'web-secret';
    const OTHER = 'other-secret';
    const doc = (d: unknown) => async () => parseWebhookSecrets(JSON.stringify(d));

    it('accepts a push signed with its repository secret, by owner/name or by repoURL, current or previous', async () => {
      deps.secrets = doc({ repositories: { 'codertocat/hello-world': [WEB, 'web-old'] } });
      const body = JSON.stringify(pushToBranch);
      for (const secret of [WEB, 'web-old']) {
        const res = await handleWebhook(
          deps,
          request('push', null, { body, signature: sign(body, secret) }),
        );
        expect(res.status, secret).toBe(202);
      }
      deps.secrets = doc({
        repositories: { 'https://github.com/Codertocat/Hello-World.git': WEB },
      });
      expect(
        (await handleWebhook(deps, request('push', null, { body, signature: sign(body, WEB) })))
          .status,
      ).toBe(202);
    });

    it('rejects a push signed with another repository secret (401 naming neither secret) and enqueues nothing', async () => {
      deps.secrets = doc({
        repositories: { 'Codertocat/Hello-World': WEB, 'acme/else': OTHER },
      });
      const body = JSON.stringify(pushToBranch);
      const res = await handleWebhook(
        deps,
        request('push', null, { body, signature: sign(body, OTHER) }),
      );
      expect(res).toMatchObject({
        status: 401,
        body: {
          code: 'BadSignature',
          message: expect.stringContaining('repository Codertocat/Hello-World'),
        },
      });
      expect(JSON.stringify(res.body)).not.toContain(OTHER);
      expect(JSON.stringify(res.body)).not.toContain(WEB);
      // A payload naming a repository by full_name only cannot borrow it: the URLs routed by count.
      const borrowed = JSON.stringify({
        ...pushToBranch,
        repository: { ...(pushToBranch.repository as object), full_name: 'acme/else' },
      });
      expect(
        (
          await handleWebhook(
            deps,
            request('push', null, { body: borrowed, signature: sign(borrowed, OTHER) }),
          )
        ).status,
      ).toBe(401);
      expect(queue.sent).toHaveLength(0);
      expect(reporter.reports).toHaveLength(0);
      expect(await store.getTargetRecord({ app: 'web', cluster: 'prod' })).not.toHaveProperty(
        'wantedRevision',
      );
    });

    it('lets a default secret sign for any repository, beside the bound ones', async () => {
      deps.secrets = doc({ default: 'shared', repositories: { 'acme/else': OTHER } });
      const body = JSON.stringify(pushToBranch);
      expect(
        (
          await handleWebhook(
            deps,
            request('push', null, { body, signature: sign(body, 'shared') }),
          )
        ).status,
      ).toBe(202);
      // The legacy rotation document is the default list.
      deps.secrets = doc({ secrets: ['new', SECRET] });
      expect((await handleWebhook(deps, request('push', pushToBranch))).status).toBe(202);
    });

    it('accepts the GitHub App secret only for its installation and routed repositories', async () => {
      const body = (installation: number) =>
        JSON.stringify({ ...pushToBranch, installation: { id: installation } });
      const send = async (b: string) =>
        handleWebhook(deps, request('push', null, { body: b, signature: sign(b, 'app-secret') }));
      deps.secrets = doc({ githubApp: { secret: 'app-secret', installationId: 1 } });
      expect((await send(body(1))).status).toBe(202);
      const other = await send(body(2));
      expect(other).toMatchObject({
        status: 401,
        body: { message: expect.stringContaining('installation') },
      });
      deps.secrets = doc({
        githubApp: { secret: 'app-secret', installationId: 1, repositories: ['acme/else'] },
      });
      expect((await send(body(1))).status).toBe(401);
      deps.secrets = doc({
        githubApp: {
          secret: 'app-secret',
          installationId: 1,
          repositories: ['codertocat/hello-world'],
        },
      });
      expect((await send(body(1))).status).toBe(202);
    });

    it('binds a secret listed for several repositories to all of them, a default one to any', () => {
      const set = parseWebhookSecrets(
        JSON.stringify({ repositories: { 'a/x': 's', 'b/y': ['s', 't'] }, default: 'd' }),
      );
      const body = '{"zen":"ok"}';
      expect(matchSignature(body, sign(body, 's'), set)).toEqual({
        anyRepository: false,
        repositories: ['a/x', 'b/y'],
      });
      expect(matchSignature(body, sign(body, 'd'), set)).toMatchObject({ anyRepository: true });
      expect(matchSignature(body, sign(body, 'nope'), set)).toBeUndefined();
      expect(matchSignature(body, 'sha256=zz', set)).toBeUndefined();
      expect(matchSignature(body, undefined, set)).toBeUndefined();
    });

    it('reads no secret for a missing or malformed signature', async () => {
      let reads = 0;
      deps.secrets = async () => {
        reads++;
        return [SECRET];
      };
      await handleWebhook(deps, request('push', pushToBranch, { signature: null }));
      await handleWebhook(deps, request('push', pushToBranch, { signature: 'sha256=abc' }));
      expect(reads).toBe(0);
      await handleWebhook(deps, request('push', pushToBranch));
      expect(reads).toBe(1);
    });
  });

  describe('pushes older than the newest recorded for a target', () => {
    const at = (pushedAtSeconds: number, after: string) => ({
      ...pushToBranch,
      after,
      repository: { ...(pushToBranch.repository as object), pushed_at: pushedAtSeconds },
    });
    const newest = 1_700_000_000;

    it('enqueues nothing for a target whose recorded push is newer by more than the bound', async () => {
      const fresh = await handleWebhook(
        deps,
        request('push', at(newest, 'b'.repeat(40)), { delivery: 'd-1' }),
      );
      expect(fresh.status).toBe(202);
      const target = await store.getTargetRecord({ app: 'web', cluster: 'prod' });
      expect(target).toMatchObject({ wantedRevision: 'b'.repeat(40), wantedAt: newest * 1000 });
      queue.sent = [];
      reporter.reports = [];
      const old = newest - DEFAULT_STALE_PUSH_MS / 1000 - 1;
      const replay = await handleWebhook(
        deps,
        request('push', at(old, 'a'.repeat(40)), { delivery: 'd-2' }),
      );
      expect(replay.status).toBe(202);
      expect(replay.body.targets).toEqual([]);
      expect((replay.body.stale as unknown[]).length).toBe(3);
      expect(queue.sent).toHaveLength(0);
      expect(reporter.reports).toHaveLength(0);
      expect((await store.getTargetRecord({ app: 'web', cluster: 'prod' }))?.wantedRevision).toBe(
        'b'.repeat(40),
      );
    });

    it('queues a push delivered out of order within the bound, without making it the wanted revision', async () => {
      await handleWebhook(deps, request('push', at(newest, 'b'.repeat(40)), { delivery: 'd-1' }));
      queue.sent = [];
      const late = await handleWebhook(
        deps,
        request('push', at(newest - 60, 'a'.repeat(40)), { delivery: 'd-2' }),
      );
      expect((late.body.targets as unknown[]).length).toBe(3);
      expect(queue.sent).toHaveLength(3);
      expect((await store.getTargetRecord({ app: 'web', cluster: 'prod' }))?.wantedRevision).toBe(
        'b'.repeat(40),
      );
    });
  });
});
