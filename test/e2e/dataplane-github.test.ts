// GitHub off the critical path, end to end on the real servers: the webhook,
// worker and outbox functions against moto (DynamoDB, SQS FIFO, Secrets
// Manager), the Kubernetes API server, git http-backend and the loopback
// GitHub validated against GitHub's OpenAPI description, which answers 5xx and
// secondary rate limits on cue. The webhook and the worker only enqueue commit
// statuses; the outbox function posts them, coalesced, and waits out what
// GitHub asks.

import { createHmac, randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  type ChangeMessageVisibilityCommandInput,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SqsStatusOutbox } from '../../lib/aws/outbox.js';
import type { OutboxEntry } from '../../lib/ports/outbox.js';
import { type DataPlane, startDataPlane } from '../support/dataplane.js';
import { testenv, uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { GitHubApiServer } from '../support/github-server.js';
import { eventually, testNamespace } from '../support/kube.js';
import { drain, httpEvent, lambdaContext, pollOnce } from '../support/lambda.js';

const TARGETS = 40;
const TOKEN = `github_pat_${randomUUID().replace(/-/g, '')}`;

let plane: DataPlane;
let gh: GitHubApiServer;
let repo: TestRepo;
const call: DataPlane['call'] = (...args) => plane.call(...args);
const CREATE_STATUS = 'repos/create-commit-status';

function pushEvent(commit: string, files: string[]) {
  const body = JSON.stringify({
    ref: 'refs/heads/main',
    before: '0'.repeat(40),
    after: commit,
    forced: false,
    repository: {
      clone_url: repo.url,
      html_url: repo.url.replace(/\.git$/, ''),
      default_branch: 'main',
    },
    commits: [{ id: commit, added: files, modified: [], removed: [] }],
  });
  return httpEvent('POST', '/', {
    body,
    headers: {
      'X-GitHub-Event': 'push',
      'X-GitHub-Delivery': randomUUID(),
      'X-Hub-Signature-256': `sha256=${createHmac('sha256', plane.webhookSecret).update(body).digest('hex')}`,
      'User-Agent': 'GitHub-Hookshot/e2e',
    },
  });
}

async function outboxDepth(): Promise<number> {
  const a = await plane.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: plane.outboxUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  const v = a.Attributes ?? {};
  return Number(v.ApproximateNumberOfMessages) + Number(v.ApproximateNumberOfMessagesNotVisible);
}

/** The statuses GitHub accepted for one commit, by context, in the order it accepted them. */
function statesByContext(sha: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of gh.statuses.filter((x) => x.sha === sha)) {
    out.set(s.context, [...(out.get(s.context) ?? []), s.state]);
  }
  return out;
}

function entry(context: string, state: OutboxEntry['status']['state'], at: number, sha: string) {
  return {
    status: { repoURL: repo.url, commit: sha, context, state, description: `${state} at ${at}` },
    at,
  };
}

beforeAll(async () => {
  gh = await GitHubApiServer.start({ tokens: [TOKEN] });
  repo = await TestRepo.create('fleet', { owner: 'acme' });
  plane = await startDataPlane('github', {
    github: { apiUrl: gh.url, token: TOKEN, webHost: new URL(testenv().git.baseUrl).host },
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
  await gh?.stop();
});

describe('a push routed to 40 targets while GitHub answers 5xx and rate limits', () => {
  it('is answered without calling GitHub; every target syncs and every context ends in success or failure', async () => {
    const ns = await testNamespace('gh-fleet');
    const names = Array.from({ length: TARGETS }, (_, i) => `svc-${String(i).padStart(2, '0')}`);
    const files = names.map((n) => `apps/${n}/config.yaml`);
    const commit = await repo.commit(
      Object.fromEntries(
        names.map((n, i) => [
          files[i] as string,
          `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ${n} }\ndata: { v: "1" }\n`,
        ]),
      ),
      'forty apps',
    );
    for (const n of names) {
      const app = {
        apiVersion: 'driftless.dev/v1',
        kind: 'Application',
        metadata: { name: n },
        spec: {
          source: { repoURL: repo.url, revision: 'main', path: `apps/${n}` },
          destinations: [{ cluster: 'local', namespace: ns }],
        },
      };
      expect((await call('PUT', `/apps/${n}`, app)).status).toBe(201);
    }
    const limited = {
      message:
        'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
      documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
    };
    gh.script(
      CREATE_STATUS,
      { status: 502, body: { message: 'Server Error' } },
      { status: 403, headers: { 'retry-after': '1' }, body: limited },
      { status: 503, body: { message: 'Service Unavailable' } },
      { status: 429, headers: { 'retry-after': '1' }, body: limited },
      { status: 500, body: { message: 'Server Error' } },
      { status: 403, headers: { 'retry-after': '1' }, body: limited },
    );

    const before = gh.requests.length;
    const started = performance.now();
    const res = await plane.webhook(pushEvent(commit, files), lambdaContext('driftless-webhook'));
    const ms = Math.round(performance.now() - started);
    const duringWebhook = gh.requests.slice(before);
    console.log(
      `webhook: a push routed to ${TARGETS} targets answered ${res.statusCode} in ${ms} ms; GitHub requests during it: ${duringWebhook.length}`,
    );
    expect(duringWebhook).toEqual([]);
    expect(res.statusCode).toBe(202);
    const body = JSON.parse(res.body as string);
    expect(body.targets).toHaveLength(TARGETS);
    expect(body.pending).toHaveLength(TARGETS);

    await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker, { timeoutMs: 110_000 });
    for (const n of names) {
      const { body: app } = await call('GET', `/apps/${n}`);
      expect(app.targets[0], n).toMatchObject({ sync: 'Synced', syncedRevision: commit });
    }

    // The outbox drains: retried messages come back after the delay they were given.
    await eventually(
      'the outbox to drain',
      async () => {
        await pollOnce(plane.sqs, plane.outboxUrl, plane.outbox);
        return (await outboxDepth()) === 0 ? true : undefined;
      },
      100_000,
    );
    const states = statesByContext(commit);
    expect([...states.keys()].sort()).toEqual(names.map((n) => `driftless/${n}/local`));
    for (const [context, seen] of states) {
      expect(['success', 'failure'], `${context}: ${seen.join(' → ')}`).toContain(seen.at(-1));
    }
    // GitHub's faults were met, and none ended a status.
    const answers = gh.requestsOf(CREATE_STATUS).map((r) => r.status);
    expect(answers).toEqual(expect.arrayContaining([502, 503, 500, 403, 429]));
  });
});

describe('a job skipped after its push reported pending', () => {
  it('resolves the context: an app suspended before its job ran ends in error, saying why', async () => {
    const ns = await testNamespace('gh-paused');
    const name = 'paused-app';
    const file = `apps/${name}/config.yaml`;
    const app = {
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name },
      spec: {
        source: { repoURL: repo.url, revision: 'main', path: `apps/${name}` },
        destinations: [{ cluster: 'local', namespace: ns }],
      },
    };
    expect((await call('PUT', `/apps/${name}`, app)).status).toBe(201);
    const commit = await repo.commit(
      { [file]: `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ${name} }\n` },
      'paused app',
    );
    const res = await plane.webhook(pushEvent(commit, [file]), lambdaContext('driftless-webhook'));
    expect(JSON.parse(res.body as string).pending).toContainEqual({ app: name, cluster: 'local' });
    expect((await call('POST', `/apps/${name}/suspend`)).status).toBe(200);
    await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker, { quietMs: 500 });
    await eventually('the outbox to drain', async () => {
      await pollOnce(plane.sqs, plane.outboxUrl, plane.outbox);
      return (await outboxDepth()) === 0 ? true : undefined;
    });
    const last = gh.statuses
      .filter((s) => s.sha === commit && s.context === `driftless/${name}/local`)
      .at(-1);
    expect(last).toMatchObject({
      state: 'error',
      description: `skipped ${commit.slice(0, 8)}: the application is suspended`,
    });
  });
});

