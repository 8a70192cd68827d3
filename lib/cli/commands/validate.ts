// driftless validate: what a sync would apply, checked offline. Each PATH (or
// each Application of `-f app.yaml`) is rendered exactly as a sync renders it
// (directory, Kustomize or Helm, detected or --type; Helm values and release
// options; an Application's own options, destination namespace and policy),
// then every object is checked against the Kubernetes OpenAPI schemas of a
// version (--kubernetes-version, default the pinned one; shipped, no network)
// and the CRDs of the render or --crds. Driftless's own specs are checked
// against their schema; SOPS-encrypted files for well-formed metadata,
// without decrypting. Output: a table, -o json, or GitHub workflow
// annotations (--github). Exit 1 on errors.

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { buildPlan, plannedManifests } from '../../apply/plan.js';
import { type DriftlessError, isDriftlessError } from '../../errors.js';
import {
  type Application,
  type ApplicationSource,
  appSources,
  parseSpecs,
  SourceSchema,
  type SourceType,
} from '../../model/application.js';
import type { Manifest } from '../../model/manifest.js';
import {
  detectSourceType,
  loadManifests,
  renderSource,
  sharedChartFetcher,
} from '../../source/index.js';
import { findSopsMetadataErrors } from '../../source/sops-metadata.js';
import {
  loadCrdFiles,
  loadShippedSchemas,
  PINNED_KUBERNETES_VERSION,
  type SchemaFinding,
  type SchemaSet,
  SchemaValidator,
} from '../../validate/index.js';
import { type Command, type CommandContext, type Flags, UsageError } from '../command.js';
import { emit, type Printer, paint } from '../output.js';

export const validate: Command = {
  name: 'validate',
  local: true,
  run: (ctx: CommandContext) => runValidate(ctx.p, ctx.flags, ctx.args),
};

/** One problem, whatever found it: the schema check, the render, a spec, SOPS metadata. */
export interface ValidationFinding {
  severity: 'error' | 'warning';
  /** What found it: a schema rule (`unknown-field`, `enum`, …), `render`, `spec`, `sops`, `plan`. */
  rule: string;
  file?: string;
  line?: number;
  object?: string;
  field?: string;
  message: string;
}

export interface ValidationReport {
  valid: boolean;
  kubernetesVersion: string;
  /** Objects checked against the schemas, per PATH or Application. */
  targets: { target: string; type?: SourceType; objects: number }[];
  specs: number;
  encryptedFiles: number;
  findings: ValidationFinding[];
}

const SOURCE_TYPES: readonly SourceType[] = ['directory', 'kustomize', 'helm'];

async function runValidate(p: Printer, flags: Flags, paths: string[]): Promise<number> {
  const appFiles = flags.file ?? [];
  if (paths.length === 0 && appFiles.length === 0) {
    throw new UsageError('validate needs a PATH or -f app.yaml');
  }
  if (flags.type !== undefined && !SOURCE_TYPES.includes(flags.type as SourceType)) {
    throw new UsageError(`--type must be one of ${SOURCE_TYPES.join(', ')}`);
  }
  const version = flags['kubernetes-version'] ?? PINNED_KUBERNETES_VERSION;
  let schemas: SchemaSet;
  try {
    schemas = await loadShippedSchemas(version);
  } catch (e) {
    throw new UsageError(isDriftlessError(e) ? e.message : String(e));
  }
  const report: ValidationReport = {
    valid: true,
    kubernetesVersion: schemas.kubernetesVersion,
    targets: [],
    specs: 0,
    encryptedFiles: 0,
    findings: [],
  };
  const extraCrds = await loadCrdFiles(flags.crds ?? []).catch((e: unknown) => {
    throw new UsageError(isDriftlessError(e) ? e.describe() : String(e));
  });
  const validator = new SchemaValidator(schemas, { crds: extraCrds });

  for (const given of paths) await validatePath(given, flags, validator, schemas, report);
  for (const file of appFiles) await validateAppFile(file, flags, validator, schemas, report);

  report.valid = !report.findings.some((f) => f.severity === 'error');
  print(p, flags, report);
  return report.valid ? 0 : 1;
}

/**
 * The repository root a path renders in (Kustomize bases and Helm values may
 * reach anywhere inside it, nowhere outside): --repo, else the nearest
 * directory above with .git, else the path's own directory.
 */
async function repositoryRoot(flags: Flags, near: string): Promise<string> {
  if (flags.repo) return path.resolve(flags.repo);
  for (let dir = path.resolve(near); ; dir = path.dirname(dir)) {
    if (await stat(path.join(dir, '.git')).catch(() => undefined)) return dir;
    if (path.dirname(dir) === dir) return path.resolve(near);
  }
}

