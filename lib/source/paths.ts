// Confinement of user-named paths to a repository checkout: no absolute
// paths, no `..` in an app path, and symlinks followed only while their real
// path stays inside the checkout. Shared by plain manifests and rendered
// (Kustomize, Helm) sources.

import { lstat, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { DriftlessError } from '../errors.js';

/** appPath as checkout-relative segments; absolute paths and `..` are refused. */
export function confinedSegments(appPath: string): string[] {
  const refuse = (why: string) =>
    new DriftlessError('PathEscape', `path "${appPath}" ${why}`, { file: appPath });
  if (appPath.includes('\0')) throw refuse('contains a NUL byte');
  if (path.posix.isAbsolute(appPath) || path.win32.isAbsolute(appPath)) {
    throw refuse('is absolute; it must be relative to the repository root');
  }
  const segments = appPath.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw refuse('contains ".."; it must stay inside the repository');
  return segments;
}

/** The checkout's real path (symlinks resolved): what every confined path is compared with. */
export async function checkoutRoot(checkoutDir: string): Promise<string> {
  try {
    return await realpath(checkoutDir);
  } catch (e) {
    throw new DriftlessError(
      'Internal',
      `checkout ${checkoutDir} is not readable`,
      {},
      { cause: e },
    );
  }
}

/** Whether real path p is root or below it. */
export function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/** p (absolute, inside root) as a checkout-relative, `/`-separated path; `.` for the root. */
export function relativeToCheckout(root: string, p: string): string {
  return path.relative(root, p).split(path.sep).join('/') || '.';
}

/**
 * Real path of a path, refusing one that resolves outside the checkout;
 * undefined if it does not exist. `shown` names it in errors.
 */
export async function realPathInside(
  root: string,
  p: string,
  shown: string,
): Promise<string | undefined> {
  let real: string;
  try {
    real = await realpath(p);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'ELOOP') {
      throw new DriftlessError('InvalidManifest', 'symlink loop', { file: shown || '.' });
    }
    throw e;
  }
  if (!isInside(root, real)) {
    throw new DriftlessError(
      'PathEscape',
      `"${shown}" resolves outside the repository checkout (through a symlink)`,
      { file: shown || '.' },
    );
  }
  return real;
}

/**
 * Refuses a symlink anywhere under dir (recursively, dir inside root) whose
 * target leaves the checkout. For trees a tool reads whole, following links
 * (Helm loads every file of a chart): a link to /proc or to another
 * repository's checkout must not end up in a rendered object.
 */
export async function assertLinksInside(root: string, dir: string): Promise<void> {
  const visited = new Set<string>();
  const walk = async (realDir: string): Promise<void> => {
    if (visited.has(realDir)) return;
    visited.add(realDir);
    for (const entry of await readdir(realDir, { withFileTypes: true })) {
      const p = path.join(realDir, entry.name);
      if (entry.isSymbolicLink()) {
        const target = await realPathInside(root, p, relativeToCheckout(root, p));
        if (target !== undefined && (await lstat(target)).isDirectory()) await walk(target);
      } else if (entry.isDirectory()) {
        await walk(p);
      }
    }
  };
  await walk(dir);
}
