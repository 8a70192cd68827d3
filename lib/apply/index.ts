// Applying desired objects with server-side apply (field manager `driftless`):
// independent objects of one wave concurrently with a bound, the kinds others
// depend on (ServiceAccounts, Secrets, ConfigMaps, RBAC, storage) a step
// ahead of the workloads that reference them; CRDs waited on until
// Established so their custom resources can follow in the same sync.

import { mapBounded } from '../concurrency.js';
import { asDriftlessError, DriftlessError } from '../errors.js';
import { isPrerequisiteKind } from '../model/kinds.js';
import type { KubeObject } from '../model/object.js';
import { type ClusterClient, DEFAULT_REQUEST_CONCURRENCY } from '../ports/cluster.js';

export interface ApplyItem {
  key: string;
  /** What to send (desired minus ignored fields). */
  object: KubeObject;
  file?: string;
  line?: number;
}

export interface ApplyOptions {
  force: boolean;
  concurrency?: number;
  /** Called after each successful apply (progress, order tracking). */
  onApplied?: (key: string, live: KubeObject) => void;
}

/** Applies one group of objects; resolves to the live objects the server returned, by key. */
export async function applyObjects(
  client: ClusterClient,
  items: ApplyItem[],
  opts: ApplyOptions,
): Promise<Map<string, KubeObject>> {
  const applied = new Map<string, KubeObject>();
  const steps = [
    items.filter((i) => isPrerequisiteKind(i.object)),
    items.filter((i) => !isPrerequisiteKind(i.object)),
  ];
  for (const step of steps) {
    await mapBounded(step, opts.concurrency ?? DEFAULT_REQUEST_CONCURRENCY, async (item) => {
      try {
        const live = await client.apply(item.object, { force: opts.force });
        applied.set(item.key, live);
        opts.onApplied?.(item.key, live);
      } catch (e) {
        const err = asDriftlessError(e, 'ApplyRejected');
        throw new DriftlessError(
          err.reason,
          err.message,
          {
            ...err.location,
            file: item.file ?? err.location.file,
            line: item.line ?? err.location.line,
          },
          { cause: e },
        );
      }
    });
  }
  return applied;
}

/** How long a sync waits for its CRDs to be Established, and how often it looks. */
export const CRD_ESTABLISHED_TIMEOUT_MS = 30_000;
export const CRD_POLL_MS = 250;

interface CrdStatus {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/**
 * Waits until each CRD is Established (names accepted, served), then forgets
 * cached discovery so its kinds resolve. CRDs establish within a second or
 * two; a CRD whose names conflict never does, and that is an error.
 */
export async function waitForCrds(
  client: ClusterClient,
  crds: KubeObject[],
  timeoutMs = CRD_ESTABLISHED_TIMEOUT_MS,
  pollMs = CRD_POLL_MS,
): Promise<void> {
  if (crds.length === 0) return;
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(crds.map((c) => c.metadata.name as string));
  while (pending.size) {
    for (const name of [...pending]) {
      const live = (await client.get(
        'apiextensions.k8s.io/v1',
        'CustomResourceDefinition',
        '',
        name,
      )) as (KubeObject & CrdStatus) | undefined;
      const conditions = live?.status?.conditions ?? [];
      const namesAccepted = conditions.find((c) => c.type === 'NamesAccepted');
      if (namesAccepted?.status === 'False') {
        throw new DriftlessError(
          'ApplyRejected',
          `CRD names not accepted: ${namesAccepted.message ?? namesAccepted.reason}`,
          {
            object: `CustomResourceDefinition/${name}`,
          },
        );
      }
      if (conditions.some((c) => c.type === 'Established' && c.status === 'True'))
        pending.delete(name);
    }
    if (!pending.size) break;
    if (Date.now() > deadline) {
      throw new DriftlessError(
        'HealthTimeout',
        `CRDs not Established after ${timeoutMs / 1000}s: ${[...pending].join(', ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  client.invalidateDiscovery();
}
