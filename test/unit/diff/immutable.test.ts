import { describe, expect, it } from 'vitest';
import { refusedFields } from '../../../lib/diff/immutable.js';
import type { KubeObject } from '../../../lib/model/object.js';

const STS_REFUSAL =
  "StatefulSet.apps \"db\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

function sts(storage: string, image: string, serviceName = 'db'): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', namespace: 'ns' },
    spec: {
      serviceName,
      template: { spec: { containers: [{ name: 'db', image }] } },
      volumeClaimTemplates: [
        { metadata: { name: 'data' }, spec: { resources: { requests: { storage } } } },
      ],
    },
  } as KubeObject;
}

describe('refusedFields', () => {
  it('names the changed fields outside the ones the refusal lists as mutable', () => {
    expect(refusedFields(STS_REFUSAL, sts('2Gi', 'pg:17', 'db2'), sts('1Gi', 'pg:16'))).toBe(
      'spec.serviceName, spec.volumeClaimTemplates[0].spec.resources.requests.storage',
    );
  });

  it('leaves a refusal that names its field, or a change it cannot find, to the server', () => {
    const selector =
      'Deployment.apps "web" is invalid: spec.selector: Invalid value: field is immutable';
    expect(refusedFields(selector, sts('2Gi', 'pg:16'), sts('1Gi', 'pg:16'))).toBeUndefined();
    expect(refusedFields(STS_REFUSAL, sts('1Gi', 'pg:17'), sts('1Gi', 'pg:16'))).toBeUndefined();
    expect(refusedFields(STS_REFUSAL, sts('2Gi', 'pg:16'), undefined)).toBeUndefined();
  });
});
