// The metadata fingerprint's stability: key order, absent vs empty, entry
// order and times do not count; what it covers does. What an API server
// really writes (status updates, patches by other managers) is tested against
// one in test/integration/kube-metadata.test.ts.

import { describe, expect, it } from 'vitest';
import {
  METADATA_FINGERPRINT_LENGTH,
  metadataFingerprint,
} from '../../../lib/model/fingerprint.js';
import type { ManagedFieldsEntry } from '../../../lib/model/object.js';

const spec: ManagedFieldsEntry = {
  manager: 'driftless',
  operation: 'Apply',
  apiVersion: 'apps/v1',
  time: '2026-01-01T00:00:00Z',
  fieldsType: 'FieldsV1',
  fieldsV1: { 'f:spec': { 'f:replicas': {}, 'f:template': { 'f:spec': {} } } },
};
const status: ManagedFieldsEntry = {
  manager: 'kube-controller-manager',
  operation: 'Update',
  apiVersion: 'apps/v1',
  time: '2026-01-01T00:00:05Z',
  fieldsType: 'FieldsV1',
  fieldsV1: { 'f:status': { 'f:replicas': {} } },
  subresource: 'status',
};
const meta = {
  generation: 3,
  labels: { 'driftless.dev/app': 'web', tier: 'front' },
  annotations: { note: 'x' },
  managedFields: [spec, status],
};

describe('metadataFingerprint', () => {
  it('is a short base64url string, the same whatever order keys were written in', () => {
    const fp = metadataFingerprint(meta);
    expect(fp).toMatch(new RegExp(`^[A-Za-z0-9_-]{${METADATA_FINGERPRINT_LENGTH}}$`));
    const reordered = {
      managedFields: [
        {
          fieldsV1: { 'f:spec': { 'f:template': { 'f:spec': {} }, 'f:replicas': {} } },
          fieldsType: 'FieldsV1',
          time: spec.time,
          apiVersion: 'apps/v1',
          operation: 'Apply',
          manager: 'driftless',
        },
        status,
      ],
      annotations: { note: 'x' },
      labels: { tier: 'front', 'driftless.dev/app': 'web' },
      generation: 3,
    };
    expect(metadataFingerprint(reordered)).toBe(fp);
    // Entries in another order are the same ownership.
    expect(metadataFingerprint({ ...meta, managedFields: [status, spec] })).toBe(fp);
  });

  it('hashes absent and empty labels, annotations and managedFields alike', () => {
    expect(metadataFingerprint({})).toBe(
      metadataFingerprint({ labels: {}, annotations: {}, managedFields: [] }),
    );
  });

  it('ignores times and status-subresource entries', () => {
    const fp = metadataFingerprint(meta);
    expect(
      metadataFingerprint({
        ...meta,
        managedFields: [{ ...spec, time: '2026-02-02T00:00:00Z' }],
      }),
    ).toBe(fp);
    expect(
      metadataFingerprint({
        ...meta,
        managedFields: [spec, { ...status, fieldsV1: { 'f:status': { 'f:conditions': {} } } }],
      }),
    ).toBe(fp);
  });

  it('leaves out labels and annotations only a status-subresource writer owns', () => {
    const fp = metadataFingerprint(meta);
    // The deployment controller writes the revision annotation through /status.
    const revisionBy = (entry: ManagedFieldsEntry): ManagedFieldsEntry => ({
      ...entry,
      fieldsV1: {
        ...entry.fieldsV1,
        'f:metadata': { 'f:annotations': { '.': {}, 'f:deployment.kubernetes.io/revision': {} } },
      },
    });
    const revised = (n: string) => ({
      ...meta,
      annotations: { ...meta.annotations, 'deployment.kubernetes.io/revision': n },
      managedFields: [spec, revisionBy(status)],
    });
    expect(metadataFingerprint(revised('1'))).toBe(fp);
    expect(metadataFingerprint(revised('2'))).toBe(fp);
    // Owned by a non-status writer too (or only), it counts, value and all.
    const byHand = revisionBy({ ...spec, manager: 'kubectl-annotate', operation: 'Update' });
    const shared = (n: string) => ({
      ...revised(n),
      managedFields: [spec, revisionBy(status), byHand],
    });
    expect(metadataFingerprint(shared('1'))).not.toBe(fp);
    expect(metadataFingerprint(shared('2'))).not.toBe(metadataFingerprint(shared('1')));
  });

  it('changes with the generation, a label, an annotation or any other field ownership', () => {
    const fp = metadataFingerprint(meta);
    const variants = [
      { ...meta, generation: 4 },
      { ...meta, generation: undefined },
      { ...meta, labels: { ...meta.labels, tier: 'back' } },
      { ...meta, annotations: {} },
      {
        ...meta,
        annotations: {
          ...meta.annotations,
          'kubectl.kubernetes.io/last-applied-configuration': '{}',
        },
      },
      {
        ...meta,
        managedFields: [spec, status, { ...spec, manager: 'kubectl-edit', operation: 'Update' }],
      },
      {
        ...meta,
        managedFields: [{ ...spec, fieldsV1: { 'f:spec': { 'f:replicas': {} } } }, status],
      },
      // The same fields owned through the main resource, not the status subresource.
      { ...meta, managedFields: [spec, { ...status, subresource: undefined }] },
    ];
    const fps = variants.map(metadataFingerprint);
    for (const other of fps) expect(other).not.toBe(fp);
    expect(new Set(fps).size).toBe(variants.length);
  });
});
