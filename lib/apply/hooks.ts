// Sync hooks: objects (usually Jobs) annotated driftless.dev/hook or
// argocd.argoproj.io/hook that run around a sync instead of being kept in
// sync: PreSync before anything is applied, Sync with their wave, PostSync once
// everything is applied and healthy, SyncFail when the operation fails. A hook
// listed for several phases runs in each.
//
// A hook written with `generateName` gets a name per operation attempt and
// phase, derived from the operation's id (Argo CD derives it from the
// revision, phase and operation start): a retried step of the same attempt
// computes the same name and finds the hook it created instead of creating
// another. Every hook created is recorded (`started`) and saved in the
// operation's progress, so the next invocation only waits on it.
//
// Delete policies:
//   BeforeHookCreation (default)  delete the previous run before creating, once it finished
//   HookSucceeded / HookFailed    delete after success / failure
// A hook that is still running is never deleted or recreated: a previous run
// that has not finished is waited on. Waiting is bounded: a hook still running
// when the budget is spent is reported as pending and checked again later.

import { createHash } from 'node:crypto';
import { DriftlessError } from '../errors.js';
import { evaluateHealth } from '../health/index.js';
import { type HookPhase, hookRunOf, withHookRun } from '../model/annotations.js';
import { describeRef, groupOf, type KubeObject, objectKey, parseRefKey } from '../model/object.js';
import type { StartedHook } from '../model/status.js';
import type { ClusterClient } from '../ports/cluster.js';
import type { HookObject } from './plan.js';

/** How long a hook's previous run may take to go away before the hook is created again. */
export const HOOK_DELETE_TIMEOUT_MS = 30_000;
/** How often that is checked. */
export const HOOK_DELETE_POLL_MS = 200;
/** How often a running hook is looked at while the invocation waits for it. */
export const HOOK_POLL_MS = 500;
/** When to look again at a hook still running as the invocation's budget runs out. */
export const HOOK_RECHECK_MS = 5_000;
/** Longest generated hook name: a Job's name ends up in a label value (63 characters). */
export const HOOK_NAME_MAX = 63;

export type HookOutcome =
  | { state: 'succeeded' }
  | { state: 'failed'; message: string; key: string }
  | { state: 'pending'; message: string; recheckAfterMs: number };

/** The operation attempt hooks run for: what generated names derive from. */
export interface HookRun {
  operationId: string;
  attempt: number;
}

export interface HookRunOptions {
  run: HookRun;
  /** Hooks already created by this attempt (by phase and the created object's key): only waited on. */
  started: StartedHook[];
  /** How long to wait for hooks in this invocation before returning pending. */
  waitBudgetMs: number;
  force: boolean;
  /** Default HOOK_POLL_MS. */
  pollMs?: number;
  onEvent?: (event: {
    key: string;
    phase: HookPhase;
    action: 'created' | 'succeeded' | 'failed' | 'deleted' | 'waiting';
  }) => void;
}

/** The object a hook creates in one phase of one operation attempt, and its key. */
export function hookInstance(
  hook: HookObject,
  phase: HookPhase,
  run: HookRun,
): { key: string; object: KubeObject; run: string } {
  const runId = `${run.operationId}#${run.attempt}/${phase}`;
  const { name, generateName } = hook.object.metadata;
  if (name || !generateName) {
    return { key: hook.key, object: withHookRun(hook.object, runId), run: runId };
  }
  const digest = createHash('sha256')
    .update(`${run.operationId}#${run.attempt}`)
    .digest('hex')
    .slice(0, 8);
  const suffix = `${digest}-${phase.toLowerCase()}`;
  const object = withHookRun(
    {
      ...hook.object,
      metadata: {
        ...hook.object.metadata,
        name: `${generateName.slice(0, HOOK_NAME_MAX - suffix.length)}${suffix}`,
      },
    },
    runId,
  );
  return { key: objectKey(object), object, run: runId };
}

/** Where a hook's run stands, by the object's kind: a Pod by its phase, others by their health. */
export function hookRunState(live: KubeObject): {
  state: 'running' | 'succeeded' | 'failed';
  message?: string;
} {
  if (live.kind === 'Pod' && groupOf(live.apiVersion) === '') {
    const phase = (live.status as { phase?: string } | undefined)?.phase;
    if (phase === 'Succeeded') return { state: 'succeeded' };
    if (phase === 'Failed') return { state: 'failed', message: 'pod failed' };
    return { state: 'running' };
  }
  const health = evaluateHealth(live);
  if (health.status === 'Healthy') return { state: 'succeeded', message: health.message };
  if (health.status === 'Degraded') return { state: 'failed', message: health.message };
  return { state: 'running', message: health.message };
}

function refOfKey(key: string, apiVersion: string) {
  return { ...parseRefKey(key), apiVersion };
}

