// An in-memory ClusterClient for unit tests of the engine's sync logic only
// (ordering, fail-fast, what is written when): objects in a map, a fixed set of
// kinds, requests counted like the real client, and failures injected per
// object. It is not Kubernetes: no defaulting, no field ownership, no
// validation, no controllers. Anything that depends on how an API server
// behaves is tested against the real one (test/integration, test/e2e).

import { DriftlessError } from '../../lib/errors.js';
import {
  groupOf,
  type KubeObject,
  type ObjectRef,
  objectKey,
  refKey,
  versionOf,
} from '../../lib/model/object.js';
import {
  type ClusterClient,
  type DeleteOptions,
  type ListOptions,
  type ObjectMetadata,
  type RequestStats,
  type ResourceInfo,
  type ServerApplyOptions,
  toObjectMetadata,
} from '../../lib/ports/cluster.js';

/** A request the client saw, in order. */
export interface RecordedRequest {
  verb: 'list' | 'get' | 'apply' | 'delete';
  key: string;
  dryRun?: boolean;
}

const DEFAULT_KINDS: readonly [string, string, boolean][] = [
  ['v1', 'Namespace', false],
  ['v1', 'ConfigMap', true],
  ['v1', 'Secret', true],
  ['v1', 'Service', true],
  ['v1', 'ServiceAccount', true],
  ['apps/v1', 'Deployment', true],
  ['batch/v1', 'Job', true],
  ['rbac.authorization.k8s.io/v1', 'ClusterRole', false],
  ['apiextensions.k8s.io/v1', 'CustomResourceDefinition', false],
];

export class MemoryCluster implements ClusterClient {
  readonly stats: RequestStats = { total: 0, byVerb: {} };
  readonly requests: RecordedRequest[] = [];
  readonly objects = new Map<string, KubeObject>();
  private readonly kinds = new Map<string, ResourceInfo>();
  private readonly failures = new Map<string, DriftlessError>();
  private uid = 0;

  constructor(kinds: readonly [string, string, boolean][] = DEFAULT_KINDS) {
    for (const [apiVersion, kind, namespaced] of kinds) {
      this.kinds.set(`${apiVersion}/${kind}`, {
        group: groupOf(apiVersion),
        version: versionOf(apiVersion),
        apiVersion,
        kind,
        plural: `${kind.toLowerCase()}s`,
        namespaced,
        verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'],
      });
    }
  }

  /** The next apply of the object with this key fails with `error` (dry runs too). */
  failApply(key: string, error: DriftlessError): void {
    this.failures.set(key, error);
  }

  async resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const info = this.kinds.get(`${apiVersion}/${kind}`);
    if (!info) {
      throw new DriftlessError('UnknownKind', `the server does not serve ${apiVersion} ${kind}`);
    }
    return info;
  }

  async list(apiVersion: string, kind: string, opts: ListOptions = {}): Promise<KubeObject[]> {
    await this.resource(apiVersion, kind);
    this.count('list', `${apiVersion}/${kind}`);
    return this.matching(apiVersion, kind, opts);
  }

  /** Like list, one request counted as a `list`; the metadata of copies, so callers cannot alter the store. */
  async listMetadata(
    apiVersion: string,
    kind: string,
    opts: ListOptions = {},
  ): Promise<ObjectMetadata[]> {
    await this.resource(apiVersion, kind);
    this.count('list', `${apiVersion}/${kind}`);
    return this.matching(apiVersion, kind, opts).map((o) =>
      toObjectMetadata(apiVersion, kind, structuredClone(o.metadata)),
    );
  }

  private matching(apiVersion: string, kind: string, opts: ListOptions): KubeObject[] {
    // Equality-based selectors as the API server reads them: `k=v`, `k!=v`, `k`, comma-joined.
    const requirements = (opts.labelSelector ?? '')
      .split(',')
      .filter(Boolean)
      .map((r) => {
        const m = /^([^!=]+)(!=|==|=)?(.*)$/.exec(r.trim()) as RegExpExecArray;
        return { key: m[1] as string, op: m[2], value: m[3] };
      });
    const matches = (labels: Record<string, string> | undefined) =>
      requirements.every(({ key, op, value }) =>
        op === undefined
          ? labels?.[key] !== undefined
          : op === '!='
            ? labels?.[key] !== value
            : labels?.[key] === value,
      );
    return [...this.objects.values()].filter(
      (o) =>
        o.apiVersion === apiVersion &&
        o.kind === kind &&
        (opts.namespace === undefined || o.metadata.namespace === opts.namespace) &&
        matches(o.metadata.labels),
    );
  }

  async get(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
  ): Promise<KubeObject | undefined> {
    const key = refKey({ group: groupOf(apiVersion), kind, namespace, name });
    this.count('get', key);
    const found = this.objects.get(key);
    return found?.apiVersion === apiVersion ? structuredClone(found) : undefined;
  }

  async apply(obj: KubeObject, opts: ServerApplyOptions = {}): Promise<KubeObject> {
    const info = await this.resource(obj.apiVersion, obj.kind);
    const key = objectKey(obj);
    this.count('apply', key, opts.dryRun);
    const failure = this.failures.get(key);
    if (failure) {
      this.failures.delete(key);
      throw failure;
    }
    const previous = this.objects.get(key);
    const live: KubeObject = structuredClone({
      ...obj,
      metadata: {
        ...obj.metadata,
        ...(info.namespaced ? {} : { namespace: undefined }),
        uid: previous?.metadata.uid ?? `uid-${++this.uid}`,
        resourceVersion: String(++this.uid),
      },
    });
    if (!opts.dryRun) this.objects.set(key, live);
    return structuredClone(live);
  }

  async delete(
    ref: ObjectRef & { apiVersion: string },
    opts: DeleteOptions = {},
  ): Promise<boolean> {
    const key = refKey(ref);
    this.count('delete', key, opts.dryRun);
    const live = this.objects.get(key);
    if (!live || (opts.uid && live.metadata.uid !== opts.uid)) return false;
    if (!opts.dryRun) this.objects.delete(key);
    return true;
  }

  invalidateDiscovery(): void {}

  async getJSON(path: string): Promise<unknown> {
    throw new DriftlessError('NotFound', `the in-memory cluster serves no ${path}`);
  }

  private count(verb: RecordedRequest['verb'], key: string, dryRun?: boolean): void {
    this.stats.total++;
    this.stats.byVerb[verb] = (this.stats.byVerb[verb] ?? 0) + 1;
    this.requests.push({ verb, key, ...(dryRun ? { dryRun } : {}) });
  }
}
