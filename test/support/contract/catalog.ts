// The Store/Catalog contract (lib/ports/store.ts), defined once and run
// against the DynamoDB catalog (on moto) and the memory store by
// test/integration/contract.test.ts. Fencing and tombstones are asserted
// here exactly as the DynamoDB conditions behave (lib/aws/catalog/fence.ts).

import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { DriftlessError } from '../../../lib/errors.js';
import { RepositorySchema } from '../../../lib/model/application.js';
import type { ObservedState, OperationResult } from '../../../lib/model/status.js';
import type { Lease } from '../../../lib/ports/lease.js';
import type { ClusterSweepRecord } from '../../../lib/ports/store.js';
import { application, cluster, type MakeStore, operation, REPO, status } from './fixtures.js';

/** A check's view of a target, as the worker writes it for the cluster's sweep. */
const OBSERVED: ObservedState = {
  revision: 'a'.repeat(40),
  objects: [
    ['/ConfigMap/web/settings', 'v1', '41', 'abcdefghijklmnop', ''],
    ['apps/Deployment/web/web', 'apps/v1', '', '', 'Missing'],
  ],
};

export function catalogContract(make: MakeStore): void {
  it('round-trips an Application through its schema (durations, defaults, labels)', async () => {
    const { catalog } = await make();
    const app = application('web', ['prod', 'staging']);
    await catalog.putApplication(app);
    expect(await catalog.getApplication('web')).toEqual(app);
    expect(await catalog.getApplication('absent')).toBeUndefined();
  });

  it('round-trips a Cluster and deletes it without touching targets', async () => {
    const { catalog } = await make();
    const c = cluster('prod');
    await catalog.putCluster(c);
    expect(await catalog.getCluster('prod')).toEqual(c);
    await catalog.putApplication(application('uses-prod', ['prod']));
    await catalog.deleteCluster('prod');
    expect(await catalog.getCluster('prod')).toBeUndefined();
    expect(await catalog.getTargetRecord({ app: 'uses-prod', cluster: 'prod' })).toMatchObject({
      app: 'uses-prod',
      cluster: 'prod',
    });
  });

  it('pages through more applications than fit on one page, sorted, next absent at the end', async () => {
    const { catalog } = await make();
    const names = Array.from({ length: 23 }, (_, i) => `app-${String(i).padStart(2, '0')}`);
    await Promise.all(
      [...names].reverse().map((n) => catalog.putApplication(application(n, ['prod']))),
    );
    const pages: string[][] = [];
    let next: string | undefined;
    do {
      const page = await catalog.listApplications(10, next);
      pages.push(page.items.map((a) => a.metadata.name));
      next = page.next;
    } while (next);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 3]);
    expect(pages.flat()).toEqual(names);
    // Exactly a page's worth: no empty page after it.
    expect((await catalog.listApplications(23)).next).toBeUndefined();
    const short = await catalog.listApplications(22);
    expect(
      (await catalog.listApplications(22, short.next)).items.map((a) => a.metadata.name),
    ).toEqual(names.slice(22));
  });

  it('round-trips Repository records, pages them sorted by name, deletes one', async () => {
    const { catalog } = await make();
    const record = (name: string) =>
      RepositorySchema.parse({
        apiVersion: 'driftless.dev/v1',
        kind: 'Repository',
        metadata: { name },
        spec: { urlPrefix: `https://github.com/${name}/`, credentials: `${name}-git` },
      });
    for (const n of ['gamma', 'alpha', 'beta']) await catalog.putRepository(record(n));
    expect(await catalog.getRepository('alpha')).toEqual(record('alpha'));
    expect(await catalog.getRepository('absent')).toBeUndefined();
    const first = await catalog.listRepositories(2);
    const second = await catalog.listRepositories(2, first.next);
    expect([...first.items, ...second.items].map((r) => r.metadata.name)).toEqual([
      'alpha',
      'beta',
      'gamma',
    ]);
    expect(second.next).toBeUndefined();
    await catalog.deleteRepository('beta');
    expect((await catalog.listRepositories()).items.map((r) => r.metadata.name)).toEqual([
      'alpha',
      'gamma',
    ]);
    // Repositories are not applications or clusters.
    expect((await catalog.listApplications()).items).toEqual([]);
    expect((await catalog.listClusters()).items).toEqual([]);
  });

  it('pages through clusters', async () => {
    const { catalog } = await make();
    const names = Array.from({ length: 7 }, (_, i) => `c${i}`);
    for (const n of names) await catalog.putCluster(cluster(n));
    const first = await catalog.listClusters(3);
    const second = await catalog.listClusters(3, first.next);
    const third = await catalog.listClusters(3, second.next);
    expect([first, second, third].flatMap((p) => p.items.map((c) => c.metadata.name))).toEqual(
      names,
    );
    expect(third.next).toBeUndefined();
    expect((await catalog.listClusters()).items).toHaveLength(7);
  });

  it('rejects a page token it did not issue, and a page size below 1', async () => {
    const { catalog } = await make();
    await catalog.putApplication(application('a', ['prod']));
    await expect(catalog.listApplications(10, 'bm90LWEtdG9rZW4')).rejects.toMatchObject({
      reason: 'InvalidSpec',
      location: { field: 'next' },
    });
    const forged = Buffer.from(JSON.stringify({ pk: { S: 'APP#x' }, evil: { S: '1' } })).toString(
      'base64url',
    );
    await expect(catalog.listClusters(10, forged)).rejects.toBeInstanceOf(DriftlessError);
    await expect(catalog.listApplications(0)).rejects.toMatchObject({
      reason: 'InvalidSpec',
      location: { field: 'limit' },
    });
    await expect(catalog.listRepositories(0)).rejects.toMatchObject({ reason: 'InvalidSpec' });
  });

  it('keeps one record per destination, found by repository however its URL is written', async () => {
    const { catalog } = await make();
    await catalog.putApplication(application('routed', ['eu', 'us']));
    expect(await catalog.getTargetRecord({ app: 'routed', cluster: 'eu' })).toEqual({
      app: 'routed',
      cluster: 'eu',
      repoURL: REPO,
      revision: 'main',
      suspended: false,
      intervalMs: 120_000,
    });
    for (const url of [
      'https://github.com/acme/deploy',
      'git@github.com:ACME/deploy.git',
      'ssh://git@github.com/acme/deploy/',
    ]) {
      const found = await catalog.targetsForRepo(url);
      expect(found.map((t) => t.cluster).sort()).toEqual(['eu', 'us']);
    }
    expect(await catalog.targetsForRepo('https://github.com/acme/other')).toEqual([]);
  });

  it('an update keeps status, wanted revision and the sweep view, and deletes removed destinations as a delete does', async () => {
    const { catalog } = await make();
    const eu = { app: 'evolving', cluster: 'eu' };
    const us = { app: 'evolving', cluster: 'us' };
    await catalog.putApplication(application('evolving', ['eu', 'us']));
    await catalog.recordWantedRevision(eu, 'abc123', 1_000);
    await catalog.putObserved(eu, OBSERVED);
    await catalog.putTargetStatus(status(eu), 1);
    await catalog.putTargetStatus(status(us), 1);
    await catalog.appendHistory(us, operation(1), 1);

    await catalog.putApplication(
      application('evolving', ['eu'], {
        source: { repoURL: REPO, revision: 'release', path: 'apps/web' },
        suspended: true,
      }),
    );
    expect(await catalog.getTargetRecord(eu)).toMatchObject({
      revision: 'release',
      suspended: true,
      wantedRevision: 'abc123',
      wantedAt: 1_000,
    });
    expect((await catalog.clusterSweepState('eu')).targets).toEqual([
      {
        app: 'evolving',
        cluster: 'eu',
        specHash: expect.stringMatching(/^[\w-]{16}$/),
        intervalMs: 120_000,
        suspended: true,
        source: { repoURL: REPO, revision: 'release', path: 'apps/web' },
        observed: OBSERVED,
      },
    ]);
    expect((await catalog.clusterSweepState('us')).targets).toEqual([]);
    expect(await catalog.getTargetStatus(eu)).toEqual(status(eu));
    expect(await catalog.getTargetRecord(us)).toBeUndefined();
    expect(await catalog.getTargetStatus(us)).toBeUndefined();
    expect(await catalog.listHistory(us)).toEqual([]);
    // The removed destination is a tombstone: a worker still on it cannot bring it back.
    await expect(catalog.putTargetStatus(status(us), 1)).rejects.toMatchObject({
      reason: 'LeaseLost',
    });
    expect(await catalog.getTargetStatus(us)).toBeUndefined();
  });

  it('deletes an app with its targets, status and history; a late write is fenced out; registering again revives it', async () => {
    const { catalog } = await make();
    const t = { app: 'doomed', cluster: 'eu' };
    await catalog.putApplication(application('doomed', ['eu']));
    await catalog.putTargetStatus(status(t), 3);
    await catalog.appendHistory(t, operation(1), 3);
    await catalog.deleteApplication('doomed');
    expect(await catalog.getApplication('doomed')).toBeUndefined();
    expect(await catalog.getTargetRecord(t)).toBeUndefined();
    expect(await catalog.getTargetStatus(t)).toBeUndefined();
    expect(await catalog.listHistory(t)).toEqual([]);
    expect(await catalog.targetsForRepo(REPO)).toEqual([]);
    expect((await catalog.clusterSweepState('eu')).targets).toEqual([]);
    // A worker that was mid-reconcile cannot bring the target back.
    await expect(catalog.putTargetStatus(status(t), 3)).rejects.toMatchObject({
      reason: 'LeaseLost',
      message: expect.stringContaining('deleted'),
    });
    await expect(catalog.appendHistory(t, operation(2), 3)).rejects.toMatchObject({
      reason: 'LeaseLost',
    });
    expect(await catalog.getTargetStatus(t)).toBeUndefined();
    expect(await catalog.listHistory(t)).toEqual([]);
    // Deleting again is a no-op; registering again revives the target cleanly,
    // with its fence: the deleted target's older tokens stay fenced out.
    await catalog.deleteApplication('doomed');
    await catalog.putApplication(application('doomed', ['eu']));
    expect(await catalog.getTargetRecord(t)).toMatchObject({ app: 'doomed', cluster: 'eu' });
    expect(await catalog.getTargetRecord(t)).not.toHaveProperty('wantedRevision');
    // The revived target's sweep item has no view: its first sweep reconciles it.
    expect((await catalog.clusterSweepState('eu')).targets[0]).not.toHaveProperty('observed');
    await expect(catalog.putTargetStatus(status(t), 2)).rejects.toMatchObject({
      reason: 'LeaseLost',
    });
    await catalog.putTargetStatus(status(t), 4);
    expect(await catalog.getTargetStatus(t)).toEqual(status(t));
  });

  it('records the wanted revision, never backwards in time, and never for an unknown target', async () => {
    const { catalog } = await make();
    const t = { app: 'pushed', cluster: 'eu' };
    await catalog.putApplication(application('pushed', ['eu']));
    await catalog.recordWantedRevision(t, 'second', 2_000);
    await catalog.recordWantedRevision(t, 'first', 1_000);
    expect(await catalog.getTargetRecord(t)).toMatchObject({
      wantedRevision: 'second',
      wantedAt: 2_000,
    });
    await catalog.recordWantedRevision(t, 'third', 3_000);
    expect(await catalog.getTargetRecord(t)).toMatchObject({ wantedRevision: 'third' });

    const unknown = { app: 'never-registered', cluster: 'eu' };
    await catalog.recordWantedRevision(unknown, 'x', 1);
    await catalog.putObserved(unknown, OBSERVED);
    expect(await catalog.getTargetRecord(unknown)).toBeUndefined();
    expect((await catalog.clusterSweepState('eu')).targets.map((t) => t.app)).toEqual(['pushed']);
    expect(await catalog.targetsForRepo(REPO)).toHaveLength(1);
  });

  it('a status write does not clobber a wanted revision or a sweep view written at the same time', async () => {
    const { catalog } = await make();
    const t = { app: 'busy', cluster: 'eu' };
    await catalog.putApplication(application('busy', ['eu']));
    await Promise.all([
      catalog.putTargetStatus(status(t, 200), 1),
      catalog.recordWantedRevision(t, 'pushed-meanwhile', 7_000),
      catalog.putObserved(t, OBSERVED),
    ]);
    expect(await catalog.getTargetRecord(t)).toMatchObject({
      wantedRevision: 'pushed-meanwhile',
      wantedAt: 7_000,
    });
    expect((await catalog.clusterSweepState('eu')).targets[0]?.observed).toEqual(OBSERVED);
    expect((await catalog.getTargetStatus(t))?.resources).toHaveLength(200);
  });

  it("reads a cluster's targets with their views and its sweep record in one state, over pages", async () => {
    const { catalog } = await make();
    // Enough targets with views to pass DynamoDB's 1 MB page: the state reads every page.
    const apps = Array.from({ length: 60 }, (_, i) => `svc-${String(i).padStart(2, '0')}`);
    await Promise.all(
      apps.map((a, i) =>
        catalog.putApplication(application(a, ['eu', 'us'], { suspended: i === 7 })),
      ),
    );
    const big: ObservedState = {
      revision: 'f'.repeat(40),
      objects: Array.from({ length: 400 }, (_, i) => [
        `apps/Deployment/ns/${randomBytes(12).toString('hex')}-${i}`,
        'apps/v1',
        String(1000 + i),
        randomBytes(12).toString('base64url'),
        'Healthy',
      ]),
    };
    await Promise.all(apps.map((a) => catalog.putObserved({ app: a, cluster: 'eu' }, big)));
    const record: ClusterSweepRecord = {
      cluster: 'eu',
      tickAt: 120_000,
      counters: {
        targets: 60,
        due: 59,
        enqueued: 1,
        reasons: { drift: 1 },
        deferred: 0,
        clusterRequests: 9,
        sourceRequests: 1,
        durationMs: 12,
      },
      confirmed: { 'svc-01@apps/Deployment/ns/x': '1001' },
    };
    await catalog.putClusterSweepRecord(record);
    const eu = await catalog.clusterSweepState('eu');
    expect(eu.record).toEqual(record);
    expect(eu.targets.map((t) => t.app).sort()).toEqual(apps);
    expect(eu.targets.every((t) => t.observed?.objects.length === 400)).toBe(true);
    expect(eu.targets.find((t) => t.app === 'svc-07')?.suspended).toBe(true);
    const us = await catalog.clusterSweepState('us');
    expect(us.record).toBeUndefined();
    expect(us.targets).toHaveLength(60);
    expect(us.targets.some((t) => t.observed)).toBe(false);
    expect((await catalog.clusterSweepState('ap')).targets).toEqual([]);
  });

  it('round-trips a status, per-check timestamps included and removable', async () => {
    const { catalog } = await make();
    const t = { app: 'status-rt', cluster: 'eu' };
    expect(await catalog.getTargetStatus(t)).toBeUndefined();
    const s = status(t, 5, {
      conditions: [
        { type: 'OutOfSync', reason: 'DriftDetected', message: 'x', lastTransitionTime: 'y' },
      ],
      operation: operation(3),
    });
    await catalog.putTargetStatus(s, 1);
    expect(await catalog.getTargetStatus(t)).toEqual(s);
    const { lastCheckedAt: _a, checkStartedAt: _b, ...withoutStamps } = s;
    await catalog.putTargetStatus(withoutStamps, 1);
    expect(await catalog.getTargetStatus(t)).toEqual(withoutStamps);
  });

  it('keeps the status summary on the target record: written with the status, kept by a spec update', async () => {
    const { catalog } = await make();
    const t = { app: 'summarized', cluster: 'eu' };
    await catalog.putApplication(application('summarized', ['eu']));
    expect((await catalog.getTargetRecord(t))?.summary).toBeUndefined();
    const s = status(t, 2, {
      sync: 'OutOfSync',
      health: 'Progressing',
      operation: { ...operation(1), phase: 'Running' },
    });
    await catalog.putTargetStatus(s, 1);
    expect((await catalog.getTargetRecord(t))?.summary).toEqual({
      sync: 'OutOfSync',
      health: 'Progressing',
      syncedRevision: s.syncedRevision,
      operationPhase: 'Running',
      lastCheckedAt: s.lastCheckedAt,
    });
    // Only the timestamps change: the summary follows too.
    await catalog.putTargetStatus({ ...s, lastCheckedAt: '2026-03-01T12:09:00.000Z' }, 1);
    expect((await catalog.getTargetRecord(t))?.summary?.lastCheckedAt).toBe(
      '2026-03-01T12:09:00.000Z',
    );
    const { operation: _op, syncedRevision: _rev, ...plain } = s;
    await catalog.putTargetStatus({ ...plain, sync: 'Synced', health: 'Healthy' }, 2);
    await catalog.putApplication(application('summarized', ['eu'], { suspended: true }));
    expect((await catalog.getTargetRecord(t))?.summary).toEqual({
      sync: 'Synced',
      health: 'Healthy',
      lastCheckedAt: s.lastCheckedAt,
    });
  });

  it('fences status writes: an older token is rejected with LeaseLost, the same or a newer one writes', async () => {
    const { catalog } = await make();
    const t = { app: 'fenced', cluster: 'eu' };
    await catalog.putApplication(application('fenced', ['eu']));
    await catalog.putTargetStatus(status(t, 1, { health: 'Progressing' }), 5);
    await expect(
      catalog.putTargetStatus(status(t, 1, { health: 'Degraded' }), 4),
    ).rejects.toMatchObject({ reason: 'LeaseLost', message: expect.stringContaining('4') });
    expect((await catalog.getTargetStatus(t))?.health).toBe('Progressing');
    await catalog.putTargetStatus(status(t, 1, { health: 'Healthy' }), 5);
    await catalog.putTargetStatus(status(t, 1, { health: 'Suspended' }), 6);
    expect((await catalog.getTargetStatus(t))?.health).toBe('Suspended');
  });

  it('fences writes by the newest lease taken, before its holder has written anything', async () => {
    const { catalog, leases, clock } = await make();
    const t = { app: 'overtaken', cluster: 'eu' };
    await catalog.putApplication(application('overtaken', ['eu']));
    const a = (await leases.acquire(t, 'worker-a', 30_000)) as Lease;
    await catalog.putTargetStatus(status(t, 1, { health: 'Progressing' }), a.fencingToken);
    clock.advance(31_000); // A stalls past its lease
    const b = (await leases.acquire(t, 'worker-b', 30_000)) as Lease;
    expect(b.fencingToken).toBeGreaterThan(a.fencingToken);
    await expect(
      catalog.putTargetStatus(status(t, 1, { health: 'Degraded' }), a.fencingToken),
    ).rejects.toMatchObject({
      reason: 'LeaseLost',
      message: expect.stringContaining('newer lease'),
    });
    await expect(
      catalog.appendHistory(t, operation('from-a'), a.fencingToken),
    ).rejects.toMatchObject({
      reason: 'LeaseLost',
    });
    expect((await catalog.getTargetStatus(t))?.health).toBe('Progressing');
    await catalog.putTargetStatus(status(t, 1, { health: 'Healthy' }), b.fencingToken);
    await catalog.appendHistory(t, operation('from-b'), b.fencingToken);
    expect((await catalog.getTargetStatus(t))?.health).toBe('Healthy');
    expect((await catalog.listHistory(t)).map((o) => o.id)).toEqual(['op-from-b']);
    // Still rejected after B released: tokens never go back.
    await leases.release(b);
    await expect(
      catalog.putTargetStatus(status(t, 1, { health: 'Degraded' }), a.fencingToken),
    ).rejects.toMatchObject({ reason: 'LeaseLost' });
  });

  it('lists history newest first, keeps at most historyLimit, honours a smaller limit', async () => {
    const { catalog } = await make({ historyLimit: 10 });
    const t = { app: 'historic', cluster: 'eu' };
    for (let i = 1; i <= 13; i++) await catalog.appendHistory(t, operation(i), 1);
    const all = await catalog.listHistory(t);
    expect(all.map((o) => o.id)).toEqual(Array.from({ length: 10 }, (_, i) => `op-${13 - i}`));
    expect(all[0]).toEqual(operation(13));
    expect((await catalog.listHistory(t, 3)).map((o) => o.id)).toEqual(['op-13', 'op-12', 'op-11']);
    expect(await catalog.listHistory(t, 0)).toEqual([]);
    expect(await catalog.listHistory(t, 50)).toHaveLength(10);
  });

  it('collapses a repeated failure into one entry with a count, and keeps successes apart from failures', async () => {
    const { catalog } = await make({ historyLimit: 10 });
    const t = { app: 'historic-failing', cluster: 'eu' };
    const failure = (n: number, revision: string): OperationResult => ({
      ...operation(100 + n),
      revision,
      phase: 'Failed',
      reason: 'HookFailed',
      message: `attempt ${n}`,
    });
    await catalog.appendHistory(t, operation(1), 1);
    await catalog.appendHistory(t, operation(2), 1);
    // Far more failures than the limit (10), of a few commits, each repeated.
    for (let i = 0; i < 30; i++) await catalog.appendHistory(t, failure(i, `bad-${i % 15}`), 1);
    for (let i = 0; i < 5; i++) await catalog.appendHistory(t, failure(40 + i, 'worse'), 1);
    const all = await catalog.listHistory(t);
    expect(all).toHaveLength(10);
    expect(all[0]).toMatchObject({ revision: 'worse', count: 5, message: 'attempt 44' });
    expect(all[0]?.startedAt).toBe(failure(40, 'worse').startedAt);
    // The successful syncs a rollback needs were not pushed out.
    const ok = await catalog.listHistory(t, 10, { succeeded: true });
    expect(ok.map((o) => o.id)).toEqual(['op-2', 'op-1']);
  });

  it('fences history appends like the status', async () => {
    const { catalog } = await make();
    const t = { app: 'historic-fenced', cluster: 'eu' };
    await catalog.putTargetStatus(status(t), 2);
    await catalog.appendHistory(t, operation(1), 2);
    await expect(catalog.appendHistory(t, operation(2), 1)).rejects.toMatchObject({
      reason: 'LeaseLost',
    });
    // A history append raises the fence for the status too.
    await catalog.appendHistory(t, operation(3), 4);
    await expect(catalog.putTargetStatus(status(t), 3)).rejects.toMatchObject({
      reason: 'LeaseLost',
    });
    expect((await catalog.listHistory(t)).map((o) => o.id)).toEqual(['op-3', 'op-1']);
  });
}
