// The cluster port: one Kubernetes API server as the engine uses it, and the
// connector that turns a Cluster spec into one. lib/kube implements both
// (KubeClient; the EKS and kubeconfig connectors behind one routing connector).

import type { DriftlessError } from '../errors.js';
import type { Cluster } from '../model/application.js';
import type { KubeObject, ManagedFieldsEntry, ObjectMeta, ObjectRef } from '../model/object.js';

/** Which resource (plural path, scope) serves a group/version/kind, from API discovery. */
export interface ResourceInfo {
  group: string;
  version: string;
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  verbs: string[];
}

export interface ListOptions {
  labelSelector?: string;
  /** Restrict to one namespace; all namespaces otherwise (namespaced kinds). */
  namespace?: string;
}

/**
 * One object as a metadata-only LIST (PartialObjectMetadata) returns it: what
 * the sweep's fast path compares, without the spec, data or status. apiVersion
 * and kind are the listed resource's, not meta.k8s.io's.
 */
export interface ObjectMetadata {
  apiVersion: string;
  kind: string;
  /** Absent for cluster-scoped objects. */
  namespace?: string;
  name: string;
  uid?: string;
  resourceVersion: string;
  /** Absent for kinds without a generation (ConfigMaps, Secrets, …). */
  generation?: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  managedFields: ManagedFieldsEntry[];
}

/** The ObjectMetadata of a listed object's metadata (full or partial), under the listed resource's apiVersion and kind. */
export function toObjectMetadata(
  apiVersion: string,
  kind: string,
  meta: ObjectMeta,
): ObjectMetadata {
  return {
    apiVersion,
    kind,
    ...(meta.namespace ? { namespace: meta.namespace } : {}),
    name: meta.name ?? '',
    ...(meta.uid ? { uid: meta.uid } : {}),
    resourceVersion: meta.resourceVersion ?? '',
    ...(meta.generation !== undefined ? { generation: meta.generation } : {}),
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
    managedFields: meta.managedFields ?? [],
  };
}

/** Options of one server-side apply request. */
export interface ServerApplyOptions {
  force?: boolean;
  dryRun?: boolean;
  fieldManager?: string;
}

export interface DeleteOptions {
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  dryRun?: boolean;
  /** Delete only if the live object still has this UID. */
  uid?: string;
}

/** Requests made so far, by verb: a no-op drift check must stay O(kinds). */
export interface RequestStats {
  total: number;
  byVerb: Record<string, number>;
  /** Requests repeated after a transient failure (counted in total and byVerb too). */
  retries?: number;
}

/**
 * Requests one step of a reconcile (the drift check's LISTs and dry runs, the
 * applies of a wave, the deletes of a prune) keeps in flight against a
 * cluster's API server, unless the reconcile says otherwise.
 */
export const DEFAULT_REQUEST_CONCURRENCY = 8;

/** One cluster's API, as the engine uses it. */
export interface ClusterClient {
  readonly stats: RequestStats;
  resource(apiVersion: string, kind: string): Promise<ResourceInfo>;
  list(apiVersion: string, kind: string, opts?: ListOptions): Promise<KubeObject[]>;
  /**
   * The same LIST with metadata only (PartialObjectMetadataList): one request
   * per page like `list`, counted as a `list`, far smaller answers.
   */
  listMetadata(apiVersion: string, kind: string, opts?: ListOptions): Promise<ObjectMetadata[]>;
  get(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
  ): Promise<KubeObject | undefined>;
  apply(obj: KubeObject, opts?: ServerApplyOptions): Promise<KubeObject>;
  delete(ref: ObjectRef & { apiVersion: string }, opts?: DeleteOptions): Promise<boolean>;
  /** Forget cached discovery (after CRDs change). */
  invalidateDiscovery(): void;
  /** GET a path of the API server (with query) as JSON: its OpenAPI documents, for schema checks. */
  getJSON(path: string): Promise<unknown>;
}

/** 429s a cluster answered since the last report, and the pause it asked for. */
export interface ThrottleReport {
  throttled: number;
  /** Epoch ms, while still ahead. */
  backoffUntil?: number;
}

/** Turns a Cluster spec into a client (kubeconfig, or EKS with a presigned token). */
export interface ClusterConnector {
  connect(cluster: Cluster): Promise<ClusterClient>;
  /**
   * The cluster's throttling since the last call (the counts are taken, so
   * each 429 is reported once); connectors that share no throttle omit it.
   */
  takeThrottling?(cluster: string): ThrottleReport;
}

/**
 * Whether the server refused an apply because it changes a field that cannot
 * change: `field is immutable` (Jobs' templates, selectors, clusterIP, CEL
 * immutability rules and webhooks say it so), `may not change once set`,
 * StatefulSet's `updates to statefulset spec for fields other than … are
 * forbidden`. Deleting and creating the object is the only way to change it.
 */
export function isImmutableFieldError(e: DriftlessError): boolean {
  return (
    e.reason === 'ApplyRejected' &&
    /\bimmutable\b|may not change once set|updates to \S+ spec for fields other than/i.test(
      e.message,
    )
  );
}
