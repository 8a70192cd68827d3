// The annotations that steer a sync, and the one place they are read from an
// object: Driftless's own (`driftless.dev/…`), Argo CD's (`argocd.argoproj.io/…`)
// and Flux's (`kustomize.toolkit.fluxcd.io/…`), so a repository written for
// either tool works as written. Each setting is read from a list of
// annotations in precedence order (Driftless, then Argo CD, then Flux); the
// first present wins. Values are parsed as each tool documents them:
//
//   sync wave   driftless.dev/sync-wave, argocd.argoproj.io/sync-wave: an integer
//   hook        driftless.dev/hook, argocd.argoproj.io/hook: PreSync, Sync,
//               PostSync, SyncFail, Skip (comma-separated: a hook of several phases)
//   hook delete driftless.dev/hook-delete-policy, argocd.argoproj.io/hook-delete-policy:
//               HookSucceeded, HookFailed, BeforeHookCreation (comma-separated)
//   sync opts   driftless.dev/sync-options, argocd.argoproj.io/sync-options:
//               Prune=false|confirm, Delete=false, Replace=true, Force=true,
//               ServerSideApply=true, SkipDryRunOnMissingResource=true,
//               PruneLast=true, Validate=false, AllowAdoption=true
//               (comma-separated; options for the whole Application, such as
//               CreateNamespace, are ignored here). AllowAdoption is
//               Driftless's: the object may be taken over from another app
//               that manages it (otherwise: SharedResource, not applied)
//   compare     driftless.dev/compare-options, argocd.argoproj.io/compare-options:
//               IgnoreExtraneous
//   prune       driftless.dev/prune: "false" or disabled;
//               kustomize.toolkit.fluxcd.io/prune: disabled
//   ssa         driftless.dev/ssa, kustomize.toolkit.fluxcd.io/ssa:
//               Override (the default), Merge, IfNotPresent, Ignore
//   reconcile   driftless.dev/reconcile, kustomize.toolkit.fluxcd.io/reconcile: disabled
//   force       driftless.dev/force, kustomize.toolkit.fluxcd.io/force: Enabled
//
// Where two tools name the same thing (Prune=false and Flux's prune: disabled,
// Force=true and Flux's force: Enabled), both mean the same here.

import type { ObjectMeta } from './object.js';

const DRIFTLESS = 'driftless.dev';
const ARGO = 'argocd.argoproj.io';
const FLUX = 'kustomize.toolkit.fluxcd.io';

export const ANNOTATION_SYNC_WAVE = `${DRIFTLESS}/sync-wave`;
export const ANNOTATION_HOOK = `${DRIFTLESS}/hook`;
export const ANNOTATION_HOOK_DELETE_POLICY = `${DRIFTLESS}/hook-delete-policy`;
export const ANNOTATION_PRUNE = `${DRIFTLESS}/prune`;
export const ANNOTATION_SYNC_OPTIONS = `${DRIFTLESS}/sync-options`;
export const ANNOTATION_COMPARE_OPTIONS = `${DRIFTLESS}/compare-options`;
export const ANNOTATION_SSA = `${DRIFTLESS}/ssa`;
export const ANNOTATION_RECONCILE = `${DRIFTLESS}/reconcile`;
export const ANNOTATION_FORCE = `${DRIFTLESS}/force`;
/** Written by Driftless on each hook it creates: the operation attempt (`<id>#<attempt>`) and phase it ran for. */
export const ANNOTATION_HOOK_RUN = `${DRIFTLESS}/hook-run`;

export const ARGO_SYNC_WAVE = `${ARGO}/sync-wave`;
export const ARGO_HOOK = `${ARGO}/hook`;
export const ARGO_HOOK_DELETE_POLICY = `${ARGO}/hook-delete-policy`;
export const ARGO_SYNC_OPTIONS = `${ARGO}/sync-options`;
export const ARGO_COMPARE_OPTIONS = `${ARGO}/compare-options`;

export const FLUX_PRUNE = `${FLUX}/prune`;
export const FLUX_SSA = `${FLUX}/ssa`;
export const FLUX_RECONCILE = `${FLUX}/reconcile`;
export const FLUX_FORCE = `${FLUX}/force`;

/** Where each setting is read from, in precedence order. */
const SYNC_WAVE_FROM: readonly string[] = [ANNOTATION_SYNC_WAVE, ARGO_SYNC_WAVE];
const HOOK_FROM: readonly string[] = [ANNOTATION_HOOK, ARGO_HOOK];
const HOOK_DELETE_POLICY_FROM: readonly string[] = [
  ANNOTATION_HOOK_DELETE_POLICY,
  ARGO_HOOK_DELETE_POLICY,
];
const SYNC_OPTIONS_FROM: readonly string[] = [ANNOTATION_SYNC_OPTIONS, ARGO_SYNC_OPTIONS];
const COMPARE_OPTIONS_FROM: readonly string[] = [ANNOTATION_COMPARE_OPTIONS, ARGO_COMPARE_OPTIONS];
const PRUNE_FROM: readonly string[] = [ANNOTATION_PRUNE, FLUX_PRUNE];
const SSA_FROM: readonly string[] = [ANNOTATION_SSA, FLUX_SSA];
const RECONCILE_FROM: readonly string[] = [ANNOTATION_RECONCILE, FLUX_RECONCILE];
const FORCE_FROM: readonly string[] = [ANNOTATION_FORCE, FLUX_FORCE];

