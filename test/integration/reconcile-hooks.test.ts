// Hooks and operations on the real control plane (the Job controller,
// scheduler and kwok's kubelets run the hooks' pods): hooks written with
// generateName, a hook of several phases, hook-only waves, a running hook
// that a push must not kill, one operation per target, retries bounded per
// commit, SyncFail once per failed operation, and what the sync status means
// while an operation waits or after it fails.

import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../lib/model/object.js';
import { EngineHarness, offsetClock } from '../support/engine.js';
import { uniqueName } from '../support/env.js';
import {
  eventually,
  failJobPod,
  objectApi,
  succeedJobPod,
  testNamespace,
} from '../support/kube.js';

const ARGO_HOOK = 'argocd.argoproj.io/hook';

/** A Job; `custom` leaves its pod to the test (kwok.x-k8s.io/status: custom) instead of completing it. */
function job(
  name: { name: string } | { generateName: string },
  annotations: Record<string, string>,
  opts: { custom?: boolean; image?: string } = {},
): string {
  const id = 'name' in name ? `name: ${name.name}` : `generateName: ${name.generateName}`;
  return `apiVersion: batch/v1
kind: Job
metadata:
  ${id}
  annotations:
${Object.entries(annotations)
  .map(([k, v]) => `    ${k}: "${v}"`)
  .join('\n')}
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: ${opts.custom ? '{ kwok.x-k8s.io/status: custom }' : '{}'}
    spec:
      restartPolicy: Never
      containers: [{ name: main, image: "${opts.image ?? 'busybox'}" }]
`;
}

function configMap(name: string, data: Record<string, string>, wave?: number): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
${wave === undefined ? '' : `  annotations: { argocd.argoproj.io/sync-wave: "${wave}" }\n`}data: ${JSON.stringify(data)}
`;
}

async function jobsIn(namespace: string): Promise<KubeObject[]> {
  const list = await objectApi().list('batch/v1', 'Job', namespace);
  return list.items as unknown as KubeObject[];
}

async function readJob(namespace: string, name: string): Promise<KubeObject | undefined> {
  return (await jobsIn(namespace)).find((j) => j.metadata.name === name);
}

/**
 * An app whose PreSync hook `migrate` the test fails (its pod is played by
 * failJobPod), with a SyncFail hook and `retryLimit` retries 10 minutes apart,
 * on a clock the test moves (the backoff passes when the test says so, not
 * while the machine is busy).
 */
async function failingMigrationApp(prefix: string, retryLimit: number) {
  const ns = await testNamespace(prefix);
  const clock = offsetClock();
  const h = await EngineHarness.create(uniqueName('app'), { clock });
  await h.repo.commit({
    'cm.yaml': configMap('settings', { rev: '1' }),
    'migrate.yaml': job({ name: 'migrate' }, { [ARGO_HOOK]: 'PreSync' }, { custom: true }),
    'notify.yaml': job({ name: 'notify' }, { [ARGO_HOOK]: 'SyncFail' }),
  });
  await h.setApp({
    namespace: ns,
    syncPolicy: {
      retry: { limit: retryLimit, backoff: { duration: '10m', factor: 1, maxDuration: '10m' } },
    },
  });
  return { ns, clock, h };
}

/** A Deployment no node can run: Progressing for good. */
const STUCK_DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: { name: stuck }
spec:
  replicas: 1
  selector: { matchLabels: { app: stuck } }
  template:
    metadata: { labels: { app: stuck } }
    spec:
      nodeSelector: { driftless.dev/no-such-node: "true" }
      containers: [{ name: web, image: "web:1" }]
`;

function hookEvents(h: EngineHarness, phase: string, action = 'created') {
  return h.events.filter((e) => e.type === 'hook' && e.phase === phase && e.action === action) as {
    key: string;
  }[];
}

