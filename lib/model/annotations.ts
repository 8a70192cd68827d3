// The annotations that steer a sync, and the one place they are read from an
// object: sync wave, hook and hook delete policy, prune opt-out. Each setting
// is read from a list of annotations, first present wins; today each list holds
// Driftless's own annotation only. Reading Argo CD's or Flux's equivalents is
// a change here alone: their names in these lists, their value syntax in the
// readers below.

import type { ObjectMeta } from './object.js';

export const ANNOTATION_SYNC_WAVE = 'driftless.dev/sync-wave';
export const ANNOTATION_HOOK = 'driftless.dev/hook';
export const ANNOTATION_HOOK_DELETE_POLICY = 'driftless.dev/hook-delete-policy';
export const ANNOTATION_PRUNE = 'driftless.dev/prune';

/** Where each setting is read from, in precedence order. */
const SYNC_WAVE_FROM: readonly string[] = [ANNOTATION_SYNC_WAVE];
const HOOK_FROM: readonly string[] = [ANNOTATION_HOOK];
const HOOK_DELETE_POLICY_FROM: readonly string[] = [ANNOTATION_HOOK_DELETE_POLICY];
const PRUNE_FROM: readonly string[] = [ANNOTATION_PRUNE];

export type HookPhase = 'PreSync' | 'Sync' | 'PostSync' | 'SyncFail';
export type HookDeletePolicy = 'HookSucceeded' | 'HookFailed' | 'BeforeHookCreation';
export const HOOK_PHASES: readonly HookPhase[] = ['PreSync', 'Sync', 'PostSync', 'SyncFail'];
export const HOOK_DELETE_POLICIES: readonly HookDeletePolicy[] = [
  'HookSucceeded',
  'HookFailed',
  'BeforeHookCreation',
];
/** Unset, a hook's previous run is deleted before the hook is created again. */
export const DEFAULT_HOOK_DELETE_POLICY: HookDeletePolicy = 'BeforeHookCreation';

/** The sync wave of an object without one. */
export const DEFAULT_SYNC_WAVE = 0;

/** An annotation an object carries, and its value. */
export interface AnnotationValue {
  annotation: string;
  value: string;
}

/** A setting read from an object's annotations, or which annotation is invalid and why. */
export type AnnotationRead<T> =
  | { ok: true; value: T }
  | { ok: false; annotation: string; message: string };

export interface HookSpec {
  phases: HookPhase[];
  deletePolicies: HookDeletePolicy[];
}

type Annotated = { metadata: ObjectMeta } | undefined;

function firstOf(obj: Annotated, names: readonly string[]): AnnotationValue | undefined {
  const annotations = obj?.metadata.annotations;
  if (!annotations) return undefined;
  for (const annotation of names) {
    const value = annotations[annotation];
    if (value !== undefined) return { annotation, value };
  }
  return undefined;
}

/** The object's sync wave, an integer; DEFAULT_SYNC_WAVE when it sets none. */
export function syncWaveOf(obj: Annotated): AnnotationRead<number> {
  const wave = firstOf(obj, SYNC_WAVE_FROM);
  if (!wave) return { ok: true, value: DEFAULT_SYNC_WAVE };
  if (!/^-?\d+$/.test(wave.value.trim())) {
    return {
      ok: false,
      annotation: wave.annotation,
      message: `sync wave must be an integer, got "${wave.value}"`,
    };
  }
  return { ok: true, value: Number.parseInt(wave.value, 10) };
}

/** The hook an object declares, its phases and delete policies; undefined for an ordinary resource. */
export function hookOf(obj: Annotated): AnnotationRead<HookSpec | undefined> {
  const hook = firstOf(obj, HOOK_FROM);
  if (!hook) return { ok: true, value: undefined };
  const phases = hook.value.split(',').map((s) => s.trim()) as HookPhase[];
  const badPhase = phases.find((p) => !HOOK_PHASES.includes(p));
  if (badPhase !== undefined) {
    return {
      ok: false,
      annotation: hook.annotation,
      message: `unknown hook "${badPhase}" (use ${HOOK_PHASES.join(', ')})`,
    };
  }
  const policy = firstOf(obj, HOOK_DELETE_POLICY_FROM);
  const deletePolicies = (policy?.value ?? DEFAULT_HOOK_DELETE_POLICY)
    .split(',')
    .map((s) => s.trim()) as HookDeletePolicy[];
  const badPolicy = deletePolicies.find((p) => !HOOK_DELETE_POLICIES.includes(p));
  if (badPolicy !== undefined) {
    return {
      ok: false,
      annotation: policy?.annotation ?? ANNOTATION_HOOK_DELETE_POLICY,
      message: `unknown hook delete policy "${badPolicy}" (use ${HOOK_DELETE_POLICIES.join(', ')})`,
    };
  }
  return { ok: true, value: { phases, deletePolicies } };
}

/** Whether the object carries a hook annotation at all, valid or not (what the plan parses as a hook). */
export function hasHookAnnotation(obj: Annotated): boolean {
  return firstOf(obj, HOOK_FROM) !== undefined;
}

/**
 * Whether a live object is a hook, by a non-empty hook annotation: hooks are
 * not kept in sync, so never reported Extra nor pruned. (An empty value counts
 * here as no hook, while the plan rejects it as an unknown hook.)
 */
export function isHook(obj: Annotated): boolean {
  return !!firstOf(obj, HOOK_FROM)?.value;
}

/** The annotation that opts the object out of pruning (`driftless.dev/prune: "false"`), if any. */
export function pruneOptOut(obj: Annotated): AnnotationValue | undefined {
  const prune = firstOf(obj, PRUNE_FROM);
  return prune?.value === 'false' ? prune : undefined;
}

/** Whether pruning must leave the object alone. */
export function isPruneDisabled(obj: Annotated): boolean {
  return pruneOptOut(obj) !== undefined;
}
