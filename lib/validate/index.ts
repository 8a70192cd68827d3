// Schema validation of rendered objects (issue #16): the API for
// `driftless validate` and for the check before every sync.
//
// Offline (the CLI):
//   const schemas = await loadShippedSchemas(flags.kubernetesVersion);   // default: the pinned version
//   const crds = await loadCrdFiles(flags.crds);                          // --crds files or directories
//   const findings = new SchemaValidator(schemas, { crds }).validate(manifests);
//   // table / -o json / --github from the findings; exit 1 if any has severity 'error'
//
// Before a sync (the worker), with the target cluster's own schemas:
//   const schemas = await schemasFromCluster({ getJSON: (p) => client.requestJson('GET', p) });
//   const error = schemaErrorOf(new SchemaValidator(schemas).validate(manifests));
//   if (error) throw error;   // InvalidManifest naming file:line, object and field; nothing applied

import { stat } from 'node:fs/promises';
import path from 'node:path';
import { DriftlessError } from '../errors.js';
import { isCustomResourceDefinition } from '../model/kinds.js';
import { loadManifests, type Manifest } from '../source/manifests.js';
import {
  type SchemaFinding,
  SchemaValidator,
  type ValidatedManifest,
  type ValidateOptions,
} from './schema.js';
import { loadShippedSchemas, type SchemaSet } from './schemas.js';

export { type ClusterSchemaOptions, type OpenApiReader, schemasFromCluster } from './cluster.js';
export { CrdIndex, type CustomResourceVersion } from './crds.js';
export {
  describeFinding,
  type FindingRule,
  findingError,
  type SchemaFinding,
  SchemaValidator,
  schemaErrorOf,
  type ValidatedManifest,
  type ValidateOptions,
} from './schema.js';
export { loadShippedSchemas, type SchemaOrigin, SchemaSet } from './schemas.js';
export {
  kubernetesMinor,
  PINNED_KUBERNETES_VERSION,
  SHIPPED_KUBERNETES_MINORS,
} from './versions.js';

/** One call for the offline case: the shipped schemas of a version, then validate. */
export async function validateManifests(
  manifests: readonly ValidatedManifest[],
  opts: ValidateOptions & { kubernetesVersion?: string; schemas?: SchemaSet } = {},
): Promise<SchemaFinding[]> {
  const schemas = opts.schemas ?? (await loadShippedSchemas(opts.kubernetesVersion));
  return new SchemaValidator(schemas, opts).validate(manifests);
}

/**
 * The CRDs in files and directories (`--crds`): each path a YAML or JSON
 * file, or a directory read as a directory source is (recursively). Files
 * are named as given in findings. Objects other than CRDs are ignored.
 */
export async function loadCrdFiles(paths: readonly string[]): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const given of paths) {
    const abs = path.resolve(given);
    const stats = await stat(abs).catch(() => undefined);
    if (!stats) {
      throw new DriftlessError('InvalidSpec', `CRD path "${given}" does not exist`, {
        file: given,
        field: 'crds',
      });
    }
    const isDir = stats.isDirectory();
    const manifests = isDir
      ? await loadManifests(abs, '.')
      : await loadManifests(path.dirname(abs), path.basename(abs));
    for (const m of manifests) {
      if (!isCustomResourceDefinition(m.object)) continue;
      out.push({ ...m, file: isDir ? path.join(given, m.file) : given });
    }
  }
  return out;
}
