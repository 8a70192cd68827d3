// A readable unified diff between the live object and what applying would
// leave (the server's dry-run answer), without server bookkeeping, and with
// Secret values masked: equal values get the same mask, different values a
// different one, so a reader sees *that* a value changed, never the value.

import { createHash } from 'node:crypto';
import { createTwoFilesPatch } from 'diff';
import { stringify } from 'yaml';
import type { KubeObject } from '../model/object.js';

const NOISY_METADATA = [
  'managedFields',
  'resourceVersion',
  'uid',
  'generation',
  'creationTimestamp',
  'selfLink',
];
const NOISY_ANNOTATIONS = ['kubectl.kubernetes.io/last-applied-configuration'];

/** The object without fields only the server writes (status, bookkeeping). */
export function withoutServerFields(obj: KubeObject): KubeObject {
  const { status: _status, ...rest } = obj;
  const metadata = { ...obj.metadata };
  for (const k of NOISY_METADATA) delete metadata[k];
  if (metadata.annotations) {
    const annotations = { ...metadata.annotations };
    for (const a of NOISY_ANNOTATIONS) delete annotations[a];
    if (Object.keys(annotations).length) metadata.annotations = annotations;
    else delete metadata.annotations;
  }
  return { ...rest, metadata } as KubeObject;
}

/** Replaces Secret values in both objects with masks consistent across the pair. */
export function maskSecretPair(
  before: KubeObject | undefined,
  after: KubeObject | undefined,
): [KubeObject | undefined, KubeObject | undefined] {
  const kind = (before ?? after)?.kind;
  if (kind !== 'Secret') return [before, after];
  const masks = new Map<string, string>();
  const maskOf = (value: unknown) => {
    const h = createHash('sha256').update(String(value)).digest('hex');
    let m = masks.get(h);
    if (!m) {
      m = '+'.repeat(8 + masks.size);
      masks.set(h, m);
    }
    return m;
  };
  const mask = (obj: KubeObject | undefined) => {
    if (!obj) return obj;
    const out: KubeObject = { ...obj };
    for (const field of ['data', 'stringData']) {
      const values = obj[field];
      if (values && typeof values === 'object') {
        // stringData is plain text, data base64: compare them as the same bytes.
        out[field] = Object.fromEntries(
          Object.entries(values as Record<string, unknown>).map(([k, v]) => [
            k,
            maskOf(field === 'stringData' ? Buffer.from(String(v)).toString('base64') : v),
          ]),
        );
      }
    }
    return out;
  };
  return [mask(before), mask(after)];
}

/** Unified diff of live → desired-after-apply, as YAML. Empty when equal. */
export function unifiedDiff(
  name: string,
  live: KubeObject | undefined,
  merged: KubeObject | undefined,
): string {
  const [a, b] = maskSecretPair(
    live ? withoutServerFields(live) : undefined,
    merged ? withoutServerFields(merged) : undefined,
  );
  const before = a ? stringify(a, { sortMapEntries: true }) : '';
  const after = b ? stringify(b, { sortMapEntries: true }) : '';
  if (before === after) return '';
  return createTwoFilesPatch(
    `live/${name}`,
    `desired/${name}`,
    before,
    after,
    undefined,
    undefined,
    {
      context: 3,
    },
  );
}
