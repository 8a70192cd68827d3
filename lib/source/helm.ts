// Helm sources: `helm template` of a chart (in the repository, or a fetched
// chart package), with CRDs (`--include-crds`), values files (relative to
// the chart, or `$NAME/…` in a multi-source app's `ref` checkout) and inline
// values, the release name and the destination's namespace. Dependencies
// not vendored under charts/ are fetched before the render from the
// repository each declares (https:// or oci://; the version from Chart.lock,
// else the highest in Chart.yaml's range), verified by digest, and placed
// into a copy of the chart; `helm template` itself fetches nothing and runs
// with empty cache/config/data homes in a temporary directory and no route
// out (see toolEnvironment).
//
// Rendered objects keep the template they came from (helm's `# Source:`
// comments) as their file, and Helm's hook annotations are translated into
// Driftless's, so that the plan is the one place hooks are understood.

import { copyFile, cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DriftlessError } from '../errors.js';
import {
  ANNOTATION_HOOK,
  ANNOTATION_HOOK_DELETE_POLICY,
  ANNOTATION_PRUNE,
  ANNOTATION_SYNC_WAVE,
  hasHookAnnotation,
} from '../model/annotations.js';
import { VALUES_REF } from '../model/application.js';
import { parseYamlDocuments, type YamlDocument } from '../model/yaml.js';
import { type Manifest, manifestsFromRendered, type RenderedText } from './manifests.js';
import { assertLinksInside, checkoutRoot, realPathInside, relativeToCheckout } from './paths.js';
import type { RenderContext } from './render-context.js';
import { requireTool } from './render-tools.js';
import { runTool, toolEnvironment, toolMessage } from './tool.js';

export const HELM_HOOK = 'helm.sh/hook';
export const HELM_HOOK_DELETE_POLICY = 'helm.sh/hook-delete-policy';
export const HELM_HOOK_WEIGHT = 'helm.sh/hook-weight';
export const HELM_RESOURCE_POLICY = 'helm.sh/resource-policy';

export interface HelmRenderOptions {
  releaseName: string;
  /** `.Release.Namespace`. */
  namespace: string;
  /** Relative to the chart directory. */
  valueFiles: readonly string[];
  values: Record<string, unknown>;
}

interface ChartDependency {
  name: string;
  repository?: string;
  /** Chart.yaml's version range (Chart.lock's exact version wins). */
  version?: string;
  /** Index in the dependencies list, for the error's line. */
  index: number;
}

/** A dependency to fetch before rendering, with where it is declared (for errors). */
interface MissingDependency {
  dep: ChartDependency;
  repository: string;
  /** Chart.lock's version, or Chart.yaml's range. */
  version: string;
  location: { file: string; line?: number; field: string };
}

