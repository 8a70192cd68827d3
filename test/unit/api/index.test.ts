import { beforeEach, describe, expect, it } from 'vitest';
import { type ApiDeps, handleApiRequest, PREVIEW_CONCURRENCY } from '../../../lib/api/index.js';
import { DriftlessError } from '../../../lib/errors.js';
import { MemoryStore } from '../../../lib/local/store.js';
import { RecordingQueue } from '../../support/recording-queue.js';

const cluster = (name: string) => ({
  apiVersion: 'driftless.dev/v1',
  kind: 'Cluster',
  metadata: { name },
  spec: { eks: { name, region: 'eu-west-1' } },
});
const app = (name: string, clusters = ['prod']) => ({
  apiVersion: 'driftless.dev/v1',
  kind: 'Application',
  metadata: { name },
  spec: {
    source: {
      repoURL: 'https://github.com/acme/deploy.git',
      revision: 'main',
      path: `apps/${name}`,
    },
    destinations: clusters.map((c) => ({ cluster: c, namespace: name })),
  },
});

describe('status API', () => {
  let deps: ApiDeps;
  let queue: RecordingQueue;
  const call = (method: string, path: string, body?: unknown, query?: Record<string, string>) =>
    handleApiRequest(deps, {
      method,
      path,
      query,
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  beforeEach(async () => {
    queue = new RecordingQueue();
    deps = {
      catalog: new MemoryStore(),
      queue,
      clock: { now: () => Date.parse('2026-11-22T00:00:00Z') },
    };
    expect((await call('PUT', '/clusters/prod', cluster('prod'))).status).toBe(201);
  });

  it("shows each cluster's last drift sweep, in the listing and for one cluster", async () => {
    expect((await call('PUT', '/clusters/dev', cluster('dev'))).status).toBe(201);
    const record = {
      cluster: 'prod',
      tickAt: Date.parse('2026-11-22T00:00:00Z'),
      counters: {
        targets: 3,
        due: 3,
        enqueued: 1,
        reasons: { drift: 1 },
        deferred: 0,
        clusterRequests: 5,
        sourceRequests: 1,
        durationMs: 40,
      },
      confirmed: {},
      error: 'v1 ConfigMap: DeadlineExceeded',
    };
    await deps.catalog.putClusterSweepRecord(record);
    const list = (await call('GET', '/clusters')).body as { sweeps: Record<string, unknown> };
    expect(list.sweeps).toEqual({ prod: record });
    expect((await call('GET', '/clusters/prod')).body).toMatchObject({ sweep: record });
    expect((await call('GET', '/clusters/dev')).body).not.toHaveProperty('sweep');
  });

  it('registers, lists with pagination, reads and deletes applications', async () => {
    for (const n of ['a', 'b', 'c'])
      expect((await call('PUT', `/apps/${n}`, app(n))).status).toBe(201);
    expect((await call('PUT', '/apps/a', app('a'))).status).toBe(200);
    const first = await call('GET', '/apps', undefined, { limit: '2' });
    const body = first.body as {
      items: { name: string; targets: { sync: string }[] }[];
      next?: string;
    };
    expect(body.items.map((i) => i.name)).toEqual(['a', 'b']);
    expect(body.items[0]?.targets[0]).toMatchObject({
      cluster: 'prod',
      sync: 'Unknown',
      health: 'Unknown',
    });
    const second = (
      await call('GET', '/apps', undefined, { limit: '2', next: body.next as string })
    ).body as { items: { name: string }[]; next?: string };
    expect(second.items.map((i) => i.name)).toEqual(['c']);
    expect(second.next).toBeUndefined();
    expect(
      ((await call('GET', '/apps/b')).body as { app: { metadata: { name: string } } }).app.metadata
        .name,
    ).toBe('b');
    expect((await call('DELETE', '/apps/b')).status).toBe(204);
    expect(await call('GET', '/apps/b')).toMatchObject({ status: 404, body: { code: 'NotFound' } });
  });

  it('deletes with cascade by queueing a job per destination; the destination stays, marked deleting', async () => {
    expect((await call('PUT', '/clusters/dev', cluster('dev'))).status).toBe(201);
    expect((await call('PUT', '/apps/web', app('web', ['prod', 'dev']))).status).toBe(201);
    const res = await call('DELETE', '/apps/web', undefined, { cascade: 'true' });
    expect(res).toMatchObject({
      status: 202,
      body: { app: 'web', cascade: true, targets: [{ cluster: 'prod' }, { cluster: 'dev' }] },
    });
    expect(queue.sent.map((q) => [q.job.cluster, q.job.trigger])).toEqual([
      ['prod', 'delete'],
      ['dev', 'delete'],
    ]);
    const stored = (await call('GET', '/apps/web')).body as {
      app: { spec: { destinations: { deleting?: { requestedAt: string } }[] } };
    };
    expect(stored.app.spec.destinations.map((d) => d.deleting?.requestedAt)).toEqual([
      '2026-11-22T00:00:00.000Z',
      '2026-11-22T00:00:00.000Z',
    ]);
    expect(await call('DELETE', '/apps/web', undefined, { cascade: 'maybe' })).toMatchObject({
      status: 400,
      body: { field: 'cascade' },
    });
  });

  it('removes a destination: orphaned without cascade, marked deleting with; refuses to re-add one being deleted', async () => {
    expect((await call('PUT', '/clusters/dev', cluster('dev'))).status).toBe(201);
    expect((await call('PUT', '/apps/web', app('web', ['prod', 'dev']))).status).toBe(201);
    expect(await call('PUT', '/apps/web', app('web', ['prod']))).toMatchObject({
      status: 200,
      body: { removed: [{ cluster: 'dev', cascade: false, objects: 0 }] },
    });
    expect(queue.sent).toEqual([]);
    expect((await call('PUT', '/apps/web', app('web', ['prod', 'dev']))).status).toBe(200);
    const res = await call('PUT', '/apps/web', app('web', ['prod']), { cascade: 'true' });
    expect(res).toMatchObject({
      status: 200,
      body: { removed: [{ cluster: 'dev', cascade: true }] },
    });
    expect(queue.sent.map((q) => q.job)).toMatchObject([{ cluster: 'dev', trigger: 'delete' }]);
    expect(await call('PUT', '/apps/web', app('web', ['prod', 'dev']))).toMatchObject({
      status: 409,
      body: { code: 'Conflict', field: 'spec.destinations[1].cluster' },
    });
    const forged = app('web', ['prod']);
    (forged.spec.destinations[0] as Record<string, unknown>).deleting = { requestedAt: 'now' };
    expect(await call('PUT', '/apps/web', forged)).toMatchObject({
      status: 400,
      body: { field: 'spec.destinations[0].deleting' },
    });
  });

  it('validates input with the model and names the field', async () => {
    const bad = app('web');
    (bad.spec.destinations[0] as { namespace: string }).namespace = 'Not_Valid';
    expect(await call('PUT', '/apps/web', bad)).toMatchObject({
      status: 400,
      body: { code: 'InvalidSpec', field: 'spec.destinations[0].namespace' },
    });
    expect(await call('PUT', '/apps/other', app('web'))).toMatchObject({
      status: 400,
      body: { field: 'metadata.name' },
    });
    expect(await call('PUT', '/apps/web', app('web', ['nowhere']))).toMatchObject({
      status: 400,
      body: { message: 'destination cluster nowhere is not registered' },
    });
    expect(
      await handleApiRequest(deps, { method: 'PUT', path: '/apps/web', body: '{oops' }),
    ).toMatchObject({
      status: 400,
      body: { message: 'request body is not valid JSON' },
    });
    expect((await call('GET', '/apps/UPPER')).status).toBe(404);
    expect(await call('PATCH', '/apps/web')).toMatchObject({
      status: 405,
      body: { allowed: ['GET', 'PUT', 'DELETE'] },
    });
  });

  it('queues a manual sync, and a rollback when a revision is given', async () => {
    await call('PUT', '/apps/web', app('web'));
    expect(await call('POST', '/apps/web/sync', { revision: 'a'.repeat(40) })).toMatchObject({
      status: 409,
      body: { code: 'Conflict' },
    });
    await call('POST', '/apps/web/suspend');
    const res = await call('POST', '/apps/web/sync', { revision: 'a'.repeat(40), prune: true });
    expect(res.status).toBe(202);
    expect(queue.sent).toHaveLength(1);
    expect(queue.sent[0]?.job).toMatchObject({
      app: 'web',
      cluster: 'prod',
      trigger: 'rollback',
      revision: 'a'.repeat(40),
      allowPrune: true,
    });
    expect((await call('POST', '/apps/web/sync', { revision: '$(reboot)' })).status).toBe(400);
    expect((await call('POST', '/apps/web/sync', { cluster: 'elsewhere' })).status).toBe(404);
  });

  it('suspends and resumes', async () => {
    await call('PUT', '/apps/web', app('web'));
    expect((await call('POST', '/apps/web/suspend')).body).toEqual({ app: 'web', suspended: true });
    expect((await deps.catalog.getTargetRecord({ app: 'web', cluster: 'prod' }))?.suspended).toBe(
      true,
    );
    expect((await call('POST', '/apps/web/resume')).body).toEqual({ app: 'web', suspended: false });
  });

  it('will not delete a cluster an application deploys to', async () => {
    await call('PUT', '/apps/web', app('web'));
    expect((await call('DELETE', '/clusters/prod')).status).toBe(409);
    await call('DELETE', '/apps/web');
    expect((await call('DELETE', '/clusters/prod')).status).toBe(204);
  });

  it('pages an app’s resources across its targets: the first page lists every target, all pages every resource', async () => {
    for (const c of ['eu', 'us', 'ap'])
      expect((await call('PUT', `/clusters/${c}`, cluster(c))).status).toBe(201);
    expect((await call('PUT', '/apps/multi', app('multi', ['eu', 'us', 'ap']))).status).toBe(201);
    const counts: Record<string, number> = { eu: 5, us: 0, ap: 7 };
    for (const [c, n] of Object.entries(counts)) {
      await deps.catalog.putTargetStatus(
        {
          app: 'multi',
          cluster: c,
          sync: 'Synced',
          health: 'Healthy',
          resources: Array.from({ length: n }, (_, i) => ({
            key: `v1/ConfigMap/multi/${c}-${i}`,
            apiVersion: 'v1',
            kind: 'ConfigMap',
            namespace: 'multi',
            name: `${c}-${i}`,
            sync: 'Synced' as const,
          })),
          inventory: [],
          conditions: [],
        },
        1,
      );
    }
    type Page = { targets: { cluster: string; resources: { key: string }[] }[]; next?: string };
    const pages: Page[] = [];
    let next: string | undefined;
    do {
      const res = await call('GET', '/apps/multi', undefined, {
        resources: '4',
        ...(next ? { next } : {}),
      });
      expect(res.status).toBe(200);
      pages.push(res.body as Page);
      next = (res.body as Page).next;
    } while (next && pages.length < 10);
    expect(pages[0]?.targets.map((t) => t.cluster)).toEqual(['eu', 'us', 'ap']);
    expect(pages.map((p) => p.targets.reduce((n, t) => n + t.resources.length, 0))).toEqual([
      4, 4, 4,
    ]);
    const got: Record<string, string[]> = {};
    for (const p of pages) {
      for (const t of p.targets) {
        got[t.cluster] = [...(got[t.cluster] ?? []), ...t.resources.map((r) => r.key)];
      }
    }
    for (const [c, n] of Object.entries(counts)) {
      expect(got[c]).toEqual(Array.from({ length: n }, (_, i) => `v1/ConfigMap/multi/${c}-${i}`));
    }
    expect(await call('GET', '/apps/multi', undefined, { resources: '0' })).toMatchObject({
      status: 400,
      body: { code: 'InvalidSpec', field: 'resources' },
    });
    const foreign = Buffer.from(JSON.stringify({ cluster: 'mars', offset: 0 })).toString(
      'base64url',
    );
    expect(await call('GET', '/apps/multi', undefined, { next: foreign })).toMatchObject({
      status: 400,
      body: { code: 'InvalidSpec', field: 'next' },
    });
  });

  it('answers the dead-letter routes only when a dead-letter queue is configured, and validates them', async () => {
    expect(await call('GET', '/deadletters')).toMatchObject({
      status: 501,
      body: { code: 'NotImplemented', message: expect.stringContaining('no dead-letter queue') },
    });
    const asked: { max: number; dryRun?: boolean }[] = [];
    deps.deadLetters = {
      list: async () => [],
      redrive: async (opts) => {
        asked.push(opts);
        return { redriven: [], skipped: [] };
      },
    };
    expect(await call('POST', '/deadletters/redrive', { dryRun: true })).toMatchObject({
      status: 200,
      body: { dryRun: true, redriven: [], skipped: [] },
    });
    expect(asked).toEqual([{ max: 10, dryRun: true }]);
    for (const [body, field] of [
      [{ max: 101 }, 'max'],
      [{ max: 1.5 }, 'max'],
      [{ dryRun: 'yes' }, 'dryRun'],
    ] as const) {
      expect(await call('POST', '/deadletters/redrive', body)).toMatchObject({
        status: 400,
        body: { code: 'InvalidSpec', field },
      });
    }
    expect(await call('GET', '/deadletters', undefined, { limit: 'all' })).toMatchObject({
      status: 400,
      body: { field: 'limit' },
    });
  });
  it('registers, lists, reads and deletes Repository records: the secret by name only', async () => {
    const record = (name: string, extra: Record<string, unknown> = {}) => ({
      apiVersion: 'driftless.dev/v1',
      kind: 'Repository',
      metadata: { name },
      spec: { urlPrefix: `https://github.com/${name}/`, credentials: `${name}-git`, ...extra },
    });
    expect((await call('PUT', '/repositories/acme', record('acme'))).status).toBe(201);
    expect((await call('PUT', '/repositories/acme', record('acme'))).status).toBe(200);
    expect((await call('PUT', '/repositories/beta', record('beta'))).status).toBe(201);
    expect((await call('GET', '/repositories/acme')).body).toEqual({ repository: record('acme') });
    const list = await call('GET', '/repositories', undefined, { limit: '1' });
    expect(list.body).toMatchObject({ items: [record('acme')], next: expect.any(String) });
    const mismatch = await call('PUT', '/repositories/other', record('acme'));
    expect(mismatch).toMatchObject({ status: 400, body: { field: 'metadata.name' } });
    // A value where the reference goes is refused, not stored.
    const withToken = await call('PUT', '/repositories/acme', record('acme', { token: 'ghp_x' }));
    expect(withToken).toMatchObject({ status: 400, body: { code: 'InvalidSpec', field: 'spec' } });
    expect(JSON.stringify((await call('GET', '/repositories')).body)).not.toContain('ghp_x');
    expect((await call('DELETE', '/repositories/acme')).status).toBe(204);
    expect((await call('GET', '/repositories/acme')).status).toBe(404);
    expect((await call('DELETE', '/repositories/acme')).status).toBe(404);
  });

  it('refuses an application whose repoURL carries a token, naming spec.source.repoURL', async () => {
    const bad = app('leaky');
    bad.spec.source.repoURL = 'https://x-access-token:ghp_leak@github.com/acme/deploy.git';
    const res = await call('PUT', '/apps/leaky', bad);
    expect(res).toMatchObject({
      status: 400,
      body: { code: 'InvalidSpec', field: 'spec.source.repoURL', object: 'Application/leaky' },
    });
    expect(JSON.stringify(res.body)).not.toContain('ghp_leak');
    expect((await call('GET', '/apps/leaky')).status).toBe(404);
  });

  it('previews the diff of an app on many clusters at most PREVIEW_CONCURRENCY destinations at a time, each answered', async () => {
    const clusters = Array.from({ length: 10 }, (_, i) => `c${i}`);
    for (const c of clusters)
      expect((await call('PUT', `/clusters/${c}`, cluster(c))).status).toBe(201);
    expect((await call('PUT', '/apps/wide', app('wide', clusters))).status).toBe(201);
    let inFlight = 0;
    let most = 0;
    // The unit's own collaborator: a source that holds each preview a moment, then fails it.
    const sources = {
      async resolve(): Promise<string> {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        throw new DriftlessError('SourceUnavailable', 'the repository is not reachable');
      },
      async fetch(): Promise<never> {
        throw new Error('not reached');
      },
    };
    deps.engine = { sources } as unknown as NonNullable<ApiDeps['engine']>;
    const res = await call('GET', '/apps/wide/diff');
    expect(res.status).toBe(200);
    const body = res.body as {
      targets: { cluster: string; sync: string; error?: { code: string } }[];
    };
    expect(body.targets.map((t) => t.cluster)).toEqual(clusters);
    expect(body.targets.map((t) => [t.sync, t.error?.code])).toEqual(
      clusters.map(() => ['Unknown', 'SourceUnavailable']),
    );
    expect(most).toBe(PREVIEW_CONCURRENCY);
  });
});