describe('hooks', () => {
  it('names a generateName hook per operation, records it, and finds it again instead of creating another', async () => {
    const ns = await testNamespace('hookgen');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'cm.yaml': configMap('settings', { mode: 'a' }),
      'migrate.yaml': job(
        { generateName: 'migrate-' },
        { [ARGO_HOOK]: 'PreSync' },
        { custom: true },
      ),
    });
    await h.setApp({ namespace: ns });

    const first = await h.reconcile({ operationId: 'op-gen-1' }, { waitBudgetMs: 1_500 });
    expect(first.error).toBeUndefined();
    expect(first.status.operation?.phase).toBe('Running');
    const recorded = first.status.operation?.progress?.startedHooks ?? [];
    expect(recorded).toHaveLength(1);
    expect(recorded[0]?.phase).toBe('PreSync');
    const name = recorded[0]?.key.split('/').at(-1) as string;
    expect(name).toMatch(/^migrate-[0-9a-f]{8}-presync$/);
    const created = await readJob(ns, name);
    expect(created?.metadata).toMatchObject({ name, namespace: ns });

    // The next invocation waits on the hook it recorded: no second Job.
    const second = await h.reconcile({ trigger: 'health-check' }, { waitBudgetMs: 1_000 });
    expect(second.status.operation?.phase).toBe('Running');
    const jobs = await jobsIn(ns);
    expect(jobs.map((j) => j.metadata.name)).toEqual([name]);
    expect(jobs[0]?.metadata.uid).toBe(created?.metadata.uid);

    await succeedJobPod(ns, name);
    const done = await h.reconcileUntilSettled({ trigger: 'health-check' });
    expect(done.status.operation?.phase).toBe('Succeeded');
    expect(done.status.sync).toBe('Synced');
    expect((await jobsIn(ns)).map((j) => j.metadata.name)).toEqual([name]);
  });

  it('runs a hook in each phase it lists, and Sync hooks of a wave that has no resources', async () => {
    const ns = await testNamespace('hookphases');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'cm.yaml': configMap('settings', { mode: 'a' }),
      'check.yaml': job({ name: 'check' }, { [ARGO_HOOK]: 'PreSync,PostSync' }),
      'late.yaml': job(
        { name: 'late' },
        { [ARGO_HOOK]: 'Sync', 'argocd.argoproj.io/sync-wave': '5' },
      ),
    });
    await h.setApp({ namespace: ns });
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.operation?.phase).toBe('Succeeded');
    const checkKey = `batch/Job/${ns}/check`;
    expect(hookEvents(h, 'PreSync').map((e) => e.key)).toEqual([checkKey]);
    expect(hookEvents(h, 'PostSync').map((e) => e.key)).toEqual([checkKey]);
    expect(hookEvents(h, 'Sync').map((e) => e.key)).toEqual([`batch/Job/${ns}/late`]);
    // The hook-only wave 5 ran after wave 0 was applied, before PostSync.
    const at = (pred: (e: (typeof h.events)[number]) => boolean) => h.events.findIndex(pred);
    const cmApplied = at((e) => e.type === 'applied' && e.key.endsWith('/settings'));
    const lateCreated = at((e) => e.type === 'hook' && e.key.endsWith('/late'));
    const postCreated = at(
      (e) => e.type === 'hook' && e.phase === 'PostSync' && e.action === 'created',
    );
    expect(cmApplied).toBeGreaterThanOrEqual(0);
    expect(lateCreated).toBeGreaterThan(cmApplied);
    expect(postCreated).toBeGreaterThan(lateCreated);
    expect((await readJob(ns, 'late'))?.metadata.annotations?.[ARGO_HOOK]).toBe('Sync');
  });
});