export async function renderHelm(ctx: RenderContext, opts: HelmRenderOptions): Promise<Manifest[]> {
  const chartFile = ctx.appRel === '.' ? 'Chart.yaml' : `${ctx.appRel}/Chart.yaml`;
  const chartYaml = await readChartFile(ctx, 'Chart.yaml');
  if (chartYaml === undefined) {
    throw new DriftlessError(
      'InvalidSpec',
      `source type is helm, but "${ctx.appRel}" has no Chart.yaml`,
      { file: ctx.appRel, field: 'source.path' },
    );
  }
  const [chartDoc] = parseYamlDocuments(chartYaml, chartFile, { maxAliasCount: ctx.maxAliasCount });
  const chart = asMapping(chartDoc?.value);
  const chartName = chart?.name;
  if (!chartDoc || typeof chartName !== 'string' || chartName === '') {
    throw new DriftlessError('InvalidManifest', 'Chart.yaml has no name', {
      file: chartFile,
      line: chartDoc?.line,
      field: 'name',
    });
  }
  const missing = await checkVendoredDependencies(ctx, chartFile, chartDoc);
  // Helm reads every file of the chart, following symlinks.
  await assertLinksInside(ctx.root, ctx.appDir);
  const chartDir = missing.length ? await withDependencies(ctx, missing) : ctx.appDir;

  const valueArgs: string[] = [];
  for (const [i, valueFile] of opts.valueFiles.entries()) {
    const field = `source.helm.valueFiles[${i}]`;
    // `$NAME/path`: a file of the multi-source app's source with ref NAME.
    const fromRef = VALUES_REF.exec(valueFile);
    let root = ctx.root;
    let target = path.resolve(ctx.appDir, valueFile);
    if (fromRef?.[1] !== undefined && fromRef[2] !== undefined) {
      const refDir = ctx.refs[fromRef[1]];
      if (refDir === undefined) {
        throw new DriftlessError(
          'InvalidSpec',
          `values file "${valueFile}" names $${fromRef[1]}, but no source has ref: ${fromRef[1]}`,
          { file: chartFile, field },
        );
      }
      root = await checkoutRoot(refDir);
      target = path.resolve(root, fromRef[2]);
    }
    const rel = relativeToCheckout(root, target);
    const shown = fromRef ? `$${fromRef[1]}/${rel}` : rel;
    if (rel.startsWith('../') || rel === '..' || path.isAbsolute(valueFile)) {
      throw new DriftlessError(
        'PathEscape',
        `values file "${valueFile}" is outside the repository checkout`,
        { file: chartFile, field },
      );
    }
    const real = await realPathInside(root, target, shown);
    if (real === undefined || !(await stat(real)).isFile()) {
      throw new DriftlessError(
        'InvalidSpec',
        `values file "${valueFile}" (${shown}) does not exist in the revision`,
        { file: shown, field },
      );
    }
    valueArgs.push('--values', real);
  }
  if (Object.keys(opts.values).length > 0) {
    // Inline values last: over the chart's values.yaml and the values files.
    const inline = path.join(ctx.tempDir, 'inline-values.json');
    await writeFile(inline, JSON.stringify(opts.values));
    valueArgs.push('--values', inline);
  }

  const helm = requireTool(ctx.tools, 'helm', chartFile);
  const home = (name: string) => path.join(ctx.tempDir, name);
  const result = await runTool(
    helm,
    [
      'template',
      opts.releaseName,
      chartDir,
      '--namespace',
      opts.namespace,
      '--include-crds',
      ...valueArgs,
    ],
    {
      what: 'helm template',
      env: toolEnvironment(ctx.tempDir, {
        HELM_CACHE_HOME: home('helm-cache'),
        HELM_CONFIG_HOME: home('helm-config'),
        HELM_DATA_HOME: home('helm-data'),
      }),
      cwd: ctx.appDir,
      timeoutMs: ctx.timeoutMs,
      maxOutputBytes: ctx.maxOutputBytes,
      location: { file: chartFile },
    },
  );
  if (result.exitCode !== 0) {
    const message = toolMessage(result, ctx.root);
    const template = templateOf(message, chartName, ctx.appRel);
    throw new DriftlessError(
      'RenderFailed',
      `helm template: ${message}`,
      template ?? { file: chartFile },
    );
  }
  const texts = splitHelmOutput(result.stdout, chartName, ctx.appRel);
  return mapHelmHooks(manifestsFromRendered(texts, ctx.appRel, ctx.manifestOptions));
}

async function readChartFile(ctx: RenderContext, name: string): Promise<string | undefined> {
  const real = await realPathInside(
    ctx.root,
    path.join(ctx.appDir, name),
    ctx.appRel === '.' ? name : `${ctx.appRel}/${name}`,
  );
  if (real === undefined) return undefined;
  return readFile(real, 'utf8');
}

/**
 * Every dependency of Chart.yaml (and of a v1 chart's requirements.yaml) must
 * be a chart under charts/ (a directory with a Chart.yaml of that name, or an
 * archive `<name>-<version>.tgz`) or come from an https:// or oci://
 * repository: those are returned, to be fetched.
 */
