import { describe, expect, it } from 'vitest';
import { HOOK_NAME_MAX, hookInstance, hookRunState } from '../../../lib/apply/hooks.js';
import type { HookObject } from '../../../lib/apply/plan.js';
import { DEFAULT_SYNC_OPTIONS } from '../../../lib/model/annotations.js';
import type { KubeObject } from '../../../lib/model/object.js';

function hook(metadata: KubeObject['metadata']): HookObject {
  const object = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { namespace: 'web', ...metadata },
  };
  return {
    key: `batch/Job/web/${metadata.name ?? metadata.generateName}`,
    object,
    hash: '',
    wave: 0,
    options: DEFAULT_SYNC_OPTIONS,
    phases: ['PreSync', 'PostSync'],
    deletePolicies: ['BeforeHookCreation'],
    annotation: 'argocd.argoproj.io/hook',
  };
}

describe('hookInstance', () => {
  const run = { operationId: 'op-1', attempt: 1 };

  it('names a generateName hook from the operation attempt and phase, the same every time', () => {
    const h = hook({ generateName: 'migrate-' });
    const pre = hookInstance(h, 'PreSync', run);
    expect(pre.object.metadata.name).toMatch(/^migrate-[0-9a-f]{8}-presync$/);
    expect(pre.key).toBe(`batch/Job/web/${pre.object.metadata.name}`);
    expect(hookInstance(h, 'PreSync', run).key).toBe(pre.key);
    // Another phase, attempt or operation: another name.
    expect(hookInstance(h, 'PostSync', run).key).not.toBe(pre.key);
    expect(hookInstance(h, 'PreSync', { ...run, attempt: 2 }).key).not.toBe(pre.key);
    expect(hookInstance(h, 'PreSync', { ...run, operationId: 'op-2' }).key).not.toBe(pre.key);
    // What run created it is recorded on the object.
    expect(pre.object.metadata.annotations?.['driftless.dev/hook-run']).toBe('op-1#1/PreSync');
  });

  it('keeps a named hook its name, and a long generateName within a label value', () => {
    expect(hookInstance(hook({ name: 'seed' }), 'PreSync', run).object.metadata.name).toBe('seed');
    const long = hookInstance(hook({ generateName: `${'x'.repeat(80)}-` }), 'PostSync', run);
    expect(long.object.metadata.name?.length).toBeLessThanOrEqual(HOOK_NAME_MAX);
    expect(long.object.metadata.name).toMatch(/^x+[0-9a-f]{8}-postsync$/);
  });
});

describe('hookRunState', () => {
  it('reads a Pod by its phase (Running and Ready is still running), a Job by its conditions', () => {
    const pod = (phase: string) =>
      ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, status: { phase } }) as KubeObject;
    expect(hookRunState(pod('Running')).state).toBe('running');
    expect(hookRunState(pod('Succeeded')).state).toBe('succeeded');
    expect(hookRunState(pod('Failed')).state).toBe('failed');
    const job = (type: string) =>
      ({
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'j' },
        spec: {},
        status: { conditions: type ? [{ type, status: 'True' }] : [] },
      }) as KubeObject;
    expect(hookRunState(job('')).state).toBe('running');
    expect(hookRunState(job('Complete')).state).toBe('succeeded');
    expect(hookRunState(job('Failed')).state).toBe('failed');
  });
});
