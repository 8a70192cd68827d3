// From an application's source in a checkout to manifests, whatever the
// source type: a directory of YAML (loadManifests), a Kustomization
// (`kubectl kustomize`) or a Helm chart (`helm template`). Rendered output is
// parsed and validated exactly as files are, so everything after this point
// (plan, diff, apply) is the same for all three.

import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DriftlessError } from '../errors.js';
import type { ApplicationSource, Decryption, SourceType } from '../model/application.js';
import { canonicalJson } from '../model/canonical.js';
import { DEFAULT_MAX_ALIAS_COUNT } from '../model/yaml.js';
import type { RenderableApp, Renderer } from '../ports/render.js';
import type { FetchedSources } from '../ports/source.js';
import { type ChartSource, sharedChartFetcher } from './chart.js';
import { type DecryptionKeys, decryptionShape, renderDecrypted } from './decrypt.js';
import { renderHelm } from './helm.js';
import { findKustomization, renderKustomize } from './kustomize.js';
import { loadManifests, type Manifest } from './manifests.js';
import { checkoutRoot, confinedSegments, realPathInside } from './paths.js';
import type { RenderContext } from './render-context.js';
import { locateRenderTools, type RenderTools } from './render-tools.js';

export interface SourceRenderOptions {
  /** kubectl and helm. Default: located at each render (env vars, else the Lambda layer at /opt). */
  tools?: RenderTools;
  /** Wall-clock limit of one kustomize or helm run. Default 60 s. */
  timeoutMs?: number;
  /** Output of one kustomize or helm run. Default 50 MiB (the limit of a directory's files). */
  maxOutputBytes?: number;
  /** Where per-render temporary directories go. Default: the OS's (in Lambda, /tmp). */
  tempRoot?: string;
  /** Fetches unvendored chart dependencies. Default: the process's shared chart fetcher. */
  charts?: ChartSource;
  /** Keys for apps with spec.decryption (SOPS); unset, such an app fails to render. */
  decryption?: DecryptionKeys;
}

export interface RenderTarget {
  /** The application's name: Helm's default release name. */
  appName: string;
  /** The destination's namespace: Helm's `.Release.Namespace` (default `default`). */
  namespace: string | undefined;
}

const MiB = 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_OUTPUT_BYTES = 50 * MiB;

const DETECTED_BECAUSE: Record<SourceType, string> = {
  directory: 'it has no kustomization file or Chart.yaml',
  kustomize: 'it has a kustomization file',
  helm: 'it has a Chart.yaml',
};

/** kustomization.yaml (or .yml, or Kustomization) → kustomize; Chart.yaml → helm; else directory. */
export async function detectSourceType(dir: string): Promise<SourceType> {
  const stats = await stat(dir).catch(() => undefined);
  if (!stats?.isDirectory()) return 'directory';
  if (await findKustomization(dir)) return 'kustomize';
  const chart = await stat(path.join(dir, 'Chart.yaml')).catch(() => undefined);
  if (chart?.isFile()) return 'helm';
  return 'directory';
}