describe('operations', () => {
  it('never deletes a running hook: a push waits for the running operation, which then syncs it', async () => {
    const ns = await testNamespace('hookrun');
    const h = await EngineHarness.create(uniqueName('app'));
    const first = await h.repo.commit({
      'cm.yaml': configMap('settings', { rev: '1' }),
      'migrate.yaml': job({ name: 'migrate' }, { [ARGO_HOOK]: 'PreSync' }, { custom: true }),
    });
    await h.setApp({ namespace: ns });
    const started = await h.reconcile({}, { waitBudgetMs: 1_500 });
    expect(started.status.operation?.phase).toBe('Running');
    const running = await readJob(ns, 'migrate');
    expect(running?.metadata.uid).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );

    // A push while the hook runs (the new commit's hook would not block).
    const second = await h.repo.commit({
      'cm.yaml': configMap('settings', { rev: '2' }),
      'migrate.yaml': job({ name: 'migrate' }, { [ARGO_HOOK]: 'PreSync' }, { image: 'busybox:2' }),
    });
    const pushed = await h.reconcile({ trigger: 'webhook' }, { waitBudgetMs: 1_000 });
    expect(pushed.status.operation?.phase).toBe('Running');
    expect(pushed.status.operation?.id).toBe(started.status.operation?.id);
    expect(pushed.status.operation?.revision).toBe(first);
    expect(pushed.status.wantedRevision).toBe(second);
    expect(pushed.status.conditions.map((c) => c.type)).toContain('RevisionWaiting');
    expect((await readJob(ns, 'migrate'))?.metadata.uid).toBe(running?.metadata.uid);

    // The hook finishes: the operation ends on its revision, then the pushed one syncs.
    await succeedJobPod(ns, 'migrate');
    const settled = await h.reconcileUntilSettled({ trigger: 'health-check' });
    expect(settled.error).toBeUndefined();
    expect(settled.status.operation?.phase).toBe('Succeeded');
    expect(settled.status.operation?.revision).toBe(second);
    expect(settled.status.syncedRevision).toBe(second);
    const history = await h.store.listHistory(h.target);
    expect(history.map((o) => [o.revision, o.phase])).toEqual([
      [second, 'Succeeded'],
      [first, 'Succeeded'],
    ]);
    const cm = await objectApi().read({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: ns },
    });
    expect((cm as unknown as { data: Record<string, string> }).data.rev).toBe('2');
    // The finished run was deleted before the new one (BeforeHookCreation), not the running one.
    const rerun = await readJob(ns, 'migrate');
    expect(rerun?.metadata.uid).not.toBe(running?.metadata.uid);
  });

  it('waits for a previous run that is still running instead of deleting it (BeforeHookCreation)', async () => {
    const ns = await testNamespace('hookbhc');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'cm.yaml': configMap('settings', { rev: '1' }),
      'migrate.yaml': job({ name: 'migrate' }, { [ARGO_HOOK]: 'PreSync' }, { custom: true }),
    });
    // The first operation gives up on its hook (healthTimeout) while the Job still runs.
    await h.setApp({ namespace: ns, syncPolicy: { healthTimeout: '2s', retry: { limit: 0 } } });
    await h.reconcile({}, { waitBudgetMs: 500 });
    const running = await readJob(ns, 'migrate');
    const gaveUp = await eventually('the operation to give up on its hook', async () => {
      const o = await h.reconcile({ trigger: 'health-check' }, { waitBudgetMs: 500 });
      return o.status.operation?.phase === 'Failed' ? o : undefined;
    });
    expect(gaveUp.status.operation?.reason).toBe('HealthTimeout');

    // A manual sync: the previous run is not finished, so it is waited on, not deleted.
    const manual = await h.reconcile({ trigger: 'manual' }, { waitBudgetMs: 1_000 });
    expect(manual.status.operation?.phase).toBe('Running');
    expect(manual.status.operation?.message).toMatch(
      /migrate \(its previous run is still running\)/,
    );
    expect((await readJob(ns, 'migrate'))?.metadata.uid).toBe(running?.metadata.uid);
    expect(hookEvents(h, 'PreSync', 'deleted')).toHaveLength(0);

    // Once it finished, it is deleted and created again for this operation.
    await succeedJobPod(ns, 'migrate');
    // As soon as the Job controller has marked it complete (however long that takes).
    const next = await eventually('the finished run to be deleted and created again', async () => {
      const o = await h.reconcile({ trigger: 'health-check' }, { waitBudgetMs: 1_000 });
      return hookEvents(h, 'PreSync', 'deleted').length > 0 ? o : undefined;
    });
    expect(next.status.operation?.id).toBe(manual.status.operation?.id);
    expect(hookEvents(h, 'PreSync', 'deleted')).toHaveLength(1);
    const rerun = await readJob(ns, 'migrate');
    expect(rerun?.metadata.uid).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    expect(rerun?.metadata.uid).not.toBe(running?.metadata.uid);
  });

  it('retries a failed commit up to retry.limit, runs SyncFail once, then waits for a new commit, a change to the source or a manual sync', async () => {
    const { ns, clock, h } = await failingMigrationApp('hookretry', 1);

    // Attempt 1 fails: a retry is scheduled, SyncFail does not run yet.
    const [attempt1] = await Promise.all([h.reconcile(), failJobPod(ns, 'migrate', 'attempt 1')]);
    expect(attempt1.status.operation).toMatchObject({
      phase: 'Running',
      attempt: 2,
      reason: 'HookFailed',
    });
    expect(attempt1.status.conditions.map((c) => c.type)).toContain('SyncRetrying');
    expect(attempt1.requeueAfterMs).toBeGreaterThan(0);
    expect(hookEvents(h, 'SyncFail')).toHaveLength(0);
    // Before its backoff is over, nothing happens: no second PreSync hook.
    const early = await h.reconcile({ trigger: 'sweep' });
    expect(early.status.operation).toMatchObject({ phase: 'Running', attempt: 2 });
    expect(hookEvents(h, 'PreSync')).toHaveLength(1);
    expect(early.requeueAfterMs).toBeGreaterThan(0);
    expect(early.requeueAfterMs).toBeLessThanOrEqual(10 * 60_000);
    clock.advance(early.requeueAfterMs ?? 0);

    // Attempt 2 (the last) fails: the operation fails and its SyncFail hook runs, once.
    const [attempt2] = await Promise.all([
      h.reconcile({ trigger: 'health-check' }),
      failJobPod(ns, 'migrate', 'attempt 2'),
    ]);
    expect(attempt2.status.operation).toMatchObject({
      phase: 'Failed',
      attempt: 2,
      reason: 'HookFailed',
    });
    expect(hookEvents(h, 'SyncFail')).toHaveLength(1);
    expect(hookEvents(h, 'PreSync')).toHaveLength(2);

    // The same commit and source are not synced again automatically.
    const client = await h.client();
    client.resetStats();
    const idle = await h.reconcile({ trigger: 'sweep' });
    expect(idle.status.operation?.id).toBe(attempt2.status.operation?.id);
    expect(client.stats.byVerb.apply).toBeUndefined();
    expect(client.stats.byVerb.delete).toBeUndefined();
    expect(hookEvents(h, 'PreSync')).toHaveLength(2);
    const waiting = idle.status.conditions.find((c) => c.type === 'SyncError');
    expect(waiting?.message).toMatch(
      /failed after 2 attempts: .*migrate.*waiting for a new commit/,
    );

    // A manual sync runs it again: one operation, no retries, SyncFail once more.
    const [manual] = await Promise.all([
      h.reconcile({ trigger: 'manual', operationId: 'manual-1' }),
      failJobPod(ns, 'migrate', 'manual'),
    ]);
    expect(manual.status.operation).toMatchObject({ id: 'manual-1', phase: 'Failed', attempt: 1 });
    expect(hookEvents(h, 'SyncFail')).toHaveLength(2);

    // The same commit under changed source parameters (an explicit type that
    // renders the same) is not the sync that failed: automation runs it.
    await h.setApp({
      namespace: ns,
      source: { type: 'directory' },
      syncPolicy: {
        retry: { limit: 1, backoff: { duration: '10m', factor: 1, maxDuration: '10m' } },
      },
    });
    const [reparam] = await Promise.all([
      h.reconcile({ trigger: 'sweep' }),
      succeedJobPod(ns, 'migrate'),
    ]);
    expect(reparam.error).toBeUndefined();
    expect(reparam.status.operation).toMatchObject({ trigger: 'sweep', phase: 'Succeeded' });
    expect(reparam.status.operation?.id).not.toBe('manual-1');
    expect(hookEvents(h, 'PreSync')).toHaveLength(4);
    expect(reparam.status.conditions.map((c) => c.type)).not.toContain('SyncError');

    // A new commit is synced automatically.
    await h.repo.commit({
      'migrate.yaml': job({ name: 'migrate' }, { [ARGO_HOOK]: 'PreSync' }),
    });
    const fixed = await h.reconcileUntilSettled({ trigger: 'webhook' });
    expect(fixed.status.operation?.phase).toBe('Succeeded');
    expect(fixed.status.conditions.map((c) => c.type)).not.toContain('SyncError');
  });

  it('a termination asked for during a retry backoff ends the operation at once: SyncFail runs, and a new commit is synced', async () => {
    const { ns, h, clock } = await failingMigrationApp('hookterm', 3);
    const [attempt1] = await Promise.all([h.reconcile(), failJobPod(ns, 'migrate', 'attempt 1')]);
    const op = attempt1.status.operation;
    expect(op).toMatchObject({ phase: 'Running', attempt: 2 });
    expect(op?.nextAttemptAt).toBeDefined();

    // Asked to end while it waits out a 10-minute backoff (the clock does not move):
    // Argo CD terminates a retrying operation at once, so does Driftless.
    await h.store.requestTermination(h.target, {
      operationId: op?.id ?? '',
      by: 'someone',
      at: clock.now(),
    });
    const ended = await h.reconcile({ trigger: 'health-check', operationId: op?.id });
    expect(ended.status.operation).toMatchObject({
      id: op?.id,
      phase: 'Failed',
      reason: 'Terminated',
    });
    expect(hookEvents(h, 'SyncFail')).toHaveLength(1);
    expect(hookEvents(h, 'PreSync')).toHaveLength(1);

    // The new commit that waited behind it is synced.
    await h.repo.commit({
      'migrate.yaml': job({ name: 'migrate' }, { [ARGO_HOOK]: 'PreSync' }),
    });
    const next = await h.reconcileUntilSettled({ trigger: 'webhook' });
    expect(next.status.operation?.phase).toBe('Succeeded');
    expect(next.status.operation?.id).not.toBe(op?.id);
  });
});

