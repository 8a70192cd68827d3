// Sync hooks: objects (usually Jobs) annotated driftless.dev/hook that run
// around a sync instead of being kept in sync: PreSync before anything is
// applied, Sync with the waves, PostSync once everything is applied and
// healthy, SyncFail when the sync fails. Delete policies:
//   BeforeHookCreation (default)  delete the previous run before creating
//   HookSucceeded / HookFailed    delete after success / failure
// Waiting is bounded: a hook still running when the budget is spent is
// reported as pending and checked again later, never recreated.

import { DriftlessError } from '../errors.js';
import { evaluateHealth } from '../health/index.js';
import type { HookPhase } from '../model/annotations.js';
import { describeRef, type KubeObject, parseRefKey } from '../model/object.js';
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

export type HookOutcome =
  | { state: 'succeeded' }
  | { state: 'failed'; message: string; key: string }
  | { state: 'pending'; message: string; recheckAfterMs: number };

export interface HookRunOptions {
  /** Hooks of this phase already created by an earlier attempt (by key): only waited on. */
  started: Set<string>;
  /** How long to wait for hooks in this invocation before returning pending. */
  waitBudgetMs: number;
  force: boolean;
  /** Default HOOK_POLL_MS. */
  pollMs?: number;
  onEvent?: (event: {
    key: string;
    phase: HookPhase;
    action: 'created' | 'succeeded' | 'failed' | 'deleted';
  }) => void;
}

/** The hook's reference with its apiVersion, as delete and get take it. */
function hookRef(hook: HookObject) {
  return { ...parseRefKey(hook.key), apiVersion: hook.object.apiVersion };
}

async function deleteAndWait(
  client: ClusterClient,
  hook: HookObject,
  timeoutMs: number,
): Promise<void> {
  const ref = hookRef(hook);
  if (!(await client.delete(ref, { propagationPolicy: 'Background' }))) return;
  const deadline = Date.now() + timeoutMs;
  while (await client.get(ref.apiVersion, ref.kind, ref.namespace, ref.name)) {
    if (Date.now() > deadline) {
      throw new DriftlessError(
        'HookFailed',
        `previous run of hook ${describeRef(ref)} is still being deleted`,
        {
          object: describeRef(ref),
        },
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
): Promise<HookOutcome> {
  const ofPhase = hooks.filter((h) => h.phases.includes(phase));
  const deadline = Date.now() + opts.waitBudgetMs;
  const waves = [...new Set(ofPhase.map((h) => h.wave))].sort((a, b) => a - b);
  for (const wave of waves) {
    const group = ofPhase.filter((h) => h.wave === wave);
    for (const hook of group) {
      if (opts.started.has(hook.key)) continue;
      if (hook.deletePolicies.includes('BeforeHookCreation'))
        await deleteAndWait(client, hook, HOOK_DELETE_TIMEOUT_MS);
      await client.apply(hook.object, { force: opts.force });
      opts.started.add(hook.key);
      opts.onEvent?.({ key: hook.key, phase, action: 'created' });
    }
    // Wait for this wave's hooks to finish.
    const done = new Set<string>();
    while (done.size < group.length) {
      for (const hook of group) {
        if (done.has(hook.key)) continue;
        const ref = hookRef(hook);
        const live = (await client.get(ref.apiVersion, ref.kind, ref.namespace, ref.name)) as
          | KubeObject
          | undefined;
        if (!live) {
          // Deleted under us (or by a HookSucceeded policy of an earlier attempt): it ran.
          done.add(hook.key);
          continue;
        }
        const health = evaluateHealth(live);
        if (health.status === 'Healthy') {
          done.add(hook.key);
          opts.onEvent?.({ key: hook.key, phase, action: 'succeeded' });
          if (hook.deletePolicies.includes('HookSucceeded')) {
            await client.delete(ref, { propagationPolicy: 'Background' });
            opts.onEvent?.({ key: hook.key, phase, action: 'deleted' });
          }
        } else if (health.status === 'Degraded') {
          opts.onEvent?.({ key: hook.key, phase, action: 'failed' });
          if (hook.deletePolicies.includes('HookFailed')) {
            await client.delete(ref, { propagationPolicy: 'Background' });
            opts.onEvent?.({ key: hook.key, phase, action: 'deleted' });
          }
          return {
            state: 'failed',
            key: hook.key,
            message: `${phase} hook ${describeRef(ref)} failed${health.message ? `: ${health.message}` : ''}`,
          };
        }
      }
      if (done.size === group.length) break;
      if (Date.now() > deadline) {
        const waiting = group
          .filter((h) => !done.has(h.key))
          .map((h) => describeRef(parseRefKey(h.key)));
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
