import { describe, expect, it } from 'vitest';
import { modeOf, type OperationTrigger } from '../../../lib/model/status.js';

describe('modeOf', () => {
  it('derives one mode from the trigger: a sync or rollback someone asked for is manual, the rest auto', () => {
    const auto: OperationTrigger[] = ['webhook', 'sweep', 'health-check', 'local', 'delete'];
    for (const t of auto) expect(modeOf(t), t).toBe('auto');
    expect(modeOf('manual')).toBe('manual');
    expect(modeOf('rollback')).toBe('manual');
  });

  it('is preview whatever the trigger when a preview is asked for', () => {
    for (const t of ['manual', 'webhook', 'rollback'] as const)
      expect(modeOf(t, true)).toBe('preview');
  });
});
