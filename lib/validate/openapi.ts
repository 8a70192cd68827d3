// Kubernetes OpenAPI v3 documents (one per group-version, as an API server
// serves them at /openapi/v3/<path> and as k8s.io/kubernetes ships them in
// api/openapi-spec/v3) reduced to what validating an object needs: the kinds
// each group-version serves (with scope and whether status is a
// subresource), and their schemas without descriptions, defaults or patch
// hints. The shipped bundle (scripts/schemas.ts) and a live cluster's schemas
// (cluster.ts) both go through bundleFromOpenApi, so they cannot differ in
// how they are read.

/** A schema as the bundle keeps it: the Kubernetes OpenAPI v3 keywords validation uses. */
export interface KubeSchema {
  type?: string;
  format?: string;
  /** A definition name (not a JSON pointer), e.g. `io.k8s.api.core.v1.PodSpec`. */
  $ref?: string;
  properties?: Record<string, KubeSchema>;
  required?: string[];
  items?: KubeSchema;
  additionalProperties?: KubeSchema | boolean;
  enum?: unknown[];
  oneOf?: KubeSchema[];
  nullable?: boolean;
  /** Only on the key fields of a `map` list: SSA uses it for an item that omits the key. */
  default?: unknown;
  'x-kubernetes-list-type'?: 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
}

/** A kind a group-version serves. */
export interface KindInfo {
  /** Its schema's definition name. */
  definition: string;
  namespaced: boolean;
  /** Whether `status` is a subresource: the main resource then ignores what a manifest sets there. */
  statusSubresource: boolean;
}

export interface SchemaBundle {
  format: typeof BUNDLE_FORMAT;
  /** `v1.34.4`: the build the schemas come from (`cluster` for a live cluster's own). */
  kubernetesVersion: string;
  /** apiVersion (`v1`, `apps/v1`) → kind → what it is. */
  kinds: Record<string, Record<string, KindInfo>>;
  definitions: Record<string, KubeSchema>;
}

export const BUNDLE_FORMAT = 1;

/** The parts of an OpenAPI v3 document this module reads. */
export interface OpenApiV3Document {
  paths?: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, unknown> };
}

const REF_PREFIX = '#/components/schemas/';

/** The kinds and (reachable) definitions of a set of group-version documents. */
export function bundleFromOpenApi(
  documents: readonly OpenApiV3Document[],
  kubernetesVersion: string,
): SchemaBundle {
  const raw = new Map<string, unknown>();
  const kinds: Record<string, Record<string, KindInfo>> = {};
  for (const doc of documents) {
    for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
      if (!raw.has(name)) raw.set(name, schema);
    }
    for (const [apiVersion, kind, info] of kindsOf(doc)) {
      kinds[apiVersion] ??= {};
      const known = kinds[apiVersion][kind];
      kinds[apiVersion][kind] = known
        ? { ...known, statusSubresource: known.statusSubresource || info.statusSubresource }
        : info;
    }
  }

  const definitions: Record<string, KubeSchema> = {};
  const pending = Object.values(kinds).flatMap((byKind) =>
    Object.values(byKind).map((k) => k.definition),
  );
  while (pending.length) {
    const name = pending.pop() as string;
    if (name in definitions) continue;
    const schema = raw.get(name);
    if (schema === undefined)
      throw new Error(`OpenAPI: definition ${name} is referenced but absent`);
    definitions[name] = compact(schema, (ref) => pending.push(ref));
  }
  keepOnlyListKeyDefaults(definitions);
  return {
    format: BUNDLE_FORMAT,
    kubernetesVersion,
    kinds: sortKeys(mapValues(kinds, sortKeys)),
    definitions: sortKeys(definitions),
  };
}

const COLLECTION = /^\/(?:api\/v1|apis\/[^/]+\/[^/]+)\/(namespaces\/\{namespace\}\/)?[a-z0-9.-]+$/;

