// One cluster's sweep, decided against an in-memory cluster and store (the
// API server's side — metadata LISTs, fingerprints, status writes by a real
// controller — is tested in test/integration/sweep-cluster.test.ts): which
// targets get a reconcile and why, what it costs per tick, fairness under
// the per-cluster limit, intervals longer than a tick, and repeated ticks.

import { beforeEach, describe, expect, it } from 'vitest';
import { evaluateHealth } from '../../../lib/health/index.js';
import { MemoryStore } from '../../../lib/local/store.js';
import {
  type Application,
  ApplicationSchema,
  ClusterSchema,
  specHash,
} from '../../../lib/model/application.js';
import { metadataFingerprint } from '../../../lib/model/fingerprint.js';
import { type KubeObject, LABEL_APP, objectKey } from '../../../lib/model/object.js';
import type { ObservedObject } from '../../../lib/model/status.js';
import type { SourceFetcher } from '../../../lib/ports/source.js';
import { DEADLINE_RESERVE_MS } from '../../../lib/reconcile/deadline.js';
import { isDue, sweepCluster } from '../../../lib/sweep/index.js';
import { MemoryCluster } from '../../support/memory-cluster.js';
import { RecordingQueue } from '../../support/recording-queue.js';

const T0 = Date.parse('2026-11-22T00:00:00Z');
const MINUTE = 60_000;
const REPO = 'https://github.com/acme/deploy.git';
const HEAD = 'a'.repeat(40);

/** A SourceFetcher that counts what it is asked: the unit's collaborator, not Git. */
class CountingSources implements SourceFetcher {
  heads = new Map<string, string>();
  failing = new Set<string>();
  resolves: string[] = [];
  async resolve(spec: Parameters<SourceFetcher['resolve']>[0]): Promise<string> {
    const { repoURL, revision } = spec.source;
    this.resolves.push(`${repoURL}@${revision}`);
    if (this.failing.has(repoURL)) throw new Error(`cannot reach ${repoURL}`);
    return this.heads.get(repoURL) ?? HEAD;
  }
  async fetch(): Promise<never> {
    throw new Error('the sweep never fetches');
  }
}

let store: MemoryStore;
let cluster: MemoryCluster;
let sources: CountingSources;
let queue: RecordingQueue;
let rv = 100;

const deps = () => ({
  catalog: store,
  queue,
  clusters: { connect: async () => cluster },
  sources,
});

function configMap(app: string, name: string, data: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      namespace: app,
      labels: { [LABEL_APP]: app },
      resourceVersion: String(++rv),
      managedFields: [{ manager: 'driftless', operation: 'Apply', apiVersion: 'v1' }],
    },
    data,
  } as KubeObject;
}

function deployment(app: string, available: boolean): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: app,
      generation: 1,
      labels: { [LABEL_APP]: app },
      resourceVersion: String(++rv),
      managedFields: [{ manager: 'driftless', operation: 'Apply', apiVersion: 'apps/v1' }],
    },
    spec: { replicas: 1 },
    status: {
      observedGeneration: 1,
      replicas: 1,
      updatedReplicas: 1,
      readyReplicas: available ? 1 : 0,
      availableReplicas: available ? 1 : 0,
      conditions: [
        available
          ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }
          : {
              type: 'Progressing',
              status: 'False',
              reason: 'ProgressDeadlineExceeded',
              message: 'timed out',
            },
      ],
    },
  } as KubeObject;
}

function put(obj: KubeObject) {
  cluster.objects.set(objectKey(obj), obj);
}

/** A write by someone else: a new resourceVersion, the object as `change` leaves it. */
function write(key: string, change: (o: KubeObject) => void) {
  const o = structuredClone(cluster.objects.get(key) as KubeObject);
  change(o);
  o.metadata.resourceVersion = String(++rv);
  cluster.objects.set(key, o);
}

