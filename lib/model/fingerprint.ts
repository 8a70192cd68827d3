// The metadata fingerprint: a short hash of what in an object's metadata
// changes when someone other than its controllers changes the object, so a
// metadata-only LIST tells which objects may have drifted without reading
// their spec. generation moves with every spec change; labels and annotations
// are compared whole (a hand `kubectl apply` rewrites last-applied-configuration,
// and that is drift too); the managedFields entries move with every write by
// any field manager, even to kinds that have no generation (a ConfigMap's
// data). Left out: resourceVersion, the entries of the status subresource,
// every entry's time, and the labels and annotations only a status-subresource
// writer owns — what a controller's status update changes and nothing else
// does (the deployment controller sets `deployment.kubernetes.io/revision`
// through /status: Deployments' status strategy keeps labels but not
// annotations). Anyone else writing such a key takes it over (Update takes
// ownership), so it counts again.

import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import type { ManagedFieldsEntry, ObjectMeta } from './object.js';

/** What the fingerprint is computed from: a full object's metadata or a PartialObjectMetadata's. */
export type FingerprintedMetadata = Pick<
  ObjectMeta,
  'generation' | 'labels' | 'annotations' | 'managedFields'
>;

/** Characters of the base64url SHA-256 kept (96 bits). */
export const METADATA_FINGERPRINT_LENGTH = 16;

/** Changes whenever what is hashed changes, so fingerprints stored by an older recipe never match. */
const RECIPE = 'metadata-fingerprint/1';

/** The subresource whose writes are a controller reporting, not a change to the object. */
const STATUS_SUBRESOURCE = 'status';

/**
 * A stable hash of the metadata's generation, labels, annotations and
 * managedFields — without status-subresource entries, without times, and
 * without the labels and annotations only status-subresource entries own.
 * Absent and empty labels, annotations and managedFields hash alike, and the
 * entries' order does not count, so a full GET and a metadata LIST of the same
 * object give the same value.
 */
export function metadataFingerprint(meta: FingerprintedMetadata): string {
  const entries = meta.managedFields ?? [];
  const status = entries.filter((e) => e.subresource === STATUS_SUBRESOURCE);
  const others = entries.filter((e) => e.subresource !== STATUS_SUBRESOURCE);
  const managed = others.map((e) => canonicalJson(withoutTime(e))).sort();
  const hashed = canonicalJson({
    recipe: RECIPE,
    generation: meta.generation ?? null,
    labels: withoutStatusOwned(meta.labels, 'f:labels', status, others),
    annotations: withoutStatusOwned(meta.annotations, 'f:annotations', status, others),
    managedFields: managed,
  });
  return createHash('sha256')
    .update(hashed)
    .digest('base64url')
    .slice(0, METADATA_FINGERPRINT_LENGTH);
}

function withoutTime(entry: ManagedFieldsEntry): ManagedFieldsEntry {
  const { time: _time, ...rest } = entry;
  return rest;
}

/** The map without the keys some status entry owns and no other entry does. */
function withoutStatusOwned(
  map: Record<string, string> | undefined,
  field: 'f:labels' | 'f:annotations',
  status: ManagedFieldsEntry[],
  others: ManagedFieldsEntry[],
): Record<string, string> {
  if (!map || status.length === 0) return map ?? {};
  const byOthers = new Set(others.flatMap((e) => ownedKeys(e, field)));
  const statusOnly = new Set(
    status.flatMap((e) => ownedKeys(e, field)).filter((k) => !byOthers.has(k)),
  );
  return Object.fromEntries(Object.entries(map).filter(([k]) => !statusOnly.has(k)));
}

/** The label or annotation keys an entry's fieldsV1 owns (`f:metadata` → `f:labels` → `f:<key>`). */
function ownedKeys(entry: ManagedFieldsEntry, field: 'f:labels' | 'f:annotations'): string[] {
  const metadata = asRecord(entry.fieldsV1?.['f:metadata']);
  const owned = asRecord(metadata?.[field]);
  return owned
    ? Object.keys(owned)
        .filter((k) => k.startsWith('f:'))
        .map((k) => k.slice(2))
    : [];
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}
