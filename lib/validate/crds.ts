// CustomResourceDefinitions as the validator reads them: which group, kind
// and versions each serves, whether namespaced, whether status is a
// subresource, and each version's structural schema. CRDs come from the
// render itself, from files the user gives (`--crds`), or from the cluster.

import { groupKind, isCustomResourceDefinition } from '../model/kinds.js';
import type { KubeObject } from '../model/object.js';

export const CRD_API_VERSION = 'apiextensions.k8s.io/v1';

/** One version of a custom resource kind. */
export interface CustomResourceVersion {
  group: string;
  kind: string;
  version: string;
  served: boolean;
  namespaced: boolean;
  statusSubresource: boolean;
  /** The CRD's name, for messages: `widgets.acme.example`. */
  crd: string;
  /** spec.versions[].schema.openAPIV3Schema; undefined if the CRD has none. */
  schema: unknown;
}

/** Custom resource kinds by group and kind; the first CRD added for a group/kind wins. */
export class CrdIndex {
  private readonly byGroupKind = new Map<string, CustomResourceVersion[]>();

  /** Adds the kinds of a CRD (ignored if it is not a readable v1 CRD). */
  add(crd: KubeObject): void {
    if (!isCustomResourceDefinition(crd) || crd.apiVersion !== CRD_API_VERSION) return;
    const spec = record(crd.spec);
    const names = record(spec?.names);
    const group = spec?.group;
    const kind = names?.kind;
    if (typeof group !== 'string' || typeof kind !== 'string') return;
    const key = groupKind(group, kind);
    if (this.byGroupKind.has(key)) return;
    const versions = Array.isArray(spec?.versions) ? spec.versions : [];
    this.byGroupKind.set(
      key,
      versions.flatMap((v): CustomResourceVersion[] => {
        const version = record(v);
        if (typeof version?.name !== 'string') return [];
        return [
          {
            group,
            kind,
            version: version.name,
            served: version.served !== false,
            namespaced: spec?.scope !== 'Cluster',
            statusSubresource: record(record(version.subresources)?.status) !== undefined,
            crd: crd.metadata.name ?? `${names?.plural ?? kind}.${group}`,
            schema: record(version.schema)?.openAPIV3Schema,
          },
        ];
      }),
    );
  }

  addAll(crds: Iterable<KubeObject>): this {
    for (const crd of crds) this.add(crd);
    return this;
  }

  /** The versions of a group/kind, or undefined if no CRD defines it. */
  versionsOf(group: string, kind: string): readonly CustomResourceVersion[] | undefined {
    return this.byGroupKind.get(groupKind(group, kind));
  }
}

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}