async function validatePath(
  given: string,
  flags: Flags,
  validator: SchemaValidator,
  schemas: SchemaSet,
  report: ValidationReport,
): Promise<void> {
  const abs = path.resolve(given);
  const info = await stat(abs).catch(() => undefined);
  if (!info) {
    report.findings.push({
      severity: 'error',
      rule: 'path',
      file: given,
      message: 'no such file or directory',
    });
    return;
  }
  const dir = info.isDirectory() ? abs : path.dirname(abs);
  const root = await repositoryRoot(flags, dir);
  const rel = path.relative(root, dir) || '.';
  if (rel.startsWith('..')) {
    report.findings.push({
      severity: 'error',
      rule: 'path',
      file: given,
      message: `outside the repository ${root} (pass --repo)`,
    });
    return;
  }
  const source = SourceSchema.parse({
    repoURL: `file://${root}`,
    path: rel,
    ...(flags.type ? { type: flags.type } : {}),
    ...(flags.values?.length || flags['release-name']
      ? {
          helm: {
            ...(flags['release-name'] ? { releaseName: flags['release-name'] } : {}),
            ...(flags.values?.length ? { valueFiles: flags.values } : {}),
          },
        }
      : {}),
  });
  if (info.isFile()) {
    // One file: its objects (or specs), as a directory source reads it.
    const rel1 = path.relative(root, abs).split(path.sep).join('/');
    let manifests: Manifest[];
    try {
      manifests = await loadManifests(root, rel1, {
        isNamespaced: (apiVersion, kind) => schemas.isNamespaced(apiVersion, kind),
        ...(flags.namespace ? { defaultNamespace: flags.namespace } : {}),
      });
    } catch (e) {
      report.findings.push(fromError(e, 'render', given));
      return;
    }
    await check(given, 'directory', manifests, root, validator, report);
    return;
  }
  const type = source.type ?? (await detectSourceType(dir));
  const manifests = await render(root, source, path.basename(dir), flags.namespace, given, report);
  if (!manifests) return;
  await check(given, type, manifests, root, validator, report);
}

async function validateAppFile(
  file: string,
  flags: Flags,
  validator: SchemaValidator,
  schemas: SchemaSet,
  report: ValidationReport,
): Promise<void> {
  let apps: Application[];
  try {
    const text = await readFile(file, 'utf8');
    apps = parseSpecs(text, file).flatMap((s) => (s.kind === 'Application' ? [s.value] : []));
    report.specs += apps.length;
  } catch (e) {
    report.findings.push(fromError(e, 'spec', file));
    return;
  }
  const root = await repositoryRoot(flags, path.dirname(path.resolve(file)));
  for (const app of apps) {
    const name = `Application/${app.metadata.name}`;
    const sources = appSources(app.spec);
    // Git sources (and `$ref` values) are read from this repository's working
    // tree; a chart source is fetched from the repository it names.
    const refs: Record<string, string> = {};
    for (const s of sources) if (s.ref !== undefined && s.chart === undefined) refs[s.ref] = root;
    for (const [i, source] of sources.entries()) {
      if (source.ref !== undefined) continue; // a values source renders nothing
      const which = app.spec.sources ? `.sources[${i}]` : '';
      let dir = root;
      if (source.chart !== undefined) {
        try {
          const charts = sharedChartFetcher();
          const at = { repoURL: source.repoURL, chart: source.chart };
          dir = (await charts.fetch(at, await charts.resolve(at, source.revision))).dir;
        } catch (e) {
          report.findings.push(fromError(e, 'render', `${name}${which}`));
          continue;
        }
      }
      // Each destination renders with its own namespace (Helm's .Release.Namespace).
      for (const d of app.spec.destinations) {
        const label = `${name}${which} → ${d.cluster}${d.namespace ? `/${d.namespace}` : ''}`;
        const manifests = await render(
          dir,
          source,
          app.metadata.name,
          d.namespace,
          label,
          report,
          refs,
        );
        if (!manifests) continue;
        const type =
          source.chart !== undefined
            ? 'helm'
            : (source.type ?? (await detectSourceType(path.join(root, source.path))));
        // The app's policy, namespace defaulting and the rest of the plan, as a sync plans it.
        let planned: Manifest[];
        try {
          const plan = await buildPlan(manifests, app, d.namespace, async (apiVersion, kind) =>
            schemas.isNamespaced(apiVersion, kind),
          );
          planned = plannedManifests(plan, manifests);
        } catch (e) {
          report.findings.push(fromError(e, 'plan'));
          continue;
        }
        await check(label, type, planned, dir, validator, report);
      }
    }
  }
}

async function render(
  root: string,
  source: ApplicationSource,
  appName: string,
  namespace: string | undefined,
  label: string,
  report: ValidationReport,
  refs: Readonly<Record<string, string>> = {},
): Promise<Manifest[] | undefined> {
  try {
    return await renderSource(root, source, { appName, namespace }, {}, refs);
  } catch (e) {
    report.findings.push(fromError(e, 'render', label));
    return undefined;
  }
}