async function checkVendoredDependencies(
  ctx: RenderContext,
  chartFile: string,
  chartDoc: YamlDocument,
): Promise<MissingDependency[]> {
  const declared: { deps: ChartDependency[]; doc: YamlDocument; file: string }[] = [
    { deps: dependenciesOf(chartDoc), doc: chartDoc, file: chartFile },
  ];
  const requirements = await readChartFile(ctx, 'requirements.yaml');
  if (requirements !== undefined) {
    const file = ctx.appRel === '.' ? 'requirements.yaml' : `${ctx.appRel}/requirements.yaml`;
    const [doc] = parseYamlDocuments(requirements, file, { maxAliasCount: ctx.maxAliasCount });
    if (doc) declared.push({ deps: dependenciesOf(doc), doc, file });
  }
  if (declared.every((d) => d.deps.length === 0)) return [];
  const locked = await lockedVersions(ctx);

  const vendored = new Set<string>();
  const chartsDir = path.join(ctx.appDir, 'charts');
  const entries = await readdir(chartsDir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.name.endsWith('.tgz')) {
      vendored.add(entry.name.replace(/-v?\d+\.\d+\.\d+[^/]*\.tgz$/, '').replace(/\.tgz$/, ''));
      continue;
    }
    const subchart = await readFile(path.join(chartsDir, entry.name, 'Chart.yaml'), 'utf8').catch(
      () => undefined,
    );
    if (subchart === undefined) continue;
    let name: unknown;
    try {
      name = asMapping(parseYamlDocuments(subchart, entry.name)[0]?.value)?.name;
    } catch {
      // helm reports a broken subchart itself
    }
    vendored.add(typeof name === 'string' ? name : entry.name);
  }
  const missing: MissingDependency[] = [];
  for (const { deps, doc, file } of declared) {
    for (const dep of deps) {
      if (vendored.has(dep.name)) continue;
      const location = {
        file,
        line: doc.lineOf(['dependencies', dep.index]),
        field: `dependencies[${dep.index}]`,
      };
      const lock = locked.get(dep.name);
      const repository = lock?.repository ?? dep.repository;
      if (repository && /^(https?|oci):\/\//.test(repository)) {
        const version = lock?.version ?? dep.version;
        if (!version) {
          throw new DriftlessError(
            'InvalidManifest',
            `dependency "${dep.name}" from ${repository} has no version (and Chart.lock does not lock it)`,
            location,
          );
        }
        missing.push({ dep, repository, version, location });
        continue;
      }
      if (repository?.startsWith('@') || repository?.startsWith('alias:')) {
        throw new DriftlessError(
          'InvalidManifest',
          `dependency "${dep.name}" names the repository alias ${repository}: Driftless has no ` +
            'Helm repository configuration; name the repository by its https:// or oci:// URL',
          location,
        );
      }
      const from = dep.repository ? ` (from ${dep.repository})` : '';
      const chartsRel = ctx.appRel === '.' ? 'charts/' : `${ctx.appRel}/charts/`;
      throw new DriftlessError(
        'InvalidManifest',
        `dependency "${dep.name}"${from} is not vendored under ${chartsRel}, and only https:// and ` +
          'oci:// repositories are fetched; run `helm dependency build` and commit the charts/ directory',
        location,
      );
    }
  }
  return missing;
}

/** Chart.lock's dependencies by name (exact versions and repositories). */
async function lockedVersions(
  ctx: RenderContext,
): Promise<Map<string, { version?: string; repository?: string }>> {
  const locked = new Map<string, { version?: string; repository?: string }>();
  for (const name of ['Chart.lock', 'requirements.lock']) {
    const text = await readChartFile(ctx, name);
    if (text === undefined) continue;
    const file = ctx.appRel === '.' ? name : `${ctx.appRel}/${name}`;
    const [doc] = parseYamlDocuments(text, file, { maxAliasCount: ctx.maxAliasCount });
    const list = asMapping(doc?.value)?.dependencies;
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      const d = asMapping(item);
      if (typeof d?.name !== 'string') continue;
      locked.set(d.name, {
        version: typeof d.version === 'string' ? d.version : undefined,
        repository: typeof d.repository === 'string' ? d.repository : undefined,
      });
    }
  }
  return locked;
}