/** Every annotation this module reads: what the README's table documents. */
export const RECOGNIZED_ANNOTATIONS: readonly string[] = [
  ...SYNC_WAVE_FROM,
  ...HOOK_FROM,
  ...HOOK_DELETE_POLICY_FROM,
  ...SYNC_OPTIONS_FROM,
  ...COMPARE_OPTIONS_FROM,
  ...PRUNE_FROM,
  ...SSA_FROM,
  ...RECONCILE_FROM,
  ...FORCE_FROM,
];

export type HookPhase = 'PreSync' | 'Sync' | 'PostSync' | 'SyncFail';
export type HookDeletePolicy = 'HookSucceeded' | 'HookFailed' | 'BeforeHookCreation';
export const HOOK_PHASES: readonly HookPhase[] = ['PreSync', 'Sync', 'PostSync', 'SyncFail'];
/** `Skip`: the object is neither applied nor run as a hook (Argo CD's semantics). */
export const HOOK_SKIP = 'Skip';
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
  /** The annotation the hook was declared with (for messages). */
  annotation: string;
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

/** `a, b,c` → [a, b, c], empty entries dropped. */
function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The object's sync wave, an integer; DEFAULT_SYNC_WAVE when it sets none. */
export function syncWaveOf(obj: Annotated): AnnotationRead<number> {
  const wave = firstOf(obj, SYNC_WAVE_FROM);
  if (!wave) return { ok: true, value: DEFAULT_SYNC_WAVE };
  if (!/^[-+]?\d+$/.test(wave.value.trim())) {
    return {
      ok: false,
      annotation: wave.annotation,
      message: `sync wave must be an integer, got "${wave.value}"`,
    };
  }
  return { ok: true, value: Number.parseInt(wave.value.trim(), 10) };
}

/**
 * The hook an object declares, its phases and delete policies; undefined for
 * an ordinary resource. A hook listing `Skip` is not a hook: see isSkipped.
 */
export function hookOf(obj: Annotated): AnnotationRead<HookSpec | undefined> {
  const hook = firstOf(obj, HOOK_FROM);
  if (!hook) return { ok: true, value: undefined };
  const names = list(hook.value);
  if (names.includes(HOOK_SKIP)) return { ok: true, value: undefined };
  const phases = names as HookPhase[];
  const badPhase = phases.length === 0 ? '' : phases.find((p) => !HOOK_PHASES.includes(p));
  if (badPhase !== undefined) {
    return {
      ok: false,
      annotation: hook.annotation,
      message: `unknown hook "${badPhase}" (use ${[...HOOK_PHASES, HOOK_SKIP].join(', ')})`,
    };
  }
  const policy = firstOf(obj, HOOK_DELETE_POLICY_FROM);
  const deletePolicies = list(policy?.value ?? DEFAULT_HOOK_DELETE_POLICY) as HookDeletePolicy[];
  const badPolicy =
    deletePolicies.length === 0
      ? ''
      : deletePolicies.find((p) => !HOOK_DELETE_POLICIES.includes(p));
  if (badPolicy !== undefined) {
    return {
      ok: false,
      annotation: policy?.annotation ?? ANNOTATION_HOOK_DELETE_POLICY,
      message: `unknown hook delete policy "${badPolicy}" (use ${HOOK_DELETE_POLICIES.join(', ')})`,
    };
  }
  return {
    ok: true,
    value: { phases: [...new Set(phases)], deletePolicies, annotation: hook.annotation },
  };
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
  const hook = firstOf(obj, HOOK_FROM);
  return !!hook?.value && !list(hook.value).includes(HOOK_SKIP);
}

/** The hook run a live hook was created for (ANNOTATION_HOOK_RUN), if Driftless created it. */
export function hookRunOf(obj: Annotated): string | undefined {
  return obj?.metadata.annotations?.[ANNOTATION_HOOK_RUN];
}

/** The object with the hook run it is created for recorded on it. */
export function withHookRun<T extends { metadata: ObjectMeta }>(obj: T, run: string): T {
  return {
    ...obj,
    metadata: {
      ...obj.metadata,
      annotations: { ...obj.metadata.annotations, [ANNOTATION_HOOK_RUN]: run },
    },
  };
}

