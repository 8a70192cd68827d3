// A set of Kubernetes schemas to validate against: the bundle shipped for a
// version (lib/validate/schemas/, written by scripts/schemas.ts) or a live
// cluster's own (cluster.ts). Each kind's validator is compiled on first use
// and kept, so a warm process pays for a kind once.

import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { DriftlessError } from '../errors.js';
import { groupOf, type KubeObject } from '../model/object.js';
import { builtinRef, builtinRoot, newAjv, OBJECT_META } from './ajv.js';
import { BUNDLE_FORMAT, type KindInfo, type SchemaBundle } from './openapi.js';
import {
  bundleFileName,
  kubernetesMinor,
  PINNED_KUBERNETES_VERSION,
  SHIPPED_KUBERNETES_MINORS,
} from './versions.js';

export type SchemaOrigin = 'shipped' | 'cluster';

export class SchemaSet {
  /** `v1.34.4` for a shipped bundle; the cluster's name for a cluster's schemas. */
  readonly kubernetesVersion: string;
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly groups: Set<string>;

  /** The CRDs a cluster has (its custom resources are validated against these). */
  readonly crds: readonly KubeObject[];
  /**
   * A cluster's OpenAPI v3 document hash per group-version path (`apis/apps/v1`,
   * CRD-served ones included): equal hashes on a later GET /openapi/v3 mean
   * equal schemas and CRDs.
   */
  readonly documentHashes: Readonly<Record<string, string>>;
  /** Whether the cluster's CRDs could be listed (a kind they would serve is otherwise unknown here, not invalid). */
  readonly crdsVisible: boolean;

  constructor(
    readonly bundle: SchemaBundle,
    readonly origin: SchemaOrigin,
    opts: {
      crds?: readonly KubeObject[];
      crdsVisible?: boolean;
      documentHashes?: Record<string, string>;
    } = {},
  ) {
    this.crds = opts.crds ?? [];
    this.crdsVisible = opts.crdsVisible ?? true;
    this.documentHashes = opts.documentHashes ?? {};
    this.kubernetesVersion = bundle.kubernetesVersion;
    this.ajv = newAjv((data, at) => this.objectMetaErrors(data, at));
    this.ajv.addSchema(builtinRoot(bundle.definitions));
    this.groups = new Set(Object.keys(bundle.kinds).map(groupOf));
  }

  kind(apiVersion: string, kind: string): KindInfo | undefined {
    return this.bundle.kinds[apiVersion]?.[kind];
  }

  /** Whether a kind is namespaced; undefined for kinds this set does not know (loadManifests' isNamespaced). */
  isNamespaced(apiVersion: string, kind: string): boolean | undefined {
    return this.kind(apiVersion, kind)?.namespaced;
  }

  /** Whether the group is one of the API server's own (so no CRD can serve it). */
  isBuiltinGroup(group: string): boolean {
    return this.groups.has(group);
  }

  /** The apiVersions that serve a kind, e.g. Ingress → [networking.k8s.io/v1]. */
  apiVersionsOf(kind: string): string[] {
    return Object.keys(this.bundle.kinds).filter((v) => this.bundle.kinds[v]?.[kind]);
  }

  /** The kinds an apiVersion serves. */
  kindsOf(apiVersion: string): string[] {
    return Object.keys(this.bundle.kinds[apiVersion] ?? {});
  }

  /** The compiled validator of a built-in kind (undefined if not served). */
  validatorFor(apiVersion: string, kind: string): ValidateFunction | undefined {
    const info = this.kind(apiVersion, kind);
    return info ? this.definitionValidator(info.definition) : undefined;
  }

  /** Errors of metadata, as ObjectMeta, with paths under `instancePath`. */
  objectMetaErrors(data: unknown, instancePath: string): ErrorObject[] {
    const validate = this.definitionValidator(OBJECT_META);
    if (validate(data)) return [];
    // Through a keyword, ajv would replace each error's schema with the keyword's: keep it.
    return (validate.errors ?? []).map((e) => ({
      ...e,
      instancePath: instancePath + e.instancePath,
      params: { ...e.params, keywordSchema: e.schema },
    }));
  }

  private definitionValidator(definition: string): ValidateFunction {
    let v = this.compiled.get(definition);
    if (!v) {
      v = this.ajv.compile(builtinRef(definition));
      this.compiled.set(definition, v);
    }
    return v;
  }

  /** For CRD validators: an Ajv whose `k8sObjectMeta` checks against this set's ObjectMeta. */
  newCustomResourceAjv(): Ajv {
    return newAjv((data, at) => this.objectMetaErrors(data, at));
  }
}

const shipped = new Map<string, Promise<SchemaSet>>();

/**
 * The shipped schemas of a Kubernetes version (default: the pinned one); any
 * patch release of a shipped minor gets that minor's bundle.
 */
export function loadShippedSchemas(
  version: string = PINNED_KUBERNETES_VERSION,
): Promise<SchemaSet> {
  const minor = kubernetesMinor(version);
  if (!(SHIPPED_KUBERNETES_MINORS as readonly string[]).includes(minor)) {
    return Promise.reject(
      new DriftlessError(
        'InvalidSpec',
        `no schemas for Kubernetes ${minor} (shipped: ${SHIPPED_KUBERNETES_MINORS.join(', ')}; ` +
          'scripts/schemas.ts extracts another version)',
        { field: 'kubernetesVersion' },
      ),
    );
  }
  let set = shipped.get(minor);
  if (!set) {
    set = readFile(new URL(`./schemas/${bundleFileName(minor)}`, import.meta.url)).then((gz) => {
      const bundle = JSON.parse(gunzipSync(gz).toString('utf8')) as SchemaBundle;
      if (bundle.format !== BUNDLE_FORMAT) {
        throw new DriftlessError(
          'Internal',
          `schema bundle ${bundleFileName(minor)} has format ${bundle.format}, expected ${BUNDLE_FORMAT}`,
        );
      }
      return new SchemaSet(bundle, 'shipped');
    });
    set.catch(() => shipped.delete(minor));
    shipped.set(minor, set);
  }
  return set;
}