/**
 * A copy of the chart in the render's temporary directory with its missing
 * dependencies fetched into charts/ (the checkout is shared and never
 * written). Fetching is the only network of a render, and only to the
 * repositories the chart declares.
 */
async function withDependencies(
  ctx: RenderContext,
  missing: readonly MissingDependency[],
): Promise<string> {
  const copy = path.join(ctx.tempDir, 'chart', path.basename(ctx.appDir));
  await cp(ctx.appDir, copy, { recursive: true, dereference: true });
  await mkdir(path.join(copy, 'charts'), { recursive: true });
  for (const m of missing) {
    const at = { repoURL: m.repository, chart: m.dep.name };
    try {
      const version = await ctx.charts.resolve(at, m.version);
      const stored = await ctx.charts.fetch(at, version);
      await copyFile(stored.tgz, path.join(copy, 'charts', `${m.dep.name}-${version}.tgz`));
    } catch (e) {
      if (!(e instanceof DriftlessError)) throw e;
      throw new DriftlessError(
        e.reason,
        `dependency "${m.dep.name}" ${m.version} from ${m.repository}: ${e.message}`,
        m.location,
        { cause: e },
      );
    }
  }
  return copy;
}

function dependenciesOf(doc: YamlDocument): ChartDependency[] {
  const list = asMapping(doc.value)?.dependencies;
  if (!Array.isArray(list)) return [];
  const deps: ChartDependency[] = [];
  for (const [index, item] of list.entries()) {
    const dep = asMapping(item);
    if (typeof dep?.name !== 'string') continue; // helm reports a malformed entry
    deps.push({
      name: dep.name,
      repository: typeof dep.repository === 'string' ? dep.repository : undefined,
      version: typeof dep.version === 'string' ? dep.version : undefined,
      index,
    });
  }
  return deps;
}

/** The chart path helm names (`web/templates/x.yaml`) as a checkout-relative path. */
function checkoutPath(helmPath: string, chartName: string, appRel: string): string {
  const inChart = helmPath.startsWith(`${chartName}/`)
    ? helmPath.slice(chartName.length + 1)
    : helmPath;
  return appRel === '.' ? inChart : `${appRel}/${inChart}`;
}

/** The template (and line, when given) a helm error names, as a checkout path. */
export function templateOf(
  message: string,
  chartName: string,
  appRel: string,
): { file: string; line?: number } | undefined {
  const escaped = chartName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`(?:^|[\\s("'<])(${escaped}/[^\\s:()"'<>]+)(?::(\\d+))?`).exec(message);
  if (!match?.[1]) return undefined;
  const file = checkoutPath(match[1], chartName, appRel);
  return match[2] ? { file, line: Number(match[2]) } : { file };
}

/**
 * helm template's output by the template each document came from (its
 * `# Source:` comment), in order of first appearance; documents of one
 * template (helm sorts by kind, so they may be apart) together. Lines then
 * count in that template's rendered output.
 */
export function splitHelmOutput(text: string, chartName: string, appRel: string): RenderedText[] {
  const bySource = new Map<string, string[]>();
  const fallback = appRel === '.' ? 'Chart.yaml' : `${appRel}/Chart.yaml`;
  // A `---` line at column 0 always starts a document, even inside a block scalar.
  for (const chunk of text.split(/^---[ \t]*(?:\r?\n|$)/m)) {
    const source = /^# Source: (.+)$/m.exec(chunk.split('\n').find((l) => l.trim()) ?? '');
    const body = source ? chunk.slice(chunk.indexOf(source[0]) + source[0].length + 1) : chunk;
    if (!body.trim()) continue;
    const file = source?.[1] ? checkoutPath(source[1].trim(), chartName, appRel) : fallback;
    let docs = bySource.get(file);
    if (!docs) {
      docs = [];
      bySource.set(file, docs);
    }
    docs.push(body.endsWith('\n') ? body : `${body}\n`);
  }
  return [...bySource].map(([file, docs]) => ({ file, text: docs.join('---\n') }));
}

