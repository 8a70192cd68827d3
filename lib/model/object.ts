// Kubernetes objects as Driftless sees them: plain JSON with the identity
// fields typed, and the identity (group, kind, namespace, name) as a key.

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  generation?: number;
  uid?: string;
  deletionTimestamp?: string;
  managedFields?: ManagedFieldsEntry[];
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[];
  [key: string]: unknown;
}

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: 'Apply' | 'Update' | string;
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** Identity of an object, independent of version. */
export interface ObjectRef {
  group: string;
  kind: string;
  namespace: string; // '' for cluster-scoped
  name: string;
}

/** What marks an object as Driftless's: the app's label, and the field manager that applies it. */
export const LABEL_APP = 'driftless.dev/app';
export const FIELD_MANAGER = 'driftless';
// The annotations that steer a sync are in annotations.ts, with their readers.

export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

export function versionOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
}

export function refOf(obj: KubeObject): ObjectRef {
  return {
    group: groupOf(obj.apiVersion),
    kind: obj.kind,
    namespace: obj.metadata.namespace ?? '',
    // A hook written with generateName only is known by it until it runs and is named.
    name: obj.metadata.name ?? obj.metadata.generateName ?? '',
  };
}

/** `group/Kind/namespace/name`, stable and unique per object; the map key everywhere. */
export function refKey(ref: ObjectRef): string {
  return `${ref.group}/${ref.kind}/${ref.namespace}/${ref.name}`;
}

export function parseRefKey(key: string): ObjectRef {
  const [group = '', kind = '', namespace = '', ...rest] = key.split('/');
  return { group, kind, namespace, name: rest.join('/') };
}

export function objectKey(obj: KubeObject): string {
  return refKey(refOf(obj));
}

/** Human form for messages: `Deployment/prod/web`, `apps.Deployment/...` only when needed. */
export function describeRef(ref: ObjectRef): string {
  return ref.namespace ? `${ref.kind}/${ref.namespace}/${ref.name}` : `${ref.kind}/${ref.name}`;
}

export function describeObject(obj: KubeObject): string {
  return describeRef(refOf(obj));
}