describe('status semantics', () => {
  it('ends the operation when the last wave is applied; an HPA without metrics is Degraded and the app stays Synced', async () => {
    const ns = await testNamespace('hpa');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'deploy.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 1
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, image: "web:1", resources: { requests: { cpu: 100m } } }] }
`,
      'hpa.yaml': `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: web }
spec:
  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: web }
  minReplicas: 1
  maxReplicas: 3
  metrics:
    - type: Resource
      resource: { name: cpu, target: { type: Utilization, averageUtilization: 80 } }
`,
    });
    await h.setApp({ namespace: ns });
    const synced = await h.reconcile({}, { waitBudgetMs: 10_000 });
    expect(synced.error).toBeUndefined();
    expect(synced.status.operation?.phase).toBe('Succeeded');
    expect(synced.status.sync).toBe('Synced');
    // Health keeps being evaluated after the operation.
    const degraded = await eventually('the HPA to report it cannot read metrics', async () => {
      const o = await h.reconcile({ trigger: 'health-check' });
      return o.status.health === 'Degraded' ? o : undefined;
    });
    const hpa = degraded.status.resources.find((r) => r.kind === 'HorizontalPodAutoscaler');
    expect(hpa?.health?.status).toBe('Degraded');
    expect(hpa?.health?.message).toMatch(/ScalingActive.*FailedGetResourceMetric/);
    expect(degraded.status.sync).toBe('Synced');
    expect(degraded.status.operation?.id).toBe(synced.status.operation?.id);
  });

  it('with a later wave, waits for health up to healthTimeout, reporting the comparison meanwhile', async () => {
    const ns = await testNamespace('wavewait');
    // healthTimeout passes when the test moves this clock on, not while the machine is busy.
    const clock = offsetClock();
    const h = await EngineHarness.create(uniqueName('app'), { clock });
    await h.repo.commit({
      // Never schedulable: Progressing for good, so wave 1 waits on it.
      'deploy.yaml': STUCK_DEPLOYMENT,
      'later.yaml': configMap('later', { k: 'v' }, 1),
    });
    await h.setApp({ namespace: ns, syncPolicy: { healthTimeout: '10m', retry: { limit: 0 } } });
    const waiting = await h.reconcile({}, { waitBudgetMs: 1_000 });
    expect(waiting.status.operation?.phase).toBe('Running');
    expect(waiting.status.operation?.message).toMatch(/^waiting for wave 0: .*stuck/);
    // The comparison: wave 0 applied, wave 1 not yet, so OutOfSync while the operation waits.
    const byName = new Map(waiting.status.resources.map((r) => [r.name, r.sync]));
    expect(byName.get('stuck')).toBe('Synced');
    expect(byName.get('later')).toBe('Missing');
    expect(waiting.status.sync).toBe('OutOfSync');
    clock.advance(10 * 60_000);
    const failed = await eventually(
      'the operation to give up on wave 0',
      async () => {
        const o = await h.reconcile({ trigger: 'health-check' }, { waitBudgetMs: 1_000 });
        return o.status.operation?.phase === 'Failed' ? o : undefined;
      },
      30_000,
    );
    expect(failed.status.operation?.reason).toBe('HealthTimeout');
    expect(failed.status.operation?.message).toMatch(/waiting for wave 0: .*healthTimeout/);
    expect(failed.status.sync).toBe('OutOfSync');
    expect(h.events.some((e) => e.type === 'applied' && e.key.endsWith('/later'))).toBe(false);
    const cms = await objectApi().list('v1', 'ConfigMap', ns);
    expect(cms.items.map((c) => c.metadata?.name)).not.toContain('later');
  });

  it('with PostSync hooks, waits for health up to healthTimeout, reporting the comparison meanwhile', async () => {
    const ns = await testNamespace('healthto');
    // healthTimeout passes when the test moves this clock on, not while the machine is busy.
    const clock = offsetClock();
    const h = await EngineHarness.create(uniqueName('app'), { clock });
    await h.repo.commit({
      // Never schedulable: Progressing for good.
      'deploy.yaml': STUCK_DEPLOYMENT,
      'smoke.yaml': job({ name: 'smoke' }, { [ARGO_HOOK]: 'PostSync' }),
    });
    await h.setApp({ namespace: ns, syncPolicy: { healthTimeout: '10m', retry: { limit: 0 } } });
    const waiting = await h.reconcile({}, { waitBudgetMs: 1_000 });
    expect(waiting.status.operation?.phase).toBe('Running');
    expect(waiting.status.operation?.message).toMatch(/stuck/);
    // Everything is applied: the comparison says Synced while the operation waits.
    expect(waiting.status.sync).toBe('Synced');
    clock.advance(10 * 60_000);
    const failed = await eventually(
      'the operation to give up on health',
      async () => {
        const o = await h.reconcile({ trigger: 'health-check' }, { waitBudgetMs: 1_000 });
        return o.status.operation?.phase === 'Failed' ? o : undefined;
      },
      30_000,
    );
    expect(failed.status.operation?.reason).toBe('HealthTimeout');
    expect(failed.status.operation?.message).toMatch(/healthTimeout/);
    expect(failed.status.sync).toBe('Synced');
    expect(await readJob(ns, 'smoke')).toBeUndefined();
  });
});
