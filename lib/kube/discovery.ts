// API discovery: which resource (plural path, scope) serves a group/version/kind.
// Uses aggregated discovery (apidiscovery.k8s.io/v2: the whole API surface in
// two requests, /api and /apis), cached until invalidated, and refreshed once
// when asked for a kind it does not know (a CRD created since).

import { DriftlessError } from '../errors.js';
import type { ResourceInfo } from '../ports/cluster.js';

type Fetch = (path: string, accept: string) => Promise<unknown>;

const AGGREGATED =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;q=0.9';

interface DiscoveryList {
  kind?: string;
  items?: {
    metadata?: { name?: string };
    versions?: {
      version: string;
      resources?: {
        resource: string;
        responseKind?: { group?: string; version?: string; kind?: string };
        scope?: 'Namespaced' | 'Cluster';
        verbs?: string[];
      }[];
    }[];
  }[];
}

export class Discovery {
  private byGvk: Map<string, ResourceInfo> | undefined;
  private loading: Promise<Map<string, ResourceInfo>> | undefined;
  /** Number of full discovery loads, for tests and benchmarks. */
  loads = 0;

  constructor(private readonly fetch: Fetch) {}

  invalidate(): void {
    this.byGvk = undefined;
  }

  async resourceFor(group: string, version: string, kind: string): Promise<ResourceInfo> {
    const key = `${group}/${version}/${kind}`;
    let found = (await this.load()).get(key);
    if (!found) {
      this.invalidate();
      found = (await this.load()).get(key);
    }
    if (!found) {
      throw new DriftlessError(
        'UnknownKind',
        `the cluster does not serve kind ${kind} in ${group ? `${group}/${version}` : version}` +
          ' (is its CRD installed, and the apiVersion right?)',
      );
    }
    return found;
  }

  /** Whether the kind is served, without throwing. */
  async has(group: string, version: string, kind: string): Promise<boolean> {
    return (await this.load()).has(`${group}/${version}/${kind}`);
  }

  private load(): Promise<Map<string, ResourceInfo>> {
    if (this.byGvk) return Promise.resolve(this.byGvk);
    this.loading ??= (async () => {
      try {
        // Both requests settle before a failure is reported: a rejected /api
        // must not leave /apis retrying behind the caller's back.
        const settled = await Promise.allSettled([
          this.fetch('/api', AGGREGATED),
          this.fetch('/apis', AGGREGATED),
        ]);
        for (const s of settled) if (s.status === 'rejected') throw s.reason;
        const [core, groups] = settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
        const map = new Map<string, ResourceInfo>();
        for (const doc of [core, groups] as DiscoveryList[]) {
          if (doc.kind !== 'APIGroupDiscoveryList') {
            throw new DriftlessError(
              'Internal',
              'the API server does not serve aggregated discovery (apidiscovery.k8s.io/v2, Kubernetes 1.30+)',
            );
          }
          for (const g of doc.items ?? []) {
            const group = g.metadata?.name ?? '';
            for (const v of g.versions ?? []) {
              for (const r of v.resources ?? []) {
                const kind = r.responseKind?.kind;
                if (!kind || r.resource.includes('/')) continue;
                const info: ResourceInfo = {
                  group,
                  version: v.version,
                  apiVersion: group ? `${group}/${v.version}` : v.version,
                  kind,
                  plural: r.resource,
                  namespaced: r.scope === 'Namespaced',
                  verbs: r.verbs ?? [],
                };
                map.set(`${group}/${v.version}/${kind}`, info);
              }
            }
          }
        }
        this.loads++;
        this.byGvk = map;
        return map;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }
}