/** `[apiVersion, kind, info]` for every resource a document's paths create (POST on a collection). */
function kindsOf(doc: OpenApiV3Document): [string, string, KindInfo][] {
  const out: [string, string, KindInfo][] = [];
  const paths = doc.paths ?? {};
  for (const [path, item] of Object.entries(paths)) {
    const match = COLLECTION.exec(path);
    const post = asRecord(item.post);
    if (!match || !post) continue;
    const gvk = asRecord(post['x-kubernetes-group-version-kind']);
    const body = asRecord(asRecord(asRecord(post.requestBody)?.content)?.['*/*']);
    const ref = asRecord(body?.schema)?.$ref;
    if (!gvk || typeof ref !== 'string' || !ref.startsWith(REF_PREFIX)) continue;
    const { group, version, kind } = gvk as { group: string; version: string; kind: string };
    const apiVersion = group ? `${group}/${version}` : version;
    // `.../namespaces/{namespace}/pods` → `.../namespaces/{namespace}/pods/{name}/status`
    const statusSubresource = `${path}/{name}/status` in paths;
    out.push([
      apiVersion,
      kind,
      { definition: ref.slice(REF_PREFIX.length), namespaced: !!match[1], statusSubresource },
    ]);
  }
  return out;
}

const KEPT_FLAGS = [
  'nullable',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-embedded-resource',
] as const;

/** One schema reduced to validation keywords; `onRef` hears every definition it references. */
function compact(value: unknown, onRef: (name: string) => void): KubeSchema {
  const s = asRecord(value) ?? {};
  const out: KubeSchema = {};
  // `allOf: [{$ref}]` is how v3 attaches a description or default to a reference.
  const allOf = Array.isArray(s.allOf) ? s.allOf : undefined;
  const ref = typeof s.$ref === 'string' ? s.$ref : asRecord(allOf?.[0])?.$ref;
  if (typeof ref === 'string' && (s.$ref !== undefined || allOf?.length === 1)) {
    const name = ref.startsWith(REF_PREFIX) ? ref.slice(REF_PREFIX.length) : ref;
    onRef(name);
    out.$ref = name;
  }
  if (typeof s.type === 'string') out.type = s.type;
  if (typeof s.format === 'string' && s.format !== '') out.format = s.format;
  if (Array.isArray(s.enum)) out.enum = s.enum;
  if (Array.isArray(s.required) && s.required.length) out.required = s.required as string[];
  const properties = asRecord(s.properties);
  if (properties) {
    out.properties = mapValues(properties, (p) => compact(p, onRef));
  }
  if (s.items !== undefined) out.items = compact(s.items, onRef);
  if (typeof s.additionalProperties === 'boolean') {
    out.additionalProperties = s.additionalProperties;
  } else if (s.additionalProperties !== undefined) {
    out.additionalProperties = compact(s.additionalProperties, onRef);
  }
  if (Array.isArray(s.oneOf)) out.oneOf = s.oneOf.map((o) => compact(o, onRef));
  const listType = s['x-kubernetes-list-type'];
  if (listType === 'set' || listType === 'map') out['x-kubernetes-list-type'] = listType;
  const keys = s['x-kubernetes-list-map-keys'];
  if (listType === 'map' && Array.isArray(keys))
    out['x-kubernetes-list-map-keys'] = keys as string[];
  // Scalar defaults, until keepOnlyListKeyDefaults drops all but those of list keys.
  if (s.default !== undefined && (s.default === null || typeof s.default !== 'object')) {
    out.default = s.default;
  }
  for (const flag of KEPT_FLAGS) if (s[flag] === true) out[flag] = true;
  return out;
}

/**
 * Built-in defaults are applied by Go code, not by the schema, so validation
 * ignores them, with one exception: server-side apply fills the key of a
 * `map` list's item from its default (a ServicePort without `protocol` is
 * keyed TCP). Only those survive.
 */
function keepOnlyListKeyDefaults(definitions: Record<string, KubeSchema>): void {
  const keep = new Set<KubeSchema>();
  const visit = (s: KubeSchema): void => {
    const keys = s['x-kubernetes-list-map-keys'];
    if (keys && s.items) {
      const item = s.items.$ref ? definitions[s.items.$ref] : s.items;
      for (const key of keys) {
        const p = item?.properties?.[key];
        if (p) keep.add(p);
      }
    }
    forEachChild(s, visit);
  };
  const strip = (s: KubeSchema): void => {
    if (!keep.has(s)) delete s.default;
    forEachChild(s, strip);
  };
  for (const d of Object.values(definitions)) visit(d);
  for (const d of Object.values(definitions)) strip(d);
}

export function forEachChild(s: KubeSchema, f: (child: KubeSchema) => void): void {
  for (const p of Object.values(s.properties ?? {})) f(p);
  if (s.items) f(s.items);
  if (typeof s.additionalProperties === 'object') f(s.additionalProperties);
  for (const o of s.oneOf ?? []) f(o);
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function mapValues<T, U>(record: Record<string, T>, f: (v: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(
    Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}
