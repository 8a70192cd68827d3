import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../lib/local/store.js';
import type { OperationResult } from '../../../lib/model/status.js';

function op(n: number, over: Partial<OperationResult> = {}): OperationResult {
  return {
    id: `op-${n}`,
    trigger: 'webhook',
    revision: `rev-${n}`,
    phase: 'Succeeded',
    message: `applied ${n}`,
    startedAt: new Date(Date.UTC(2026, 2, 1, 12, 0, n)).toISOString(),
    finishedAt: new Date(Date.UTC(2026, 2, 1, 12, 0, n + 1)).toISOString(),
    attempt: 1,
    applied: n,
    pruned: 0,
    drifted: 0,
    ...over,
  };
}

describe('MemoryStore history', () => {
  it('collapses repeated failures and keeps successful syncs apart from them', async () => {
    const store = new MemoryStore(5);
    const t = { app: 'a', cluster: 'c' };
    await store.appendHistory(t, op(1), 1);
    for (let i = 0; i < 12; i++) {
      const fail = { phase: 'Failed' as const, reason: 'HookFailed' as const };
      await store.appendHistory(t, op(10 + i, { ...fail, revision: `bad-${i % 6}` }), 1);
      await store.appendHistory(t, op(10 + i, { ...fail, revision: `bad-${i % 6}` }), 1);
    }
    const all = await store.listHistory(t);
    expect(all).toHaveLength(5);
    expect(all[0]).toMatchObject({ revision: 'bad-5', count: 2 });
    expect((await store.listHistory(t, 5, { succeeded: true })).map((o) => o.id)).toEqual(['op-1']);
  });
});