const HELM_HOOK_PHASES: Record<string, 'PreSync' | 'PostSync' | undefined> = {
  'pre-install': 'PreSync',
  'pre-upgrade': 'PreSync',
  'post-install': 'PostSync',
  'post-upgrade': 'PostSync',
  // Driftless never uninstalls or rolls back a release: these never run.
  'pre-delete': undefined,
  'post-delete': undefined,
  'pre-rollback': undefined,
  'post-rollback': undefined,
};
const HELM_TEST_HOOKS = new Set(['test', 'test-success', 'test-failure']);
const HELM_DELETE_POLICIES: Record<string, string> = {
  'before-hook-creation': 'BeforeHookCreation',
  'hook-succeeded': 'HookSucceeded',
  'hook-failed': 'HookFailed',
};

/**
 * Helm's hook annotations as Driftless's: pre-install/pre-upgrade → PreSync,
 * post-install/post-upgrade → PostSync, the delete policies by name, the
 * weight → the hook's wave. Test hooks, and hooks only for delete or
 * rollback, are dropped (never applied). `helm.sh/resource-policy: keep`
 * becomes `driftless.dev/prune: "false"`. An object that already has a
 * Driftless hook annotation keeps it. Mutates the objects it keeps.
 */
export function mapHelmHooks(manifests: readonly Manifest[]): Manifest[] {
  const kept: Manifest[] = [];
  for (const m of manifests) {
    const annotations = m.object.metadata.annotations;
    if (!annotations) {
      kept.push(m);
      continue;
    }
    if (annotations[HELM_RESOURCE_POLICY]?.trim() === 'keep') {
      annotations[ANNOTATION_PRUNE] ??= 'false';
    }
    const hookText = annotations[HELM_HOOK];
    if (hookText === undefined || hasHookAnnotation(m.object)) {
      kept.push(m);
      continue;
    }
    const invalid = (annotation: string, message: string) =>
      new DriftlessError('InvalidManifest', message, {
        file: m.file,
        line: m.lineOf(['metadata', 'annotations', annotation]),
        object: `${m.object.kind}/${m.object.metadata.name}`,
        field: `metadata.annotations["${annotation}"]`,
      });

    const events = splitList(hookText);
    const unknown = events.find((e) => !(e in HELM_HOOK_PHASES) && !HELM_TEST_HOOKS.has(e));
    if (unknown !== undefined) {
      throw invalid(HELM_HOOK, `unknown Helm hook "${unknown}"`);
    }
    if (events.some((e) => HELM_TEST_HOOKS.has(e))) continue;
    const phases = [...new Set(events.map((e) => HELM_HOOK_PHASES[e]))].filter(
      (p): p is 'PreSync' | 'PostSync' => p !== undefined,
    );
    if (phases.length === 0) continue;

    const policies: string[] = [];
    for (const policy of splitList(annotations[HELM_HOOK_DELETE_POLICY] ?? '')) {
      const mapped = HELM_DELETE_POLICIES[policy];
      if (!mapped)
        throw invalid(HELM_HOOK_DELETE_POLICY, `unknown Helm hook delete policy "${policy}"`);
      if (!policies.includes(mapped)) policies.push(mapped);
    }
    const weight = annotations[HELM_HOOK_WEIGHT]?.trim();
    if (weight !== undefined && weight !== '' && !/^[-+]?\d+$/.test(weight)) {
      throw invalid(HELM_HOOK_WEIGHT, `Helm hook weight must be an integer, got "${weight}"`);
    }

    annotations[ANNOTATION_HOOK] = phases.join(',');
    // Unset means before-hook-creation for Helm, and for Driftless alike.
    if (policies.length) annotations[ANNOTATION_HOOK_DELETE_POLICY] = policies.join(',');
    if (weight) annotations[ANNOTATION_SYNC_WAVE] ??= String(Number.parseInt(weight, 10));
    kept.push(m);
  }
  return kept;
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function asMapping(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}