async function check(
  label: string,
  type: SourceType,
  manifests: readonly Manifest[],
  root: string,
  validator: SchemaValidator,
  report: ValidationReport,
): Promise<void> {
  const objects: Manifest[] = [];
  const sopsFiles = new Set<string>();
  for (const m of manifests) {
    if (m.object.apiVersion === 'driftless.dev/v1') {
      // Driftless's own specs, by their schema.
      try {
        parseSpecs(await readFile(path.join(root, m.file), 'utf8'), m.file);
        report.specs++;
      } catch (e) {
        report.findings.push(fromError(e, 'spec', m.file));
      }
      continue;
    }
    if ((m.object as { sops?: unknown }).sops !== undefined) {
      // Encrypted: only the metadata can be checked without the key.
      sopsFiles.add(m.file);
      for (const problem of findSopsMetadataErrors(m.object as Record<string, unknown>)) {
        report.findings.push({
          severity: 'error',
          rule: 'sops',
          file: m.file,
          line: m.lineOf(problem.path),
          field: problem.path.join('.') || undefined,
          message: problem.message,
        });
      }
      continue;
    }
    objects.push(m);
  }
  report.encryptedFiles += sopsFiles.size;
  report.targets.push({ target: label, type, objects: objects.length });
  for (const f of validator.validate(objects)) report.findings.push(fromSchema(f));
}

function fromSchema(f: SchemaFinding): ValidationFinding {
  return {
    severity: f.severity,
    rule: f.rule,
    file: f.file,
    line: f.line,
    object: f.object,
    ...(f.field ? { field: f.field } : {}),
    message: f.message,
  };
}

function fromError(e: unknown, rule: string, file?: string): ValidationFinding {
  if (isDriftlessError(e)) {
    const err = e as DriftlessError;
    return {
      severity: 'error',
      rule,
      ...(err.location.file || file ? { file: err.location.file ?? file } : {}),
      ...(err.location.line ? { line: err.location.line } : {}),
      ...(err.location.object ? { object: err.location.object } : {}),
      ...(err.location.field ? { field: err.location.field } : {}),
      message: err.message,
    };
  }
  return { severity: 'error', rule, ...(file ? { file } : {}), message: (e as Error).message };
}

/** `file:line: object: field: message`, as every Driftless error reads. */
function describe(f: ValidationFinding): string {
  const where = [f.file ? `${f.file}${f.line ? `:${f.line}` : ''}` : undefined, f.object, f.field]
    .filter(Boolean)
    .join(': ');
  return where ? `${where}: ${f.message}` : f.message;
}

/** GitHub workflow commands escape %, CR and LF in messages, and also : and , in properties. */
function ghEscape(text: string, property = false): string {
  const s = text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  return property ? s.replace(/:/g, '%3A').replace(/,/g, '%2C') : s;
}

function print(p: Printer, flags: Flags, report: ValidationReport): void {
  if (flags.github) {
    for (const f of report.findings) {
      const props = [
        f.file ? `file=${ghEscape(f.file, true)}` : undefined,
        f.line ? `line=${f.line}` : undefined,
        `title=${ghEscape(`driftless validate: ${f.rule}`, true)}`,
      ]
        .filter(Boolean)
        .join(',');
      const message = [f.object, f.field, f.message].filter(Boolean).join(': ');
      p.out(`::${f.severity === 'error' ? 'error' : 'warning'} ${props}::${ghEscape(message)}`);
    }
  }
  if (p.format !== 'table') {
    emit(p, report, [], []);
    return;
  }
  if (!flags.github) {
    for (const f of report.findings) {
      const tag = f.severity === 'error' ? paint(p, 'red', 'error') : paint(p, 'yellow', 'warning');
      (f.severity === 'error' ? p.err : p.out)(`${tag} ${describe(f)}`);
    }
  }
  const objects = report.targets.reduce((n, t) => n + t.objects, 0);
  const errors = report.findings.filter((f) => f.severity === 'error').length;
  const warnings = report.findings.length - errors;
  const summary =
    `${objects} objects in ${report.targets.length} render(s), ${report.specs} Driftless specs` +
    (report.encryptedFiles ? `, ${report.encryptedFiles} encrypted files (metadata only)` : '') +
    ` checked against Kubernetes ${report.kubernetesVersion}`;
  const line = report.valid
    ? `${paint(p, 'green', 'valid')}: ${summary}${warnings ? ` (${warnings} warnings)` : ''}`
    : `${paint(p, 'red', 'invalid')}: ${errors} error(s)${warnings ? `, ${warnings} warning(s)` : ''}; ${summary}`;
  (report.valid ? p.out : p.err)(line);
}