/** `hook: Skip`: the object is in the source but neither applied nor run. */
export function isSkipped(obj: Annotated): boolean {
  const hook = firstOf(obj, HOOK_FROM);
  return !!hook && list(hook.value).includes(HOOK_SKIP);
}

// ---------------------------------------------------------------------------
// Per-object sync options.

/** How server-side apply treats an object that exists (Flux's `ssa` annotation). */
export type ApplyPolicy =
  /** Apply and own every field in the source (the default). */
  | 'Override'
  /** Apply, but leave fields other managers own and the source does not name alone. */
  | 'Merge'
  /** Create it when missing; never change it once it exists. */
  | 'IfNotPresent'
  /** Neither create nor change it. */
  | 'Ignore';
const APPLY_POLICIES: readonly ApplyPolicy[] = ['Override', 'Merge', 'IfNotPresent', 'Ignore'];

export interface SyncOptions {
  /** Pruning: allowed, never (`Prune=false`, `prune: disabled`), or only when a sync explicitly allows it (`Prune=confirm`). */
  prune: 'allowed' | 'never' | 'confirm';
  /** `Delete=false`: keep the object when its application is deleted. */
  keepOnDelete: boolean;
  /** `Replace=true`: delete and create instead of apply when it changes. */
  replace: boolean;
  /** `Force=true`, `force: Enabled`: recreate it when a change hits an immutable field. */
  force: boolean;
  /** `ServerSideApply=true`: what Driftless always does; accepted for compatibility. */
  serverSideApply: boolean;
  /** `SkipDryRunOnMissingResource=true`: a custom resource whose kind is not served yet skips the dry run. */
  skipDryRunOnMissingResource: boolean;
  /** `PruneLast=true`: pruned after everything else of the sync. */
  pruneLast: boolean;
  /** `Validate=false`: skip schema validation for this object. */
  validate: boolean;
  /** `IgnoreExtraneous`: live but not in the source, it does not make the app OutOfSync. */
  ignoreExtraneous: boolean;
  /**
   * `AllowAdoption=true` (Driftless's): the object may be taken over when
   * another application manages it (its tracking label names that app).
   * Without it such an object is reported SharedResource and not applied.
   */
  allowAdoption: boolean;
  /** Flux's `ssa`. */
  apply: ApplyPolicy;
  /** `reconcile: disabled`: neither applied, compared nor pruned. */
  reconcile: boolean;
  /** The annotations these options were read from (for messages: "kept by argocd.argoproj.io/sync-options"). */
  from: Partial<Record<keyof Omit<SyncOptions, 'from'>, string>>;
}

export const DEFAULT_SYNC_OPTIONS: Readonly<SyncOptions> = Object.freeze({
  prune: 'allowed',
  keepOnDelete: false,
  replace: false,
  force: false,
  serverSideApply: true,
  skipDryRunOnMissingResource: false,
  pruneLast: false,
  validate: true,
  ignoreExtraneous: false,
  allowAdoption: false,
  apply: 'Override',
  reconcile: true,
  from: {},
});

type BooleanOption =
  | 'Delete'
  | 'Replace'
  | 'Force'
  | 'ServerSideApply'
  | 'SkipDryRunOnMissingResource'
  | 'PruneLast'
  | 'Validate'
  | 'AllowAdoption';
const BOOLEAN_OPTIONS: Record<
  BooleanOption,
  keyof Pick<
    SyncOptions,
    | 'keepOnDelete'
    | 'replace'
    | 'force'
    | 'serverSideApply'
    | 'skipDryRunOnMissingResource'
    | 'pruneLast'
    | 'validate'
    | 'allowAdoption'
  >
> = {
  Delete: 'keepOnDelete',
  Replace: 'replace',
  Force: 'force',
  ServerSideApply: 'serverSideApply',
  SkipDryRunOnMissingResource: 'skipDryRunOnMissingResource',
  PruneLast: 'pruneLast',
  Validate: 'validate',
  AllowAdoption: 'allowAdoption',
};

function invalid(annotation: string, message: string): AnnotationRead<never> {
  return { ok: false, annotation, message };
}

/**
 * The object's sync options from every annotation that sets one. An invalid
 * value (`Prune=maybe`, `ssa: Sometimes`) is an error naming the annotation;
 * an option Argo CD reads only at the Application level is ignored.
 */
