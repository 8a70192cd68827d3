// The deadline wrapper passes a metadata LIST through while there is time and
// abandons it, naming it, once the deadline has passed.

import { describe, expect, it } from 'vitest';
import { DriftlessError } from '../../../lib/errors.js';
import { systemClock } from '../../../lib/ports/clock.js';
import { clientWithDeadline, Deadline } from '../../../lib/reconcile/deadline.js';
import { MemoryCluster } from '../../support/memory-cluster.js';

describe('clientWithDeadline', () => {
  it('passes listMetadata through before the deadline', async () => {
    const cluster = new MemoryCluster();
    await cluster.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'a', namespace: 'ns', labels: { app: 'x' } },
    });
    const client = clientWithDeadline(
      cluster,
      new Deadline(systemClock.now() + 3_600_000, systemClock),
    );
    const metas = await client.listMetadata('v1', 'ConfigMap', { labelSelector: 'app=x' });
    expect(metas.map((m) => [m.kind, m.namespace, m.name, m.labels])).toEqual([
      ['ConfigMap', 'ns', 'a', { app: 'x' }],
    ]);
    expect(cluster.stats.byVerb.list).toBe(1);
  });

  it('abandons a metadata LIST still unanswered at the deadline, naming it', async () => {
    const cluster = new MemoryCluster();
    cluster.listMetadata = () => new Promise(() => {});
    const client = clientWithDeadline(cluster, new Deadline(systemClock.now() - 1, systemClock));
    const e = await client.listMetadata('apps/v1', 'Deployment').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(DriftlessError);
    expect((e as DriftlessError).reason).toBe('DeadlineExceeded');
    expect((e as DriftlessError).message).toMatch(
      /^metadata LIST of apps\/v1 Deployment did not answer/,
    );
  });
});
