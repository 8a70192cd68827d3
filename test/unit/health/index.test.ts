// Health per kind, table-driven: one YAML file per case under
// test/fixtures/health/<kind>/ (generic/ for the generic rules), each a live
// object shaped like what the API server returns (status written by the real
// controllers) with the status, and a substring of the message, it must get.
// What needs code (appHealth over several objects) stays below.

import { describe, expect, it } from 'vitest';
import { appHealth, evaluateHealth, type ObjectHealth } from '../../../lib/health/index.js';
import type { KubeObject } from '../../../lib/model/object.js';
import { HEALTH_ORDER, type HealthResult, type HealthStatus } from '../../../lib/model/status.js';
import { type Fixture, loadFixtures } from '../../support/fixtures.js';

interface HealthCase {
  file: string;
  kind: string;
  name: string;
  object: KubeObject;
  status: HealthStatus;
  /** A substring the message must contain. */
  message?: string;
}

function asCase({ file, group, data }: Fixture): HealthCase {
  const d = data as {
    name?: unknown;
    expect?: { status?: unknown; message?: unknown };
    object?: unknown;
  } | null;
  const status = d?.expect?.status;
  const message = d?.expect?.message;
  if (
    typeof d?.name !== 'string' ||
    !HEALTH_ORDER.includes(status as HealthStatus) ||
    (message !== undefined && typeof message !== 'string') ||
    typeof d.object !== 'object' ||
    d.object === null
  ) {
    throw new Error(
      `test/fixtures/health/${file}: needs name, expect.status (one of ${HEALTH_ORDER.join(', ')}), optional expect.message (a string) and object`,
    );
  }
  return {
    file,
    kind: group,
    name: d.name,
    object: d.object as KubeObject,
    status: status as HealthStatus,
    ...(message !== undefined ? { message } : {}),
  };
}

const cases = loadFixtures('health').map(asCase);

function healthCase(file: string): HealthCase {
  const c = cases.find((x) => x.file === file);
  if (!c) throw new Error(`no fixture test/fixtures/health/${file}`);
  return c;
}

it('finds the health fixtures', () => {
  expect(cases.length).toBeGreaterThan(0);
});

for (const kind of [...new Set(cases.map((c) => c.kind))]) {
  describe(kind, () => {
    it.each(cases.filter((c) => c.kind === kind))('$name', ({ object, status, message }) => {
      const result = evaluateHealth(object);
      expect(result.status).toBe(status);
      if (message !== undefined) expect(result.message).toContain(message);
      // Never block: anything in progress says when to look again, nothing else does.
      if (status === 'Progressing') {
        expect(result.recheckAfterMs).toBeGreaterThanOrEqual(5_000);
        expect(result.recheckAfterMs).toBeLessThanOrEqual(15_000);
      } else {
        expect(result.recheckAfterMs).toBeUndefined();
      }
    });
  });
}

// --- app health -----------------------------------------------------------

const H = (status: HealthStatus, message?: string, recheckAfterMs?: number): HealthResult => ({
  status,
  ...(message ? { message } : {}),
  ...(recheckAfterMs ? { recheckAfterMs } : {}),
});

describe('appHealth', () => {
  it('is Healthy when every object is', () => {
    const r = appHealth([
      { key: 'apps/Deployment/prod/web', health: H('Healthy', '3 of 3 replicas available') },
      { key: '/ConfigMap/prod/settings', health: H('Healthy') },
    ]);
    expect(r).toEqual({ status: 'Healthy', message: '2 objects healthy' });
  });

  it('is Healthy with no objects', () => {
    expect(appHealth([]).status).toBe('Healthy');
  });

  it('is the worst of its objects and names the unhealthy ones, worst first', () => {
    const objects: ObjectHealth[] = [
      { key: '/ConfigMap/prod/settings', health: H('Healthy') },
      {
        key: 'apps/Deployment/prod/web',
        health: H(
          'Progressing',
          'waiting for rollout: 1 of 3 updated replicas are available',
          5_000,
        ),
      },
      {
        key: '/PersistentVolumeClaim/prod/data',
        health: H('Progressing', 'waiting for a volume to bind', 15_000),
      },
      {
        key: 'batch/Job/prod/migrate',
        health: H('Degraded', 'BackoffLimitExceeded: Job has reached the specified backoff limit'),
      },
    ];
    const r = appHealth(objects);
    expect(r.status).toBe('Degraded');
    expect(r.message).toBe(
      '3 of 4 objects not healthy: Job/prod/migrate Degraded (BackoffLimitExceeded: Job has reached the specified backoff limit); ' +
        'Deployment/prod/web Progressing (waiting for rollout: 1 of 3 updated replicas are available); ' +
        'PersistentVolumeClaim/prod/data Progressing (waiting for a volume to bind)',
    );
    // Still rolling out somewhere: look again at the soonest recheck.
    expect(r.recheckAfterMs).toBe(5_000);
  });

  it('lists at most three objects and counts the rest', () => {
    const objects = ['a', 'b', 'c', 'd', 'e'].map((n) => ({
      key: `apps/Deployment/prod/${n}`,
      health: H('Progressing', 'waiting', 10_000),
    }));
    const r = appHealth(objects);
    expect(r.status).toBe('Progressing');
    expect(r.message).toMatch(
      /^5 of 5 objects not healthy: Deployment\/prod\/a Progressing \(waiting\);/,
    );
    expect(r.message).toMatch(/; and 2 more$/);
    expect(r.recheckAfterMs).toBe(10_000);
  });

  it('reports Suspended without a recheck', () => {
    const r = appHealth([
      { key: 'apps/Deployment/prod/web', health: H('Suspended', 'rollout paused (spec.paused)') },
      { key: '/Service/prod/web', health: H('Healthy') },
    ]);
    expect(r).toEqual({
      status: 'Suspended',
      message:
        '1 of 2 objects not healthy: Deployment/prod/web Suspended (rollout paused (spec.paused))',
    });
  });

  it('ranks Missing above Progressing and shows cluster-scoped keys without a namespace', () => {
    const r = appHealth([
      { key: '/Namespace//prod', health: H('Progressing', 'terminating', 5_000) },
      {
        key: 'apiextensions.k8s.io/CustomResourceDefinition//widgets.example.com',
        health: H('Missing'),
      },
    ]);
    expect(r.status).toBe('Missing');
    expect(r.message).toBe(
      '2 of 2 objects not healthy: CustomResourceDefinition/widgets.example.com Missing; Namespace/prod Progressing (terminating)',
    );
  });

  it('leaves out objects not evaluated yet and shows other keys as they are', () => {
    const r = appHealth([
      { key: 'apps/Deployment/prod/web' },
      { key: 'hook:migrate', health: H('Degraded', 'failed') },
    ]);
    expect(r).toEqual({
      status: 'Degraded',
      message: '1 of 1 objects not healthy: hook:migrate Degraded (failed)',
    });
  });

  it('takes evaluateHealth results directly', () => {
    const rolledOut = healthCase(
      'deployment/all-replicas-updated-and-available-healthy.yaml',
    ).object;
    const web = { ...rolledOut, status: { ...(rolledOut.status as object), availableReplicas: 2 } };
    const r = appHealth([{ key: 'apps/Deployment/prod/web', health: evaluateHealth(web) }]);
    expect(r.status).toBe('Progressing');
    expect(r.message).toContain(
      'Deployment/prod/web Progressing (waiting for rollout: 2 of 3 updated',
    );
    expect(r.recheckAfterMs).toBe(5_000);
  });
});
