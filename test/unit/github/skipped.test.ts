// What a skipped job reports for the pending status its push left.

import { describe, expect, it } from 'vitest';
import { skippedJobStatus } from '../../../lib/github/skipped.js';
import type { TargetStatus } from '../../../lib/model/status.js';
import type { ReconcileJob } from '../../../lib/ports/queue.js';

const X = 'a'.repeat(40);
const Y = 'b'.repeat(40);
const job: ReconcileJob = {
  app: 'web',
  cluster: 'prod',
  trigger: 'webhook',
  enqueuedAt: '2026-12-01T00:00:00.000Z',
  commit: X,
  repoURL: 'https://github.com/acme/web.git',
};
const status = (s: Partial<TargetStatus>): TargetStatus => ({
  app: 'web',
  cluster: 'prod',
  sync: 'OutOfSync',
  health: 'Healthy',
  resources: [],
  inventory: [],
  conditions: [],
  ...s,
});

describe('skippedJobStatus', () => {
  it('reports nothing for a job whose push posted no pending status', () => {
    expect(skippedJobStatus({ ...job, commit: undefined }, undefined, 'covered')).toBeUndefined();
  });

  it('reports success when the target is synced at the commit', () => {
    for (const s of [
      status({ syncedRevision: X }),
      status({ sync: 'Synced', wantedRevision: X }),
    ]) {
      expect(skippedJobStatus(job, s, 'covered')).toMatchObject({
        repoURL: job.repoURL,
        commit: X,
        context: 'driftless/web/prod',
        state: 'success',
      });
    }
  });

  it('reports an error saying why otherwise', () => {
    expect(skippedJobStatus(job, status({ syncedRevision: Y }), 'suspended', 'https://x')).toEqual({
      repoURL: job.repoURL,
      commit: X,
      context: 'driftless/web/prod',
      state: 'error',
      description: `skipped aaaaaaaa: the application is suspended; the target is at bbbbbbbb`,
      targetUrl: 'https://x',
    });
    expect(skippedJobStatus(job, undefined, 'gone')?.description).toBe(
      'skipped aaaaaaaa: the target no longer exists',
    );
    expect(skippedJobStatus(job, status({}), 'covered')?.description).toBe(
      'skipped aaaaaaaa: a later reconcile covered it',
    );
  });
});