/** Registers an app with a ConfigMap and a Deployment, and records what a check of it would see. */
async function trackedApp(app: string, opts: { intervalMs?: number; suspended?: boolean } = {}) {
  await store.putApplication(
    ApplicationSchema.parse({
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name: app },
      spec: {
        source: { repoURL: REPO, revision: 'main', path: app },
        destinations: [{ cluster: 'prod', namespace: app }],
        syncPolicy: { interval: `${(opts.intervalMs ?? MINUTE) / 1000}s` },
        suspended: opts.suspended ?? false,
      },
    }),
  );
  const objs = [configMap(app, 'settings', { value: 'v1' }), deployment(app, true)];
  for (const o of objs) put(o);
  await observe(app);
}

/** What the worker's check writes after reconciling `app`. */
async function observe(app: string, running = false) {
  const objects: ObservedObject[] = [...cluster.objects.values()]
    .filter((o) => o.metadata.labels?.[LABEL_APP] === app)
    .map((o) => [
      objectKey(o),
      o.apiVersion,
      o.metadata.resourceVersion ?? '',
      metadataFingerprint(o.metadata),
      o.kind === 'Deployment' ? evaluateHealth(o).status : '',
    ]);
  const spec = specHash((await store.getApplication(app)) as Application);
  await store.putObserved(
    { app, cluster: 'prod' },
    { revision: HEAD, ...(running ? { running: true } : {}), spec, objects },
  );
}

const tickJob = (minute: number) => ({
  kind: 'cluster-sweep' as const,
  cluster: 'prod',
  tick: T0 + minute * MINUTE,
  enqueuedAt: new Date(T0 + minute * MINUTE).toISOString(),
});

beforeEach(async () => {
  store = new MemoryStore();
  cluster = new MemoryCluster();
  sources = new CountingSources();
  queue = new RecordingQueue();
  await store.putCluster(
    ClusterSchema.parse({
      apiVersion: 'driftless.dev/v1',
      kind: 'Cluster',
      metadata: { name: 'prod' },
      spec: { eks: { name: 'prod', region: 'eu-west-1' } },
    }),
  );
});

