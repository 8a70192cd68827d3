// Extracts the schema bundle `driftless validate` ships for one Kubernetes
// version, from the Go module source of that version (no cluster, no build):
//
//   npx tsx scripts/schemas.ts                 # the pinned version (scripts/testenv/go/kube/go.mod)
//   npx tsx scripts/schemas.ts v1.33.8         # another version: lib/validate/schemas/v1.33.json.gz
//   npx tsx scripts/schemas.ts --check         # exit 1 if the committed bundle differs
//
// It needs `go` (the modules come from the Go module cache, downloaded by
// `go mod download` when absent) and writes lib/validate/schemas/v<minor>.json.gz.
// The output is deterministic: re-running it for the same version gives the
// same bytes.
//
// Sources, both in k8s.io/kubernetes@<version> (plus its staging modules
// k8s.io/apiextensions-apiserver and k8s.io/kube-aggregator at v0.<minor>.<patch>):
// - api/openapi-spec/v3/*.json, the OpenAPI v3 document of every group-version.
// - pkg/generated/openapi/zz_generated.openapi.go (and the staging modules'),
//   for enum values: hack/update-openapi-spec.sh generates the JSON with
//   `OpenAPIEnums=false`, which strips every `enum`, while a running API
//   server (the gate is on by default since v1.24) serves them. They are put
//   back where the server's own definitions have them, so the bundle equals
//   what the server serves (test/integration/validate-cluster.test.ts checks
//   it against the pinned API server).

