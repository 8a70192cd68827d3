// A cluster's own schemas, for the check before every sync: the OpenAPI v3
// document of each group-version it serves (GET /openapi/v3, then each
// group-version's document), read exactly as the shipped bundle is, plus its
// CustomResourceDefinitions, which validate its custom resources the same way
// CRDs in a render do. Group-versions only CRDs serve are not fetched.
//
// The kube client satisfies OpenApiReader as it is:
//   schemasFromCluster({ getJSON: (p) => client.requestJson('GET', p, undefined, { verb: 'openapi' }) })
// A first call costs 3 + (group-versions the API server itself serves) GETs.
// Given the previous SchemaSet of the same cluster, a call costs one GET
// while nothing changed: the index has a hash per group-version, CRD-served
// ones included, so a CRD created, changed or deleted shows there too; and
// the previous set comes back as it is, with its compiled validators.

import { mapBounded } from '../concurrency.js';
import { DriftlessError, isDriftlessError } from '../errors.js';
import type { KubeObject } from '../model/object.js';
import { CRD_API_VERSION } from './crds.js';
import { bundleFromOpenApi, type OpenApiV3Document } from './openapi.js';
import { loadShippedSchemas, SchemaSet } from './schemas.js';

/** Group-version documents read at once. */
export const DEFAULT_SCHEMA_CONCURRENCY = 8;

/** The one thing schemasFromCluster needs of a cluster client. */
export interface OpenApiReader {
  /** GET a path (with query) of the API server, parsed as JSON. */
  getJSON(path: string): Promise<unknown>;
}

export interface ClusterSchemaOptions {
  /** Shown where messages name the schemas' origin. Default `cluster`. */
  clusterName?: string;
  /** Concurrent document requests. Default 8. */
  concurrency?: number;
  /** The last SchemaSet of this cluster: returned as it is if the cluster's documents are unchanged. */
  previous?: SchemaSet;
}

interface OpenApiV3Index {
  paths?: Record<string, { serverRelativeURL?: string }>;
}

/** `api/v1` and `apis/<group>/<version>`, not `apis/<group>`, `version`, `logs`… */
const GROUP_VERSION_PATH = /^(api\/v1|apis\/[^/]+\/[^/]+)$/;

export async function schemasFromCluster(
  reader: OpenApiReader,
  opts: ClusterSchemaOptions = {},
): Promise<SchemaSet> {
  let index = await readIndex(reader);
  const previous = opts.previous;
  if (previous?.origin === 'cluster' && sameHashes(previous.documentHashes, index.hashes)) {
    return previous;
  }
  // The CRD list and the documents are read after the index: a CRD created in
  // between would look like an API of the server's own. Read until the index
  // is the same after as before (it changes only when APIs or CRDs do).
  for (let attempt = 1; ; attempt++) {
    if (!index.hashes['api/v1']) {
      throw new DriftlessError(
        'Internal',
        'the API server does not publish OpenAPI v3 for api/v1 (GET /openapi/v3)',
      );
    }
    // Namespace-scoped access (EKS access entries scoped to namespaces) may
    // not list CRDs: then only the API server's own group-versions are read,
    // and custom resources whose CRD is not in the render are not checked
    // (their kinds are unknown here, a warning, not an error).
    const crds = await listCrds(reader);
    const crdGroupVersions = new Set(
      (crds ?? []).flatMap((crd) => {
        const spec = crd.spec as { group?: string; versions?: { name?: string }[] } | undefined;
        return (spec?.versions ?? []).map((v) => `apis/${spec?.group}/${v.name}`);
      }),
    );
    const builtin = crds ? undefined : await loadShippedSchemas();
    // A group-version can go between the index and its document (a CRD
    // deleted meanwhile): a 404 means the index changed, like a new hash.
    const fetched = await mapBounded(
      index.entries.filter(([p]) =>
        builtin
          ? p === 'api/v1' || builtin.isBuiltinGroup(p.split('/')[1] ?? '')
          : !crdGroupVersions.has(p),
      ),
      opts.concurrency ?? DEFAULT_SCHEMA_CONCURRENCY,
      async ([, url]) => {
        try {
          return (await reader.getJSON(url)) as OpenApiV3Document;
        } catch (e) {
          if (isDriftlessError(e) && e.reason === 'NotFound') return undefined;
          throw e;
        }
      },
    );
    const documents = fetched.filter((d): d is OpenApiV3Document => d !== undefined);
    const after = await readIndex(reader);
    const stable = sameHashes(after.hashes, index.hashes) && documents.length === fetched.length;
    if (stable || attempt === MAX_ATTEMPTS) {
      const bundle = bundleFromOpenApi(documents, opts.clusterName ?? 'cluster');
      return new SchemaSet(bundle, 'cluster', {
        crds: crds ?? [],
        crdsVisible: crds !== undefined,
        documentHashes: index.hashes,
      });
    }
    index = after;
  }
}

const MAX_ATTEMPTS = 3;

/** The group-version documents of GET /openapi/v3: `[path, URL]`, and each one's hash. */
async function readIndex(
  reader: OpenApiReader,
): Promise<{ entries: [string, string][]; hashes: Record<string, string> }> {
  const index = (await reader.getJSON('/openapi/v3')) as OpenApiV3Index;
  const entries = Object.entries(index.paths ?? {}).flatMap(([p, e]): [string, string][] =>
    GROUP_VERSION_PATH.test(p) && typeof e.serverRelativeURL === 'string'
      ? [[p, e.serverRelativeURL]]
      : [],
  );
  const hashes = Object.fromEntries(
    entries.map(([p, url]) => [p, new URL(url, 'https://api').searchParams.get('hash') ?? '']),
  );
  return { entries, hashes };
}

function sameHashes(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** The cluster's CRDs; undefined when the caller may not list them (Forbidden). */
async function listCrds(reader: OpenApiReader): Promise<KubeObject[] | undefined> {
  try {
    return await listAllCrds(reader);
  } catch (e) {
    if (isDriftlessError(e) && e.reason === 'Forbidden') return undefined;
    throw e;
  }
}

async function listAllCrds(reader: OpenApiReader): Promise<KubeObject[]> {
  const items: KubeObject[] = [];
  let cont: string | undefined;
  do {
    const q = new URLSearchParams({ limit: '250' });
    if (cont) q.set('continue', cont);
    const page = (await reader.getJSON(
      `/apis/${CRD_API_VERSION}/customresourcedefinitions?${q}`,
    )) as {
      items?: KubeObject[];
      metadata?: { continue?: string };
    };
    for (const item of page.items ?? []) {
      items.push({ ...item, apiVersion: CRD_API_VERSION, kind: 'CustomResourceDefinition' });
    }
    cont = page.metadata?.continue || undefined;
  } while (cont);
  return items;
}