describe('sweepCluster', () => {
  it('queues nothing for targets that did not change: one LIST per kind, one resolve per repository', async () => {
    for (const app of ['a', 'b', 'c', 'd', 'e']) await trackedApp(app);
    const { record, enqueued } = await sweepCluster(deps(), tickJob(0));
    expect(enqueued).toEqual([]);
    expect(queue.sent).toEqual([]);
    expect(record?.counters).toMatchObject({ targets: 5, due: 5, enqueued: 0, reasons: {} });
    expect(cluster.stats.byVerb).toEqual({ list: 2 }); // ConfigMap, Deployment
    expect(record?.counters.clusterRequests).toBe(2);
    expect(sources.resolves).toEqual([`${REPO}@main`]);
    // The record is the only write; it keeps the tick.
    expect((await store.clusterSweepState('prod')).record?.tickAt).toBe(T0);
  });

  it('queues the target whose object was edited, deleted or relabelled, and only it', async () => {
    for (const app of ['a', 'b', 'c', 'd']) await trackedApp(app);
    write('/ConfigMap/a/settings', (o) => {
      (o as unknown as { data: Record<string, string> }).data.value = 'edited';
      o.metadata.managedFields?.push({
        manager: 'kubectl-edit',
        operation: 'Update',
        apiVersion: 'v1',
      });
    });
    cluster.objects.delete('apps/Deployment/b/web');
    write('/ConfigMap/c/settings', (o) => {
      o.metadata.labels = {};
    });
    const { enqueued } = await sweepCluster(deps(), tickJob(0));
    enqueued.sort((x, y) => x.app.localeCompare(y.app));
    queue.sent.sort((x, y) => x.job.app.localeCompare(y.job.app));
    expect(enqueued).toEqual([
      { app: 'a', reason: 'drift' },
      { app: 'b', reason: 'drift' },
      { app: 'c', reason: 'drift' },
    ]);
    expect(queue.sent.map((j) => j.job)).toEqual(
      ['a', 'b', 'c'].map((app) => ({
        app,
        cluster: 'prod',
        trigger: 'sweep',
        enqueuedAt: expect.any(String),
        initiator: 'driftless:sweep',
      })),
    );
    expect(queue.sent[0]?.dedupId).toBe(`sweep:a#prod:${T0}`);
  });

  it('sees a second edit by the same field manager of a kind without generation', async () => {
    await trackedApp('a');
    const edit = (value: string) =>
      write('/ConfigMap/a/settings', (o) => {
        (o as unknown as { data: Record<string, string> }).data.value = value;
        o.metadata.managedFields = [
          { manager: 'driftless', operation: 'Apply', apiVersion: 'v1' },
          { manager: 'kubectl-edit', operation: 'Update', apiVersion: 'v1' },
        ];
      });
    edit('first');
    // automated without selfHeal: the check reports it and records what it saw.
    await observe('a');
    edit('second'); // same manager, same fields: the fingerprint is as it was
    const { enqueued } = await sweepCluster(deps(), tickJob(0));
    expect(enqueued).toEqual([{ app: 'a', reason: 'drift' }]);
  });

  it('fetches an object whose version moved by status alone: unchanged health is confirmed, changed health queues the target', async () => {
    await trackedApp('a');
    await trackedApp('b');
    // A controller's status write to a's Deployment: same generation, metadata, health.
    write('apps/Deployment/a/web', (o) => {
      (o as unknown as { status: { replicas: number } }).status.replicas = 1;
    });
    // b's rollout broke: its Deployment's status says so.
    const broken = deployment('b', false);
    write('apps/Deployment/b/web', (o) => {
      (o as unknown as { status: unknown }).status = (
        broken as unknown as { status: unknown }
      ).status;
    });
    const first = await sweepCluster(deps(), tickJob(0));
    expect(first.enqueued).toEqual([{ app: 'b', reason: 'health' }]);
    expect(cluster.stats.byVerb).toEqual({ list: 2, get: 2 });
    const aVersion = cluster.objects.get('apps/Deployment/a/web')?.metadata.resourceVersion;
    expect(first.record?.confirmed).toEqual({ 'a@apps/Deployment/a/web': aVersion });
    // The next tick does not fetch a's Deployment again.
    const before = cluster.stats.byVerb.get ?? 0;
    const second = await sweepCluster(deps(), tickJob(1));
    expect(cluster.stats.byVerb.get ?? 0).toBe(before + 1); // b's, still broken, still queued
    expect(second.enqueued).toEqual([{ app: 'b', reason: 'health' }]);
    // Once a check has recorded a's new version, the confirmation is dropped.
    await observe('a');
    const third = await sweepCluster(deps(), tickJob(2));
    expect(third.record?.confirmed).toEqual({});
  });

  it('queues targets whose source moved, resolving each repository and revision once', async () => {
    for (const app of ['a', 'b', 'c']) await trackedApp(app);
    sources.heads.set(REPO, 'b'.repeat(40));
    const { enqueued, record } = await sweepCluster(deps(), tickJob(0));
    expect(enqueued.map((e) => e.reason)).toEqual(['source', 'source', 'source']);
    expect(sources.resolves).toHaveLength(1);
    expect(record?.counters.sourceRequests).toBe(1);
    // No object needed comparing: the cluster was not asked anything.
    expect(cluster.stats.total).toBe(0);
  });

  it('an unreadable source queues nothing and says so in the record; the objects are still checked', async () => {
    await trackedApp('a');
    sources.failing.add(REPO);
    cluster.objects.delete('/ConfigMap/a/settings');
    const { enqueued, record } = await sweepCluster(deps(), tickJob(0));
    expect(enqueued).toEqual([{ app: 'a', reason: 'drift' }]);
    expect(record?.error).toMatch(/a: .*cannot reach https:\/\/github.com\/acme\/deploy.git/);
  });

  it('checks a target whose spec changed at the next tick, whatever its interval', async () => {
    await trackedApp('slow', { intervalMs: 3_600_000 });
    await sweepCluster(deps(), tickJob(0));
    expect((await sweepCluster(deps(), tickJob(1))).record?.counters.due).toBe(0);
    const app = (await store.getApplication('slow')) as Application;
    await store.putApplication({
      ...app,
      spec: { ...app.spec, source: { ...app.spec.source, path: 'moved' } },
    });
    const { enqueued } = await sweepCluster(deps(), tickJob(2));
    expect(enqueued).toEqual([{ app: 'slow', reason: 'spec' }]);
  });

  it('queues a target whose last check failed when it is next due, not every tick', async () => {
    await trackedApp('broken', { intervalMs: 10 * MINUTE });
    // The worker's check failed before comparing (lib/reconcile/status.ts failedView).
    const spec = specHash((await store.getApplication('broken')) as Application);
    await store.putObserved(
      { app: 'broken', cluster: 'prod' },
      { revision: '', spec, objects: [] },
    );
    const reasons: string[] = [];
    for (let m = 0; m <= 20; m++) {
      const { enqueued } = await sweepCluster(deps(), tickJob(m));
      reasons.push(...enqueued.map((e) => e.reason));
    }
    // The first tick, then once per 10-minute interval: 2 or 3 times in 21 ticks, never 21.
    expect(reasons.every((r) => r === 'failed')).toBe(true);
    expect(reasons.length).toBeGreaterThanOrEqual(2);
    expect(reasons.length).toBeLessThanOrEqual(3);
  });

  it('queues new targets, and leaves suspended ones and running operations alone', async () => {
    await trackedApp('paused', { suspended: true });
    cluster.objects.delete('/ConfigMap/paused/settings');
    await trackedApp('busy');
    await observe('busy', true);
    cluster.objects.delete('/ConfigMap/busy/settings');
    await sweepCluster(deps(), tickJob(0));
    // Registered after a tick, with an hour's interval: still checked at the next tick.
    await store.putApplication(
      ApplicationSchema.parse({
        apiVersion: 'driftless.dev/v1',
        kind: 'Application',
        metadata: { name: 'fresh' },
        spec: {
          source: { repoURL: REPO, revision: 'main', path: 'fresh' },
          destinations: [{ cluster: 'prod', namespace: 'fresh' }],
          syncPolicy: { interval: '1h' },
        },
      }),
    );
    const { enqueued, record } = await sweepCluster(deps(), tickJob(1));
    expect(enqueued).toEqual([{ app: 'fresh', reason: 'new' }]);
    expect(record?.counters).toMatchObject({ targets: 3, due: 1 });
  });

  it('checks a target with a longer interval once per interval, at a per-target offset', async () => {
    await trackedApp('slow', { intervalMs: 5 * MINUTE });
    let due = 0;
    for (let m = 1; m <= 20; m++) {
      if (isDue({ app: 'slow', intervalMs: 5 * MINUTE }, T0 + (m - 1) * MINUTE, T0 + m * MINUTE))
        due++;
    }
    expect(due).toBe(4);
    // Every tick for the default interval (a minute), and the first tick always.
    expect(isDue({ app: 'x', intervalMs: MINUTE }, T0, T0 + MINUTE)).toBe(true);
    expect(isDue({ app: 'x', intervalMs: 5 * MINUTE }, undefined, T0)).toBe(true);
    // Offsets spread apps with the same interval over the ticks.
    const firstDue = new Set<number>();
    for (let i = 0; i < 50; i++) {
      for (let m = 1; m <= 5; m++) {
        if (
          isDue({ app: `app-${i}`, intervalMs: 5 * MINUTE }, T0 + (m - 1) * MINUTE, T0 + m * MINUTE)
        ) {
          firstDue.add(m);
          break;
        }
      }
    }
    expect(firstDue.size).toBe(5);
    // Through the sweep: after a first tick, the next tick checks it only when due.
    await sweepCluster(deps(), tickJob(0));
    let checked = 0;
    for (let m = 1; m <= 10; m++) {
      const { record } = await sweepCluster(deps(), tickJob(m));
      checked += record?.counters.due ?? 0;
    }
    expect(checked).toBe(2);
  });

  it('queues at most the per-cluster limit, starting elsewhere each tick', async () => {
    const apps = Array.from({ length: 10 }, (_, i) => `app-${i}`);
    for (const app of apps) await trackedApp(app);
    for (const app of apps) cluster.objects.delete(`/ConfigMap/${app}/settings`);
    const firsts = new Set<string>();
    const seen = new Set<string>();
    for (let m = 0; m < 4; m++) {
      const { record, enqueued } = await sweepCluster(deps(), tickJob(m), { perClusterLimit: 3 });
      expect(enqueued).toHaveLength(3);
      expect(record?.counters.deferred).toBe(7);
      firsts.add(enqueued[0]?.app as string);
      for (const e of enqueued) seen.add(e.app);
    }
    expect(firsts.size).toBeGreaterThan(1);
    expect(seen.size).toBeGreaterThan(3);
  });

  it('ends in time when the API server hangs: nothing queued, the record says why', async () => {
    await trackedApp('a');
    const hung = new MemoryCluster();
    hung.listMetadata = () => new Promise(() => {}); // never answers
    const started = Date.now();
    const { enqueued, record } = await sweepCluster(
      { ...deps(), clusters: { connect: async () => hung } },
      tickJob(0),
      // The deadline leaves its reserve for queueing and the record: 300 ms of work.
      { deadline: Date.now() + DEADLINE_RESERVE_MS + 300 },
    );
    expect(enqueued).toEqual([]);
    expect(record?.error).toMatch(/cluster prod: .*no kind could be listed/);
    expect(record?.error).toMatch(/DeadlineExceeded|deadline/i);
    expect((await store.clusterSweepState('prod')).record?.tickAt).toBe(T0);
    // It gave up at the deadline, not at some client timeout much later.
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('carries targets over the limit to the next tick, even with a long interval', async () => {
    const apps = Array.from({ length: 5 }, (_, i) => `slow-${i}`);
    for (const app of apps) await trackedApp(app, { intervalMs: 60 * MINUTE });
    for (const app of apps) cluster.objects.delete(`/ConfigMap/${app}/settings`);
    const first = await sweepCluster(deps(), tickJob(0), { perClusterLimit: 2 });
    expect(first.record?.carried).toHaveLength(3);
    // An hour's interval: not due at the next tick, except the ones carried.
    const second = await sweepCluster(deps(), tickJob(1), { perClusterLimit: 2 });
    expect(second.record?.counters.due).toBe(3);
    expect(second.enqueued).toHaveLength(2);
    expect(second.enqueued.every((e) => first.record?.carried?.includes(e.app))).toBe(true);
    const third = await sweepCluster(deps(), tickJob(2), { perClusterLimit: 2 });
    const queuedOnce = [...first.enqueued, ...second.enqueued, ...third.enqueued].map((e) => e.app);
    expect(new Set(queuedOnce)).toEqual(new Set(apps));
  });

  it('does nothing for a tick it has swept already (a repeated message)', async () => {
    await trackedApp('a');
    cluster.objects.delete('/ConfigMap/a/settings');
    expect((await sweepCluster(deps(), tickJob(3))).enqueued).toHaveLength(1);
    const again = await sweepCluster(deps(), tickJob(3));
    const older = await sweepCluster(deps(), tickJob(2));
    expect(again).toEqual({ enqueued: [] });
    expect(older).toEqual({ enqueued: [] });
    expect(queue.sent).toHaveLength(1);
  });
});
