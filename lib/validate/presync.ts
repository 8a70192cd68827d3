// The schema check before every sync: the revision's objects against the
// target cluster's own schemas (its /openapi/v3 and CRDs, read once per
// cluster and then only when its index changed: one GET in steady state), so
// a revision with one invalid object applies nothing and its status names the
// file, line, object and field. Objects marked Validate=false, ssa: Ignore,
// reconcile: disabled or hook: Skip are not checked (none of them is applied
// as written).

import type { DriftlessError } from '../errors.js';
import { isSkipped, syncOptionsOrDefault } from '../model/annotations.js';
import type { Manifest } from '../model/manifest.js';
import { schemasFromCluster } from './cluster.js';
import { SchemaValidator, schemaErrorOf } from './schema.js';
import type { SchemaSet } from './schemas.js';

/** What the check needs of a cluster: its OpenAPI documents. */
export interface SchemaSource {
  getJSON(path: string): Promise<unknown>;
}

/** Each cluster's last schemas and their validator, kept across reconciles of a warm process. */
export class ClusterSchemaCache {
  private readonly byCluster = new Map<
    string,
    { schemas: SchemaSet; validator: SchemaValidator }
  >();

  /** The cluster's current schemas (one GET when nothing changed) and a validator compiled for them. */
  async validatorFor(clusterName: string, source: SchemaSource): Promise<SchemaValidator> {
    const cached = this.byCluster.get(clusterName);
    const schemas = await schemasFromCluster(source, {
      clusterName,
      previous: cached?.schemas,
    });
    if (cached && cached.schemas === schemas) return cached.validator;
    const validator = new SchemaValidator(schemas, {
      unknownKinds: schemas.crdsVisible ? 'error' : 'warning',
    });
    this.byCluster.set(clusterName, { schemas, validator });
    return validator;
  }
}

/** Whether an object is applied as written, and so checked. */
function checked(m: Manifest): boolean {
  if (isSkipped(m.object)) return false;
  const options = syncOptionsOrDefault(m.object);
  return options.validate && options.reconcile && options.apply !== 'Ignore';
}

/** The first schema error of the manifests on this cluster (with a count of the rest), if any. */
export async function presyncSchemaError(
  cache: ClusterSchemaCache,
  clusterName: string,
  source: SchemaSource,
  manifests: readonly Manifest[],
): Promise<DriftlessError | undefined> {
  const validator = await cache.validatorFor(clusterName, source);
  const toCheck = manifests.filter(checked);
  // SkipDryRunOnMissingResource: a kind the cluster does not serve yet is not an error here.
  const identity = (file: string, apiVersion: string, kind: string, name: string | undefined) =>
    `${file}\0${apiVersion}\0${kind}\0${name ?? ''}`;
  const mayBeMissing = new Set(
    toCheck
      .filter((m) => syncOptionsOrDefault(m.object).skipDryRunOnMissingResource)
      .map((m) => identity(m.file, m.object.apiVersion, m.object.kind, m.object.metadata.name)),
  );
  const findings = validator
    .validate(toCheck)
    .filter(
      (f) =>
        !(
          f.rule === 'unknown-kind' &&
          mayBeMissing.has(identity(f.file, f.apiVersion, f.kind, f.object.split('/').pop()))
        ),
    );
  return schemaErrorOf(findings);
}
