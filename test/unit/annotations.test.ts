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
  pruneOptOut,
  syncWaveOf,
} from '../../lib/model/annotations.js';
import type { KubeObject } from '../../lib/model/object.js';

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
      value: { phases: ['PreSync', 'PostSync'], deletePolicies: ['BeforeHookCreation'] },
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
      value: { phases: ['Sync'], deletePolicies: ['HookSucceeded', 'HookFailed'] },
    });
  });

  it('names the annotation of an unknown phase or policy', () => {
    expect(hookOf(obj({ [ANNOTATION_HOOK]: 'PreSync,Later' }))).toEqual({
      ok: false,
      annotation: ANNOTATION_HOOK,
      message: 'unknown hook "Later" (use PreSync, Sync, PostSync, SyncFail)',
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
  it('only "false" opts out, and says which annotation did', () => {
    expect(pruneOptOut(obj({ [ANNOTATION_PRUNE]: 'false' }))).toEqual({
      annotation: ANNOTATION_PRUNE,
      value: 'false',
    });
    expect(isPruneDisabled(obj({ [ANNOTATION_PRUNE]: 'false' }))).toBe(true);
    expect(isPruneDisabled(obj({ [ANNOTATION_PRUNE]: 'true' }))).toBe(false);
    expect(isPruneDisabled(obj({ [ANNOTATION_PRUNE]: 'False' }))).toBe(false);
    expect(isPruneDisabled(obj())).toBe(false);
    expect(isPruneDisabled(undefined)).toBe(false);
  });
});
