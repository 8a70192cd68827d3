// Kustomize sources: `kubectl kustomize <dir>` (kustomize built into kubectl),
// with kustomize's root-only load restrictor (a kustomization reads files
// only in or below its own directory; other directories come in as
// kustomizations of their own), no Helm inflation and no plugins.
//
// Before kubectl runs, every kustomization the app reaches is read: a remote
// reference (a URL, `github.com/org/repo//path?ref=…`, `git@…`) fails with
// the kustomization's file and line, and a local directory reference must
// resolve inside the checkout. Rendering has no network: it must not depend
// on what a third-party repository serves at reconcile time. The tool's
// environment also has no route out (see toolEnvironment), in case a form
// of remote reference slips past the check.

import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { DriftlessError } from '../errors.js';
import { parseYamlDocuments } from '../model/yaml.js';
import { type Manifest, manifestsFromRendered } from './manifests.js';
import { isInside, realPathInside, relativeToCheckout } from './paths.js';
import type { RenderContext } from './render-context.js';
import { requireTool } from './render-tools.js';
import { runTool, toolEnvironment, toolMessage } from './tool.js';

/** The names kustomize looks for, in its order. */
export const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** Fields of a kustomization that name other kustomizations, files or remote targets. */
const REFERENCE_FIELDS = [
  'resources',
  'bases',
  'components',
  'generators',
  'transformers',
  'validators',
] as const;

const MAX_KUSTOMIZATION_BYTES = 1024 * 1024;

/** The kustomization file in dir, if there is one. */
export async function findKustomization(dir: string): Promise<string | undefined> {
  for (const name of KUSTOMIZATION_FILES) {
    const stats = await stat(path.join(dir, name)).catch(() => undefined);
    if (stats?.isFile()) return name;
  }
  return undefined;
}

/**
 * Whether a kustomization entry refers to something outside the repository:
 * any URL scheme, git's scp-like and go-getter forms, and kustomize's
 * `host.tld/org/repo` shorthand (only when no such local path exists, as
 * kustomize itself decides).
 */
export function isRemoteReference(entry: string, existsLocally: boolean): boolean {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(entry)) return true;
  if (/^(git@|git::|[a-z]+::)/i.test(entry)) return true;
  if (existsLocally) return false;
  if (/[?&](ref|version|timeout|submodules)=/.test(entry)) return true;
  if (/\.git(\/\/|\?|$)/.test(entry)) return true;
  const [first] = entry.split('/');
  return (
    entry.includes('/') &&
    first !== undefined &&
    /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(:\d+)?$/.test(first)
  );
}

/**
 * Reads the kustomization at dir and every local kustomization it reaches;
 * refuses remote references, directory references outside the checkout and
 * Helm inflation, naming the file, line and field.
 */
export async function checkKustomizations(
  root: string,
  dir: string,
  maxAliasCount: number,
): Promise<void> {
  const visited = new Set<string>();
  const visit = async (realDir: string): Promise<void> => {
    if (visited.has(realDir)) return;
    visited.add(realDir);
    const name = await findKustomization(realDir);
    if (!name) return; // kustomize reports a directory without one
    const file = relativeToCheckout(root, path.join(realDir, name));
    // Not read if it links out of the checkout (kustomize would not read it either).
    const real = await realPathInside(root, path.join(realDir, name), file);
    if (real === undefined) return;
    const stats = await stat(real);
    if (stats.size > MAX_KUSTOMIZATION_BYTES) {
      throw new DriftlessError('InvalidManifest', 'kustomization file is larger than 1 MiB', {
        file,
      });
    }
    const text = await readFile(real, 'utf8');
    const [doc] = parseYamlDocuments(text, file, { maxAliasCount });
    const spec = doc?.value;
    if (!doc || typeof spec !== 'object' || spec === null || Array.isArray(spec)) return;
    const fields = spec as Record<string, unknown>;

    for (const helmField of ['helmCharts', 'helmChartInflationGenerator', 'helmGlobals']) {
      if (fields[helmField] !== undefined) {
        throw new DriftlessError(
          'InvalidManifest',
          `${helmField} is not supported: Driftless runs kustomize without Helm inflation ` +
            '(it would fetch charts at render time); use a source of type helm for the chart',
          { file, line: doc.lineOf([helmField]), field: helmField },
        );
      }
    }

    for (const field of REFERENCE_FIELDS) {
      const entries = fields[field];
      if (!Array.isArray(entries)) continue;
      for (const [i, entry] of entries.entries()) {
        // Inline generator/transformer configs are YAML text, not references.
        if (typeof entry !== 'string' || entry.includes('\n')) continue;
        const where = { file, line: doc.lineOf([field, i]), field: `${field}[${i}]` };
        const target = path.resolve(realDir, entry);
        const exists = (await lstat(target).catch(() => undefined)) !== undefined;
        if (isRemoteReference(entry, exists)) {
          throw new DriftlessError(
            'InvalidManifest',
            `remote ${field === 'resources' || field === 'bases' ? 'base' : 'reference'} "${entry}" ` +
              'is not supported: Driftless renders Kustomize without network access; ' +
              'vendor it into the repository and refer to it by a relative path',
            where,
          );
        }
        if (!exists) continue; // kustomize reports the missing file
        let real: string;
        try {
          real = await realpath(target);
        } catch {
          continue; // a dangling link: kustomize reports it
        }
        if (!isInside(root, real)) {
          throw new DriftlessError(
            'PathEscape',
            `"${entry}" is outside the repository checkout`,
            where,
          );
        }
        if ((await stat(real)).isDirectory()) await visit(real);
      }
    }
  };
  await visit(dir);
}

export async function renderKustomize(ctx: RenderContext): Promise<Manifest[]> {
  const name = await findKustomization(ctx.appDir);
  if (!name) {
    throw new DriftlessError(
      'InvalidSpec',
      `source type is kustomize, but "${ctx.appRel}" has no ${KUSTOMIZATION_FILES.join(', ')}`,
      { file: ctx.appRel, field: 'source.path' },
    );
  }
  const file = ctx.appRel === '.' ? name : `${ctx.appRel}/${name}`;
  await checkKustomizations(ctx.root, ctx.appDir, ctx.maxAliasCount);
  const kubectl = requireTool(ctx.tools, 'kubectl', file);
  const result = await runTool(
    kubectl,
    ['kustomize', ctx.appDir, '--load-restrictor=LoadRestrictionsRootOnly'],
    {
      what: 'kubectl kustomize',
      env: toolEnvironment(ctx.tempDir),
      cwd: ctx.appDir,
      timeoutMs: ctx.timeoutMs,
      maxOutputBytes: ctx.maxOutputBytes,
      location: { file },
    },
  );
  if (result.exitCode !== 0) {
    throw new DriftlessError('RenderFailed', `kustomize: ${toolMessage(result, ctx.root)}`, {
      file,
    });
  }
  return manifestsFromRendered([{ file, text: result.stdout }], ctx.appRel, ctx.manifestOptions);
}
