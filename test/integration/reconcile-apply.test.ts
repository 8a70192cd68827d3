// How objects are applied and compared, against the real API server: one
// LIST per group/version/kind in use (two apiVersions of one kind compare in
// their own shapes), immutable fields (a precise error, or delete and create
// when the object opts in), fail fast within a wave, apply policies from
// annotations (Flux's ssa, reconcile: disabled, Argo CD's sync options), and
// custom resources whose CRD arrives in the same revision.

import { describe, expect, it } from 'vitest';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';

function ns(name: string): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
}

describe('one LIST per group/version/kind', () => {
  it('compares two apiVersions of one kind each in its own shape: Synced after a sync, not OutOfSync forever', async () => {
    const namespace = uniqueName('gvk');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit({
      'ns.yaml': ns(namespace),
      'hpa-v1.yaml': `apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: old-style
spec:
  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: nothing }
  minReplicas: 1
  maxReplicas: 3
  targetCPUUtilizationPercentage: 60
`,
      'hpa-v2.yaml': `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: new-style
spec:
  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: nothing }
  minReplicas: 1
  maxReplicas: 3
  metrics:
    - type: Resource
      resource: { name: memory, target: { type: Utilization, averageUtilization: 70 } }
`,
    });
    await h.setApp({ namespace });
    // Without a metrics source the HPAs are Degraded (health); both are applied all the same.
    const first = await h.reconcile();
    expect(first.status.operation?.applied).toBe(3);

    // Another writer touches both (new resourceVersions): the check compares them for real.
    const client = await h.client();
    for (const [version, name] of [
      ['v1', 'old-style'],
      ['v2', 'new-style'],
    ]) {
      await client.requestJson(
        'PATCH',
        `/apis/autoscaling/${version}/namespaces/${namespace}/horizontalpodautoscalers/${name}?fieldManager=someone`,
        { metadata: { annotations: { touched: 'yes' } } },
        { contentType: 'application/merge-patch+json' },
      );
    }
    client.resetStats();
    const again = await h.reconcile();
    expect(again.status.sync).toBe('Synced');
    expect(again.status.resources.map((r) => [r.name, r.sync])).toEqual(
      expect.arrayContaining([
        ['old-style', 'Synced'],
        ['new-style', 'Synced'],
      ]),
    );
    // Namespace, HPA in autoscaling/v1, HPA in autoscaling/v2: three LISTs, nothing else.
    expect(client.stats.byVerb).toEqual({ list: 3 });
  });
});