export function syncOptionsOf(obj: Annotated): AnnotationRead<SyncOptions> {
  const out: SyncOptions = { ...DEFAULT_SYNC_OPTIONS, from: {} };

  const sync = firstOf(obj, SYNC_OPTIONS_FROM);
  if (sync) {
    for (const entry of list(sync.value)) {
      const eq = entry.indexOf('=');
      const key = (eq < 0 ? entry : entry.slice(0, eq)).trim();
      const value = (eq < 0 ? '' : entry.slice(eq + 1)).trim().toLowerCase();
      if (key === 'Prune') {
        if (value !== 'true' && value !== 'false' && value !== 'confirm') {
          return invalid(sync.annotation, `Prune must be true, false or confirm, got "${entry}"`);
        }
        out.prune = value === 'false' ? 'never' : value === 'confirm' ? 'confirm' : 'allowed';
        out.from.prune = sync.annotation;
        continue;
      }
      const option = BOOLEAN_OPTIONS[key as BooleanOption];
      if (!option) continue; // Application-level options (CreateNamespace, ApplyOutOfSyncOnly, …)
      if (value !== 'true' && value !== 'false') {
        return invalid(sync.annotation, `${key} must be true or false, got "${entry}"`);
      }
      // Delete=false means keep: the field is the inverse.
      out[option] = option === 'keepOnDelete' ? value === 'false' : value === 'true';
      out.from[option] = sync.annotation;
    }
  }

  const compare = firstOf(obj, COMPARE_OPTIONS_FROM);
  if (compare && list(compare.value).includes('IgnoreExtraneous')) {
    out.ignoreExtraneous = true;
    out.from.ignoreExtraneous = compare.annotation;
  }

  const prune = firstOf(obj, PRUNE_FROM);
  if (prune) {
    const v = prune.value.trim().toLowerCase();
    if (v === 'false' || v === 'disabled') {
      out.prune = 'never';
      out.from.prune = prune.annotation;
    } else if (v !== 'true' && v !== 'enabled' && v !== '') {
      return invalid(prune.annotation, `prune must be disabled (or "false"), got "${prune.value}"`);
    }
  }

  const ssa = firstOf(obj, SSA_FROM);
  if (ssa) {
    const policy = APPLY_POLICIES.find((p) => p.toLowerCase() === ssa.value.trim().toLowerCase());
    if (!policy) {
      return invalid(
        ssa.annotation,
        `ssa must be one of ${APPLY_POLICIES.join(', ')}, got "${ssa.value}"`,
      );
    }
    out.apply = policy;
    out.from.apply = ssa.annotation;
  }

  const reconcile = firstOf(obj, RECONCILE_FROM);
  if (reconcile) {
    const v = reconcile.value.trim().toLowerCase();
    if (v === 'disabled') {
      out.reconcile = false;
      out.from.reconcile = reconcile.annotation;
    } else if (v !== 'enabled' && v !== '') {
      return invalid(
        reconcile.annotation,
        `reconcile must be disabled or enabled, got "${reconcile.value}"`,
      );
    }
  }

  const force = firstOf(obj, FORCE_FROM);
  if (force) {
    const v = force.value.trim().toLowerCase();
    if (v === 'enabled' || v === 'true') {
      out.force = true;
      out.from.force = force.annotation;
    } else if (v !== 'disabled' && v !== 'false' && v !== '') {
      return invalid(force.annotation, `force must be Enabled or Disabled, got "${force.value}"`);
    }
  }
  return { ok: true, value: out };
}

/** The sync options, or the defaults when an annotation is invalid (for live objects: the plan reports it). */
export function syncOptionsOrDefault(obj: Annotated): SyncOptions {
  const read = syncOptionsOf(obj);
  return read.ok ? read.value : { ...DEFAULT_SYNC_OPTIONS, from: {} };
}

/** The annotation that opts the object out of pruning, if any (`Prune=false`, `prune: disabled`, `driftless.dev/prune: "false"`). */
export function pruneOptOut(obj: Annotated): AnnotationValue | undefined {
  const options = syncOptionsOrDefault(obj);
  if (options.prune !== 'never' && options.reconcile) return undefined;
  const annotation = (
    options.prune === 'never' ? options.from.prune : options.from.reconcile
  ) as string;
  return { annotation, value: obj?.metadata.annotations?.[annotation] ?? '' };
}

/**
 * Whether an object left in the cluster because of a prune opt-out still makes
 * the app OutOfSync. Argo CD's `Prune=false` (and `driftless.dev/sync-options:
 * Prune=false`, the same option) does: "the app will be out of sync if Argo CD
 * expects a resource to be pruned" (pair it with IgnoreExtraneous to keep the
 * app Synced). Flux's `prune: disabled` and `driftless.dev/prune: "false"` do
 * not: Flux drops such an object from what it manages and stays Ready.
 */
export function pruneOptOutShowsOutOfSync(obj: Annotated): boolean {
  const options = syncOptionsOrDefault(obj);
  return (
    options.prune === 'never' &&
    options.reconcile &&
    !options.ignoreExtraneous &&
    SYNC_OPTIONS_FROM.includes(options.from.prune ?? '')
  );
}

/** Whether pruning must leave the object alone. */
export function isPruneDisabled(obj: Annotated): boolean {
  return pruneOptOut(obj) !== undefined;
}
