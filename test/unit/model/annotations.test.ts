import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_HOOK,
  ANNOTATION_HOOK_DELETE_POLICY,
  ANNOTATION_PRUNE,
  ANNOTATION_SYNC_WAVE,
  hasHookAnnotation,
  hookOf,
  isHook,
  isPruneDisabled,
  isSkipped,
  pruneOptOut,
  pruneOptOutShowsOutOfSync,
  RECOGNIZED_ANNOTATIONS,
  syncOptionsOf,
  syncWaveOf,
} from '../../../lib/model/annotations.js';
import type { KubeObject } from '../../../lib/model/object.js';

const obj = (annotations?: Record<string, string>): KubeObject => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name: 'migrate', ...(annotations ? { annotations } : {}) },
});

describe('sync wave', () => {
  it('is 0 unless annotated, else the integer', () => {
    expect(syncWaveOf(obj())).toEqual({ ok: true, value: 0 });
    expect(syncWaveOf(obj({ [ANNOTATION_SYNC_WAVE]: '-2' }))).toEqual({ ok: true, value: -2 });
    expect(syncWaveOf(obj({ [ANNOTATION_SYNC_WAVE]: ' 5 ' }))).toEqual({ ok: true, value: 5 });
  });

  it('names the annotation when the value is not an integer', () => {
    expect(syncWaveOf(obj({ [ANNOTATION_SYNC_WAVE]: 'early' }))).toEqual({
      ok: false,
      annotation: ANNOTATION_SYNC_WAVE,
      message: 'sync wave must be an integer, got "early"',
    });
  });
});

describe('hooks', () => {
  it('an object without the annotation is no hook', () => {
    expect(hookOf(obj())).toEqual({ ok: true, value: undefined });
    expect(hookOf(obj({ other: 'x' }))).toEqual({ ok: true, value: undefined });
  });

  it('reads phases and delete policies, BeforeHookCreation by default', () => {
    expect(hookOf(obj({ [ANNOTATION_HOOK]: 'PreSync, PostSync' }))).toEqual({
      ok: true,
      value: {
        annotation: ANNOTATION_HOOK,
        phases: ['PreSync', 'PostSync'],
        deletePolicies: ['BeforeHookCreation'],
      },
    });
    expect(
      hookOf(
        obj({
          [ANNOTATION_HOOK]: 'Sync',
          [ANNOTATION_HOOK_DELETE_POLICY]: 'HookSucceeded,HookFailed',
        }),
      ),
    ).toEqual({
      ok: true,
      value: {
        annotation: ANNOTATION_HOOK,
        phases: ['Sync'],
        deletePolicies: ['HookSucceeded', 'HookFailed'],
      },
    });
  });

  it('names the annotation of an unknown phase or policy', () => {
    expect(hookOf(obj({ [ANNOTATION_HOOK]: 'PreSync,Later' }))).toEqual({
      ok: false,
      annotation: ANNOTATION_HOOK,
      message: 'unknown hook "Later" (use PreSync, Sync, PostSync, SyncFail, Skip)',
    });
    expect(
      hookOf(obj({ [ANNOTATION_HOOK]: 'PreSync', [ANNOTATION_HOOK_DELETE_POLICY]: 'Never' })),
    ).toEqual({
      ok: false,
      annotation: ANNOTATION_HOOK_DELETE_POLICY,
      message:
        'unknown hook delete policy "Never" (use HookSucceeded, HookFailed, BeforeHookCreation)',
    });
  });

  it('an empty hook annotation: a hook to the plan (and invalid), not one on a live object', () => {
    const empty = obj({ [ANNOTATION_HOOK]: '' });
    expect(hasHookAnnotation(empty)).toBe(true);
    expect(hookOf(empty).ok).toBe(false);
    expect(isHook(empty)).toBe(false);
    expect(isHook(obj({ [ANNOTATION_HOOK]: 'PostSync' }))).toBe(true);
    expect(isHook(obj())).toBe(false);
    expect(isHook(undefined)).toBe(false);
    expect(hasHookAnnotation(obj())).toBe(false);
  });
});

describe('prune opt-out', () => {
  it('"false" or disabled opts out (in any case), and says which annotation did', () => {
    expect(pruneOptOut(obj({ [ANNOTATION_PRUNE]: 'false' }))).toEqual({
      annotation: ANNOTATION_PRUNE,
      value: 'false',
    });
    expect(isPruneDisabled(obj({ [ANNOTATION_PRUNE]: 'false' }))).toBe(true);
    expect(isPruneDisabled(obj({ [ANNOTATION_PRUNE]: 'true' }))).toBe(false);
    // Not pruning is the safe reading of a value written in another case.
    expect(isPruneDisabled(obj({ [ANNOTATION_PRUNE]: 'False' }))).toBe(true);
    expect(isPruneDisabled(obj({ [ANNOTATION_PRUNE]: 'disabled' }))).toBe(true);
    expect(isPruneDisabled(obj())).toBe(false);
    expect(isPruneDisabled(undefined)).toBe(false);
  });
});