async function deleteAndWait(
  client: ClusterClient,
  ref: ReturnType<typeof refOfKey>,
  timeoutMs: number,
): Promise<void> {
  if (!(await client.delete(ref, { propagationPolicy: 'Background' }))) return;
  const deadline = Date.now() + timeoutMs;
  while (await client.get(ref.apiVersion, ref.kind, ref.namespace, ref.name)) {
    if (Date.now() > deadline) {
      throw new DriftlessError(
        'HookFailed',
        `previous run of hook ${describeRef(ref)} is still being deleted`,
        { object: describeRef(ref) },
      );
    }
    await new Promise((r) => setTimeout(r, HOOK_DELETE_POLL_MS));
  }
}

/** Runs (or keeps waiting on) the hooks of one phase, wave by wave. */
export async function runHooks(
  client: ClusterClient,
  hooks: HookObject[],
  phase: HookPhase,
  opts: HookRunOptions,
  /** Only the hooks of this wave (Sync hooks run with their wave). */
  onlyWave?: number,
): Promise<HookOutcome> {
  const ofPhase = hooks.filter(
    (h) => h.phases.includes(phase) && (onlyWave === undefined || h.wave === onlyWave),
  );
  const deadline = Date.now() + opts.waitBudgetMs;
  const isStarted = (key: string) => opts.started.some((s) => s.phase === phase && s.key === key);
  const waves = [...new Set(ofPhase.map((h) => h.wave))].sort((a, b) => a - b);
  for (const wave of waves) {
    const group = ofPhase.map((hook) => ({ hook, ...hookInstance(hook, phase, opts.run) }));
    const inWave = group.filter((g) => g.hook.wave === wave);
    const done = new Set<string>();
    // Previous runs still going (from an earlier operation): waited on, never deleted.
    const blocked = new Map<string, string>();
    while (done.size < inWave.length) {
      for (const { hook, key, object, run } of inWave) {
        if (done.has(key) || isStarted(key)) continue;
        const ref = refOfKey(key, object.apiVersion);
        const live = await client.get(ref.apiVersion, ref.kind, ref.namespace, ref.name);
        if (live && hookRunOf(live) === run) {
          // Created by this very run (a step retried before its progress was saved): adopt it.
          opts.started.push({ phase, key });
          continue;
        }
        if (live && hook.deletePolicies.includes('BeforeHookCreation')) {
          const previous = hookRunState(live);
          if (previous.state === 'running') {
            if (!blocked.has(key)) opts.onEvent?.({ key, phase, action: 'waiting' });
            blocked.set(key, describeRef(ref));
            continue;
          }
          await deleteAndWait(client, ref, HOOK_DELETE_TIMEOUT_MS);
          opts.onEvent?.({ key, phase, action: 'deleted' });
        }
        blocked.delete(key);
        await client.apply(object, { force: opts.force });
        opts.started.push({ phase, key });
        opts.onEvent?.({ key, phase, action: 'created' });
      }
      for (const { hook, key, object } of inWave) {
        if (done.has(key) || !isStarted(key)) continue;
        const ref = refOfKey(key, object.apiVersion);
        const live = await client.get(ref.apiVersion, ref.kind, ref.namespace, ref.name);
        if (!live) {
          // Deleted by its HookSucceeded policy in an earlier invocation: it ran.
          done.add(key);
          continue;
        }
        const run = hookRunState(live);
        if (run.state === 'succeeded') {
          done.add(key);
          opts.onEvent?.({ key, phase, action: 'succeeded' });
          if (hook.deletePolicies.includes('HookSucceeded')) {
            await client.delete(ref, { propagationPolicy: 'Background' });
            opts.onEvent?.({ key, phase, action: 'deleted' });
          }
        } else if (run.state === 'failed') {
          opts.onEvent?.({ key, phase, action: 'failed' });
          if (hook.deletePolicies.includes('HookFailed')) {
            await client.delete(ref, { propagationPolicy: 'Background' });
            opts.onEvent?.({ key, phase, action: 'deleted' });
          }
          return {
            state: 'failed',
            key,
            message: `${phase} hook ${describeRef(ref)} failed${run.message ? `: ${run.message}` : ''}`,
          };
        }
      }
      if (done.size === inWave.length) break;
      if (Date.now() > deadline) {
        const waiting = inWave
          .filter((g) => !done.has(g.key))
          .map((g) =>
            blocked.has(g.key)
              ? `${blocked.get(g.key)} (its previous run is still running)`
              : describeRef(parseRefKey(g.key)),
          );
        return {
          state: 'pending',
          message: `waiting for ${phase} hook ${waiting.join(', ')}`,
          recheckAfterMs: HOOK_RECHECK_MS,
        };
      }
      await new Promise((r) => setTimeout(r, opts.pollMs ?? HOOK_POLL_MS));
    }
  }
  return { state: 'succeeded' };
}