describe('the outbox function', () => {
  it('posts one status per commit and context per batch: the newest report, whatever the order', async () => {
    const sha = 'c'.repeat(40);
    const context = `driftless/coalesce-${uniqueName('x')}/local`;
    const outbox = new SqsStatusOutbox({ client: plane.sqs, queueUrl: plane.outboxUrl });
    // Queued in this order; the failure was reported before the success.
    await outbox.send([
      entry(context, 'pending', 1000, sha),
      entry(context, 'success', 3000, sha),
      entry(context, 'failure', 2000, sha),
    ]);
    const before = gh.requestsOf(CREATE_STATUS).length;
    const polled = await pollOnce(plane.sqs, plane.outboxUrl, plane.outbox);
    expect(polled.received).toBe(3);
    const posts = gh.requestsOf(CREATE_STATUS).slice(before);
    expect(posts.map((p) => [p.status, (p.body as { state: string }).state])).toEqual([
      [201, 'success'],
    ]);
    expect(await outboxDepth()).toBe(0);
  });

  it('sets the message to come back after the Retry-After GitHub answered', async () => {
    const sha = 'd'.repeat(40);
    const context = `driftless/limited-${uniqueName('x')}/local`;
    gh.script(CREATE_STATUS, {
      status: 429,
      headers: { 'retry-after': '120' },
      body: { message: 'You have exceeded a secondary rate limit.' },
    });
    await new SqsStatusOutbox({ client: plane.sqs, queueUrl: plane.outboxUrl }).send([
      entry(context, 'success', 1000, sha),
    ]);
    const visibility: ChangeMessageVisibilityCommandInput[] = [];
    const send = SQSClient.prototype.send;
    const spy = vi.spyOn(SQSClient.prototype, 'send').mockImplementation(function (
      this: SQSClient,
      command: unknown,
      ...rest: unknown[]
    ) {
      if (command instanceof ChangeMessageVisibilityCommand) visibility.push(command.input);
      return (send as (...a: unknown[]) => Promise<unknown>).call(this, command, ...rest);
    } as typeof send);
    let polled: Awaited<ReturnType<typeof pollOnce>>;
    try {
      polled = await pollOnce(plane.sqs, plane.outboxUrl, plane.outbox);
    } finally {
      spy.mockRestore();
    }
    expect(polled.failed).toHaveLength(1);
    expect(visibility.map((v) => [v.QueueUrl, v.VisibilityTimeout])).toEqual([
      [plane.outboxUrl, 120],
    ]);
    // Still queued, not visible: it was neither deleted nor posted.
    const again = await plane.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: plane.outboxUrl, WaitTimeSeconds: 0 }),
    );
    expect(again.Messages ?? []).toEqual([]);
    expect(await outboxDepth()).toBe(1);
    expect(gh.statuses.filter((s) => s.context === context)).toEqual([]);
    // Its time come (set here rather than waited for), it is posted.
    await plane.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: plane.outboxUrl,
        ReceiptHandle: visibility[0]?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    await pollOnce(plane.sqs, plane.outboxUrl, plane.outbox);
    expect(gh.statuses.filter((s) => s.context === context).map((s) => s.state)).toEqual([
      'success',
    ]);
    expect(await outboxDepth()).toBe(0);
  });
});