describe("Argo CD's and Flux's annotations", () => {
  it('reads sync waves and hooks written for Argo CD, Driftless first when both are set', () => {
    expect(syncWaveOf(obj({ 'argocd.argoproj.io/sync-wave': '-2' }))).toEqual({
      ok: true,
      value: -2,
    });
    expect(
      syncWaveOf(obj({ 'argocd.argoproj.io/sync-wave': '5', [ANNOTATION_SYNC_WAVE]: '1' })),
    ).toEqual({ ok: true, value: 1 });
    expect(
      hookOf(
        obj({
          'argocd.argoproj.io/hook': 'PreSync,PostSync',
          'argocd.argoproj.io/hook-delete-policy': 'HookSucceeded, BeforeHookCreation',
        }),
      ),
    ).toEqual({
      ok: true,
      value: {
        annotation: 'argocd.argoproj.io/hook',
        phases: ['PreSync', 'PostSync'],
        deletePolicies: ['HookSucceeded', 'BeforeHookCreation'],
      },
    });
  });

  it('treats hook: Skip as neither a hook nor a resource to apply', () => {
    const skipped = obj({ 'argocd.argoproj.io/hook': 'Skip' });
    expect(hookOf(skipped)).toEqual({ ok: true, value: undefined });
    expect(isSkipped(skipped)).toBe(true);
    expect(isHook(skipped)).toBe(false);
    expect(isSkipped(obj({ 'argocd.argoproj.io/hook': 'PreSync' }))).toBe(false);
  });

  it('parses Argo CD sync and compare options, ignoring Application-level ones', () => {
    const read = syncOptionsOf(
      obj({
        'argocd.argoproj.io/sync-options':
          'Prune=false, Delete=false,Replace=true,Force=true,ServerSideApply=true,' +
          'SkipDryRunOnMissingResource=true,PruneLast=true,Validate=false,CreateNamespace=true',
        'argocd.argoproj.io/compare-options': 'IgnoreExtraneous',
      }),
    );
    expect(read.ok && read.value).toMatchObject({
      prune: 'never',
      keepOnDelete: true,
      replace: true,
      force: true,
      serverSideApply: true,
      skipDryRunOnMissingResource: true,
      pruneLast: true,
      validate: false,
      ignoreExtraneous: true,
      apply: 'Override',
      reconcile: true,
      from: {
        prune: 'argocd.argoproj.io/sync-options',
        ignoreExtraneous: 'argocd.argoproj.io/compare-options',
      },
    });
    const confirm = syncOptionsOf(obj({ 'argocd.argoproj.io/sync-options': 'Prune=confirm' }));
    expect(confirm.ok && confirm.value.prune).toBe('confirm');
  });

  it('parses Flux kustomize-controller annotations with the same meanings', () => {
    const read = syncOptionsOf(
      obj({
        'kustomize.toolkit.fluxcd.io/prune': 'disabled',
        'kustomize.toolkit.fluxcd.io/ssa': 'IfNotPresent',
        'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
        'kustomize.toolkit.fluxcd.io/force': 'Enabled',
      }),
    );
    expect(read.ok && read.value).toMatchObject({
      prune: 'never',
      apply: 'IfNotPresent',
      reconcile: false,
      force: true,
      from: {
        prune: 'kustomize.toolkit.fluxcd.io/prune',
        apply: 'kustomize.toolkit.fluxcd.io/ssa',
      },
    });
    expect(isPruneDisabled(obj({ 'kustomize.toolkit.fluxcd.io/prune': 'disabled' }))).toBe(true);
    expect(isPruneDisabled(obj({ 'kustomize.toolkit.fluxcd.io/reconcile': 'disabled' }))).toBe(
      true,
    );
    const merge = syncOptionsOf(obj({ 'driftless.dev/ssa': 'merge' }));
    expect(merge.ok && merge.value.apply).toBe('Merge');
  });

  it('names the annotation of an invalid value', () => {
    expect(syncOptionsOf(obj({ 'argocd.argoproj.io/sync-options': 'Replace=yes' }))).toEqual({
      ok: false,
      annotation: 'argocd.argoproj.io/sync-options',
      message: 'Replace must be true or false, got "Replace=yes"',
    });
    expect(syncOptionsOf(obj({ 'kustomize.toolkit.fluxcd.io/force': 'Maybe' }))).toMatchObject({
      ok: false,
      annotation: 'kustomize.toolkit.fluxcd.io/force',
    });
  });

  it('lists every annotation it reads, for the README', () => {
    expect(RECOGNIZED_ANNOTATIONS).toEqual(
      expect.arrayContaining([
        'argocd.argoproj.io/sync-wave',
        'argocd.argoproj.io/hook',
        'argocd.argoproj.io/hook-delete-policy',
        'argocd.argoproj.io/sync-options',
        'argocd.argoproj.io/compare-options',
        'kustomize.toolkit.fluxcd.io/prune',
        'kustomize.toolkit.fluxcd.io/ssa',
        'kustomize.toolkit.fluxcd.io/reconcile',
        'kustomize.toolkit.fluxcd.io/force',
        'driftless.dev/sync-options',
      ]),
    );
  });

  it("keeps the app OutOfSync for Argo CD's Prune=false only, as each tool shows it", () => {
    const show = (a: Record<string, string>) => pruneOptOutShowsOutOfSync(obj(a));
    expect(show({ 'argocd.argoproj.io/sync-options': 'Prune=false' })).toBe(true);
    expect(show({ 'driftless.dev/sync-options': 'Prune=false' })).toBe(true);
    expect(
      show({
        'argocd.argoproj.io/sync-options': 'Prune=false',
        'argocd.argoproj.io/compare-options': 'IgnoreExtraneous',
      }),
    ).toBe(false);
    expect(show({ 'kustomize.toolkit.fluxcd.io/prune': 'disabled' })).toBe(false);
    expect(show({ [ANNOTATION_PRUNE]: 'false' })).toBe(false);
    expect(show({ 'argocd.argoproj.io/sync-options': 'Prune=confirm' })).toBe(false);
    expect(show({})).toBe(false);
  });
});
