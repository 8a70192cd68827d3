import { describe, expect, it } from 'vitest';
import { DriftlessError } from '../../lib/errors.js';
import { MemoryLeaseManager } from '../../lib/local/lease.js';
import { MemoryStore } from '../../lib/local/store.js';
import { parseApplication, parseCluster } from '../../lib/model/application.js';
import type { OperationResult, TargetStatus } from '../../lib/model/status.js';
import type { GitSource } from '../../lib/ports/git.js';
import type { ReconcileJob } from '../../lib/ports/queue.js';
import { noReporter } from '../../lib/ports/report.js';
import { SourceCache } from '../../lib/source/index.js';
import { processJob, type WorkerDeps } from '../../lib/worker.js';
import { RecordingQueue } from '../support/recording-queue.js';

const target = { app: 'web', cluster: 'prod' };

/** Git that is down: every reconcile fails before touching the cluster (retryable). */
class DownGit implements GitSource {
  calls = 0;
  async resolve(): Promise<string> {
    this.calls++;
    throw new DriftlessError('SourceUnavailable', 'git is down');
  }
  async checkout(): Promise<never> {
    throw new Error('not reached');
  }
}

async function setup(retryLimit: number) {
  const store = new MemoryStore();
  // The leases' clock, moved on by a test (a lease expires when the test says).
  let now = Date.now();
  const clock = {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
  const leases = new MemoryLeaseManager(store, clock);
  await store.putCluster(
    parseCluster({
      apiVersion: 'driftless.dev/v1',
      kind: 'Cluster',
      metadata: { name: 'prod' },
      spec: { kubeconfig: { path: '/nonexistent' } },
    }),
  );
  await store.putApplication(
    parseApplication({
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name: 'web' },
      spec: {
        source: { repoURL: 'https://git.example.com/web.git', revision: 'main', path: '.' },
        destinations: [{ cluster: 'prod', namespace: 'web' }],
        syncPolicy: { retry: { limit: retryLimit } },
      },
    }),
  );
  const git = new DownGit();
  const queue = new RecordingQueue();
  const deps: WorkerDeps = {
    catalog: store,
    leases,
    queue,
    git,
    renderer: new SourceCache(),
    clusters: {
      connect: async () => {
        throw new Error('no cluster in this test');
      },
    },
    reporter: noReporter,
  };
  return { store, leases, git, queue, deps, clock };
}

const job: ReconcileJob = {
  app: 'web',
  cluster: 'prod',
  trigger: 'webhook',
  enqueuedAt: '2026-01-01T00:00:00.000Z',
};

function runningStatus(): TargetStatus {
  const op: OperationResult = {
    id: 'op-1',
    trigger: 'manual',
    revision: 'abc123',
    phase: 'Running',
    message: 'waiting for wave 0',
    startedAt: '2026-01-01T00:00:00.000Z',
    attempt: 1,
    applied: 1,
    pruned: 0,
    drifted: 1,
    progress: { stage: 'Waves', startedHooks: [], wave: 0 },
  };
  return {
    ...target,
    sync: 'OutOfSync',
    health: 'Progressing',
    resources: [],
    inventory: [],
    conditions: [],
    syncedRevision: 'older',
    operation: op,
  };
}

describe('processJob', () => {
  it('dead-letters at the start an attempt past the budget whose last attempt never reported, without reconciling', async () => {
    const { store, leases, git, deps, clock } = await setup(2);
    const lease = await leases.acquire(target, 'killed-worker', 1);
    await store.putTargetStatus(runningStatus(), lease?.fencingToken ?? 1);
    // Its check's view, as the sweep reads it: an operation runs (the sweep leaves it to its re-checks).
    await store.putObserved(target, { revision: 'abc123', running: true, objects: [] });
    clock.advance(5); // the killed worker's lease expires
    // Attempts 1..3 (limit 2) were all received; the 4th arrives: the 3rd never reported.
    const outcome = await processJob(deps, job, 4);
    expect(outcome.kind).toBe('dead');
    expect(git.calls).toBe(0);
    const status = await store.getTargetStatus(target);
    expect(status?.health).toBe('Degraded');
    expect(status?.healthMessage).toMatch(/gave up after 3 attempts: .*ended without reporting/);
    // The operation the killed attempts left Running ends, and is in the history.
    expect(status?.operation).toMatchObject({ id: 'op-1', phase: 'Error' });
    expect((await store.listHistory(target)).map((o) => o.id)).toEqual(['op-1']);
    // The sweep's view no longer says it runs (the sweep would leave it alone for good).
    const [swept] = (await store.clusterSweepState(target.cluster)).targets;
    expect(swept?.observed).toEqual({ revision: '', objects: [] });
  });

  it('defers a job whose lease is held without spending an attempt', async () => {
    const { leases, git, queue, deps } = await setup(3);
    await leases.acquire(target, 'another-worker', 60_000);
    const outcome = await processJob(deps, { ...job, priorAttempts: 1 }, 2);
    expect(outcome).toMatchObject({ kind: 'deferred' });
    expect(git.calls).toBe(0);
    // Sent again carrying the attempts it spent: 1 before this message, 1 received.
    expect(queue.delayed).toHaveLength(1);
    expect(queue.delayed[0]?.job).toMatchObject({ app: 'web', priorAttempts: 2 });
  });

  it('marks the target Degraded by changing only health and conditions of the newest status', async () => {
    const { store, leases, deps } = await setup(0);
    // Between the failed reconcile and the dead-lettering, another worker writes a newer status.
    const release = leases.release.bind(leases);
    let raced = false;
    leases.release = async (lease) => {
      await release(lease);
      if (raced) return;
      raced = true;
      const other = await leases.acquire(target, 'other-worker', 60_000);
      const current = (await store.getTargetStatus(target)) as TargetStatus;
      await store.putTargetStatus(
        { ...current, syncedRevision: 'newer-commit', wantedRevision: 'newer-commit' },
        other?.fencingToken ?? 0,
      );
      if (other) await release(other);
    };
    const outcome = await processJob(deps, job, 1);
    expect(outcome.kind).toBe('dead');
    const status = await store.getTargetStatus(target);
    expect(status?.health).toBe('Degraded');
    expect(status?.conditions.map((c) => c.type)).toContain('RetriesExhausted');
    // The newer status stands: only health and conditions changed.
    expect(status?.syncedRevision).toBe('newer-commit');
    expect(status?.wantedRevision).toBe('newer-commit');
  });
});
