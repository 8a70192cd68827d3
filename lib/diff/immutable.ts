// Naming the field behind an immutable-field refusal. Most refusals name it
// (a Deployment's spec.selector, a Service's spec.clusterIPs[0]), but a
// StatefulSet's names only `spec` and lists the fields that may change
// ("updates to statefulset spec for fields other than 'replicas', 'template',
// ... are forbidden"): the change that hit it (volumeClaimTemplates, say) is
// found by comparing what is sent with the live object.

import type { KubeObject } from '../model/object.js';
import { compareDesired } from './compare.js';

/** The server's words when it refuses any change to a spec but the fields it lists. */
const FORBIDDEN_SPEC_UPDATE = /updates to \S+ spec for fields other than (.+?) are forbidden/i;
/** At most this many changed fields are named. */
const NAMED_FIELDS_MAX = 5;

/**
 * The fields a refused change touches, when the server named only the whole
 * spec: the desired values that differ from the live object outside the
 * fields the message says may change. Undefined when the server's own field
 * is as precise as it gets, or nothing differing is found.
 */
export function refusedFields(
  message: string,
  desired: KubeObject,
  live: KubeObject | undefined,
): string | undefined {
  const forbidden = FORBIDDEN_SPEC_UPDATE.exec(message);
  if (!forbidden || !live) return undefined;
  const mutable = new Set([...(forbidden[1] ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1]));
  const changed = compareDesired(desired.spec, live.spec, 50)
    .map((d) => d.path)
    .filter((p) => !mutable.has(p.split(/[.[]/)[0] ?? ''))
    .map((p) => `spec.${p}`);
  if (!changed.length) return undefined;
  const more =
    changed.length > NAMED_FIELDS_MAX ? ` and ${changed.length - NAMED_FIELDS_MAX} more` : '';
  return `${changed.slice(0, NAMED_FIELDS_MAX).join(', ')}${more}`;
}