/** The manifests of an application's source in a checkout. */
export async function renderSource(
  checkoutDir: string,
  source: ApplicationSource,
  target: RenderTarget,
  opts: SourceRenderOptions = {},
  refs: Readonly<Record<string, string>> = {},
): Promise<Manifest[]> {
  // A chart source's directory is the unpacked chart itself.
  const segments = confinedSegments(source.chart !== undefined ? '.' : source.path);
  const appRel = segments.join('/') || '.';
  const root = await checkoutRoot(checkoutDir);
  const appDir = await realPathInside(root, path.join(root, ...segments), appRel);
  if (appDir === undefined) {
    throw new DriftlessError('InvalidSpec', `path "${appRel}" does not exist in the revision`, {
      file: appRel,
      field: 'source.path',
    });
  }
  const type =
    source.chart !== undefined ? 'helm' : (source.type ?? (await detectSourceType(appDir)));
  for (const option of ['helm', 'kustomize'] as const) {
    if (source[option] !== undefined && type !== option) {
      throw new DriftlessError(
        'InvalidSpec',
        `source.${option} is set, but "${appRel}" is a ${type} source` +
          (source.type ? '' : ` (detected: ${DETECTED_BECAUSE[type]}; set source.type to choose)`),
        { file: appRel, field: `source.${option}` },
      );
    }
  }
  if (type === 'directory') return loadManifests(checkoutDir, source.path);

  if (!(await stat(appDir)).isDirectory()) {
    throw new DriftlessError(
      'InvalidSpec',
      `source type is ${type}, but "${appRel}" is a file, not a directory`,
      { file: appRel, field: 'source.path' },
    );
  }
  const tempDir = await mkdtemp(path.join(opts.tempRoot ?? os.tmpdir(), 'driftless-render-'));
  try {
    const ctx: RenderContext = {
      root,
      appDir,
      appRel,
      tools: opts.tools ?? locateRenderTools(),
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxOutputBytes: opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
      maxAliasCount: DEFAULT_MAX_ALIAS_COUNT,
      tempDir,
      manifestOptions: { maxAliasCount: DEFAULT_MAX_ALIAS_COUNT },
      refs,
      charts: opts.charts ?? sharedChartFetcher(),
    };
    if (type === 'kustomize') return await renderKustomize(ctx);
    return await renderHelm(ctx, {
      releaseName: source.helm?.releaseName ?? target.appName,
      namespace: target.namespace ?? 'default',
      valueFiles: source.helm?.valueFiles ?? [],
      values: source.helm?.values ?? {},
    });
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}

/**
 * An app's manifests: its source rendered with its SOPS files decrypted into
 * a private directory (lib/source/decrypt.ts) when it has spec.decryption,
 * and checked for anything still encrypted either way.
 */
export async function renderApp(
  checkoutDir: string,
  app: RenderableApp,
  namespace: string | undefined,
  opts: SourceRenderOptions = {},
  refs: Readonly<Record<string, string>> = {},
): Promise<Manifest[]> {
  const source = app.spec.source;
  const target: RenderTarget = { appName: app.metadata.name, namespace };
  return renderDecrypted(
    await checkoutRoot(checkoutDir),
    { spec: app.spec.decryption, keys: opts.decryption, source, tempRoot: opts.tempRoot },
    (dir) => renderSource(dir, source, target, opts, refs),
  );
}

/** Rendered sources a SourceCache keeps (one per app, commit and options). */
export const RENDER_CACHE_ENTRIES = 32;

/**
 * Rendered manifests of recently seen sources, by checkout directory, path
 * and a hash of everything else that shapes the output (type, options,
 * release name, namespace). A checkout directory holds exactly one commit
 * and never changes, so a warm worker re-checking an unchanged app skips the
 * render (for Kustomize and Helm, a process each) and the parse. Concurrent
 * callers share one render. Callers must not mutate the result.
 */
export class SourceCache implements Renderer {
  private readonly entries = new Map<string, Promise<readonly Manifest[]>>();

  constructor(
    private readonly opts: SourceRenderOptions = {},
    private readonly maxEntries = RENDER_CACHE_ENTRIES,
  ) {}

  render(
    checkoutDir: string,
    app: RenderableApp,
    namespace: string | undefined,
    refs: Readonly<Record<string, string>> = {},
  ): Promise<readonly Manifest[]> {
    const source = app.spec.source;
    const target: RenderTarget = { appName: app.metadata.name, namespace };
    // Ref checkouts are per commit, like checkoutDir: their paths stand for their contents.
    const key = `${checkoutDir}\0${source.path}\0${renderOptionsHash(source, target, app.spec.decryption)}\0${canonicalJson(refs)}`;
    let hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key); // most recently used last
    } else {
      hit = renderApp(checkoutDir, app, namespace, this.opts, refs);
      // A failure is not cached: the next attempt reports it afresh.
      hit.catch(() => this.entries.delete(key));
    }
    this.entries.set(key, hit);
    while (this.entries.size > this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    return hit;
  }
}

/** A hash of what, besides the files, shapes a source's manifests (no secret is part of it). */
export function renderOptionsHash(
  source: ApplicationSource,
  target: RenderTarget,
  decryption?: Decryption,
): string {
  const shaping = {
    decryption: decryptionShape(decryption),
    type: source.type ?? null,
    helm: source.helm ?? null,
    kustomize: source.kustomize ?? null,
    releaseName: source.helm?.releaseName ?? target.appName,
    namespace: target.namespace ?? null,
  };
  return createHash('sha256').update(canonicalJson(shaping)).digest('hex').slice(0, 32);
}

/**
 * The manifests of every source that renders (multi-source: in spec order,
 * together), each by `renderer` with the app's `ref` checkouts.
 */
export async function renderFetched(
  renderer: Renderer,
  fetched: FetchedSources,
  app: RenderableApp,
  namespace: string | undefined,
): Promise<readonly Manifest[]> {
  const [only, ...more] = fetched.rendered;
  if (only && more.length === 0) {
    return renderer.render(
      only.dir,
      { ...app, spec: { ...app.spec, source: only.source } },
      namespace,
      fetched.refs,
    );
  }
  const parts = await Promise.all(
    fetched.rendered.map((f) =>
      renderer.render(
        f.dir,
        { ...app, spec: { ...app.spec, source: f.source } },
        namespace,
        fetched.refs,
      ),
    ),
  );
  return parts.flat();
}