import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { bundleFromOpenApi, type OpenApiV3Document } from '../lib/validate/openapi.js';
import {
  bundleFileName,
  kubernetesMinor,
  SHIPPED_KUBERNETES_MINORS,
} from '../lib/validate/versions.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A Go module's directory in the module cache, downloading it if needed. */
function moduleDir(module: string, version: string): string {
  const out = execFileSync('go', ['mod', 'download', '-json', `${module}@${version}`], {
    cwd: os.tmpdir(), // outside any go.mod: a plain module download
    encoding: 'utf8',
    env: { ...process.env, GOFLAGS: '-mod=mod' },
  });
  const info = JSON.parse(out) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${module}@${version}: ${info.Error ?? out}`);
  return info.Dir;
}

/** The pinned version: `require k8s.io/kubernetes vX.Y.Z` of the test environment's go.mod. */
export function pinnedKubernetesVersion(): string {
  const goMod = readFileSync(path.join(ROOT, 'scripts/testenv/go/kube/go.mod'), 'utf8');
  const m = /^require k8s\.io\/kubernetes (v\d+\.\d+\.\d+)$/m.exec(goMod);
  if (!m?.[1]) throw new Error('scripts/testenv/go/kube/go.mod does not require k8s.io/kubernetes');
  return m[1];
}

/** An enum of a generated Go definition: where in the definition, and its values. */
export interface GeneratedEnum {
  /** The definition's REST-friendly name, e.g. `io.k8s.api.core.v1.ServiceSpec`. */
  definition: string;
  /** `properties`/name pairs, `items`, `additionalProperties`, from the definition's root. */
  path: string[];
  values: unknown[];
}

/** `k8s.io/api/core/v1.ServiceSpec` → `io.k8s.api.core.v1.ServiceSpec` (kube-openapi's ToRESTFriendlyName). */
export function restFriendlyName(goName: string): string {
  const parts = goName.split('/');
  if (parts[0]?.includes('.')) parts[0] = parts[0].split('.').reverse().join('.');
  return parts.join('.');
}

type Frame = 'transparent' | 'properties' | 'items' | 'additionalProperties' | { property: string };

/**
 * Every `Enum:` of an openapi-gen file (gofmt'd Go), located by brace
 * nesting: a frame per `{`, labelled when it opens a property (a `"name": {`
 * under `Properties:`), `Items:` or `AdditionalProperties:`.
 */
export function enumsOfGeneratedOpenApi(source: string): GeneratedEnum[] {
  const functions = new Map<string, string>();
  for (const m of source.matchAll(/^\t\t"([^"]+)":\s+(schema_\w+)\(ref\),$/gm)) {
    functions.set(m[2] as string, m[1] as string);
  }
  const out: GeneratedEnum[] = [];
  let definition: string | undefined;
  let stack: Frame[] = [];
  for (const line of source.split('\n')) {
    const fn =
      /^func (schema_\w+)\(ref common\.ReferenceCallback\) common\.OpenAPIDefinition \{$/.exec(
        line,
      );
    if (fn) {
      const goName = functions.get(fn[1] as string);
      definition = goName ? restFriendlyName(goName) : undefined;
      stack = [];
      continue;
    }
    if (!definition) continue;
    const enumMatch = /^\s*Enum:\s+\[\]interface\{\}\{(.*)\},$/.exec(line);
    if (enumMatch) {
      const values = JSON.parse(`[${enumMatch[1]}]`) as unknown[];
      out.push({ definition, path: pathOf(stack), values });
      continue;
    }
    const delta = braceDelta(line);
    if (delta > 0) {
      const parent = stack[stack.length - 1];
      const trimmed = line.trim();
      const property = /^"([^"]+)": \{$/.exec(trimmed);
      let frame: Frame = 'transparent';
      if (property && parent === 'properties') frame = { property: property[1] as string };
      else if (trimmed === 'Properties: map[string]spec.Schema{') frame = 'properties';
      else if (trimmed === 'Items: &spec.SchemaOrArray{') frame = 'items';
      else if (trimmed === 'AdditionalProperties: &spec.SchemaOrBool{') {
        frame = 'additionalProperties';
      }
      stack.push(frame);
      for (let i = 1; i < delta; i++) stack.push('transparent');
    } else if (delta < 0) {
      stack.length = Math.max(0, stack.length + delta);
      if (stack.length === 0 && line === '}') definition = undefined;
    }
  }
  return out;
}

function pathOf(stack: readonly Frame[]): string[] {
  const out: string[] = [];
  for (const f of stack) {
    if (typeof f === 'object') out.push('properties', f.property);
    else if (f === 'items' || f === 'additionalProperties') out.push(f);
  }
  return out;
}

/** `{` minus `}` in a line of Go, outside string literals. */
function braceDelta(line: string): number {
  let delta = 0;
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') delta++;
    else if (c === '}') delta--;
  }
  return delta;
}

/** Puts the enums back into every copy of their definition; fails on a location the JSON lacks. */
export function restoreEnums(
  documents: OpenApiV3Document[],
  enums: readonly GeneratedEnum[],
): { restored: number; absent: number } {
  let restored = 0;
  let absent = 0;
  for (const e of enums) {
    let found = false;
    for (const doc of documents) {
      let node = doc.components?.schemas?.[e.definition] as Record<string, unknown> | undefined;
      if (!node) continue;
      for (const step of e.path) {
        node = node?.[step] as Record<string, unknown> | undefined;
      }
      if (!node || typeof node !== 'object') {
        throw new Error(
          `enum of ${e.definition} at ${e.path.join('.')}: no such schema in the JSON`,
        );
      }
      if (node.type !== 'string' && typeof e.values[0] === 'string') {
        throw new Error(`enum of ${e.definition} at ${e.path.join('.')}: type is ${node.type}`);
      }
      node.enum = e.values;
      found = true;
    }
    if (found) restored++;
    else absent++; // a type no group-version serves (internal, or only in an unused version)
  }
  return { restored, absent };
}

function main(args: string[]): void {
  const check = args.includes('--check');
  const version = args.find((a) => !a.startsWith('--')) ?? pinnedKubernetesVersion();
  const m = /^v1\.(\d+)\.(\d+)$/.exec(version);
  if (!m) throw new Error(`version must look like v1.34.4, got ${version}`);
  const stagingVersion = `v0.${m[1]}.${m[2]}`;

  const kubernetes = moduleDir('k8s.io/kubernetes', version);
  const specDir = path.join(kubernetes, 'api/openapi-spec/v3');
  const documents = readdirSync(specDir)
    .filter((f) => f.endsWith('_openapi.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(path.join(specDir, f), 'utf8')) as OpenApiV3Document);

  const generated = [
    path.join(kubernetes, 'pkg/generated/openapi/zz_generated.openapi.go'),
    path.join(
      moduleDir('k8s.io/apiextensions-apiserver', stagingVersion),
      'pkg/generated/openapi/zz_generated.openapi.go',
    ),
    path.join(
      moduleDir('k8s.io/kube-aggregator', stagingVersion),
      'pkg/generated/openapi/zz_generated.openapi.go',
    ),
  ];
  const enums = generated.flatMap((f) => enumsOfGeneratedOpenApi(readFileSync(f, 'utf8')));
  const { restored, absent } = restoreEnums(documents, enums);

  const bundle = bundleFromOpenApi(documents, version);
  const json = JSON.stringify(bundle);
  const gz = gzipSync(json, { level: 9 });
  const out = path.join(ROOT, 'lib/validate/schemas', bundleFileName(version));
  const kinds = Object.values(bundle.kinds).reduce((n, k) => n + Object.keys(k).length, 0);
  const summary =
    `${path.relative(ROOT, out)}: Kubernetes ${version}, ${Object.keys(bundle.kinds).length} group-versions, ` +
    `${kinds} kinds, ${Object.keys(bundle.definitions).length} definitions, ` +
    `${enums.length} enums (${restored} restored, ${absent} of unserved types), ` +
    `${(json.length / 1024).toFixed(0)} KiB JSON, ${(gz.length / 1024).toFixed(0)} KiB gzipped`;
  if (check) {
    let committed: Buffer | undefined;
    try {
      committed = readFileSync(out);
    } catch {
      committed = undefined;
    }
    if (!committed?.equals(gz)) {
      console.error(
        `${path.relative(ROOT, out)} is not what scripts/schemas.ts ${version} extracts`,
      );
      process.exit(1);
    }
    console.log(`${summary}: up to date`);
    return;
  }
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, gz);
  console.log(summary);
  if (!(SHIPPED_KUBERNETES_MINORS as readonly string[]).includes(kubernetesMinor(version))) {
    console.log(
      `add ${kubernetesMinor(version)} to SHIPPED_KUBERNETES_MINORS in lib/validate/versions.ts to ship it, ` +
        'and run the mutation test (test/integration/validate-server.test.ts) against that version',
    );
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2));
}
