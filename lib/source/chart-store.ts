// Chart packages by digest, across warm invocations: in memory (the unpacked
// directory of each digest seen by this process) and on disk (one directory
// per sha256, written under a temporary name and renamed when complete, so a
// crash leaves no half entry). A package's bytes are checked against the
// digest its repository declared before anything is kept: a tampered or
// corrupted download is refused with both digests in the message.

import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DriftlessError } from '../errors.js';
import { unpackTgz } from './tar.js';

/** Charts (digests) kept on disk by one process; the least recently used beyond are removed. */
export const DEFAULT_MAX_STORED_CHARTS = 64;

export interface StoredChart {
  /** `sha256:<hex>` of the package. */
  digest: string;
  /** The unpacked chart's directory (its Chart.yaml at the top). */
  dir: string;
  /** The package itself (a dependency is vendored into charts/ as this file). */
  tgz: string;
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** `sha256:<64 hex>` (a bare hex digest, as index.yaml writes it, is taken as sha256). */
export function normalizeDigest(digest: string): string | undefined {
  const d = digest.trim().toLowerCase();
  if (/^sha256:[0-9a-f]{64}$/.test(d)) return d;
  if (/^[0-9a-f]{64}$/.test(d)) return `sha256:${d}`;
  return undefined;
}

export class ChartStore {
  private readonly entries = new Map<string, Promise<StoredChart>>();
  readonly root: string;

  constructor(
    root = path.join(os.tmpdir(), 'driftless-charts'),
    private readonly maxEntries = DEFAULT_MAX_STORED_CHARTS,
  ) {
    this.root = root;
  }

  /** The chart stored under `digest`, if this process or an earlier one kept it. */
  async lookup(digest: string): Promise<StoredChart | undefined> {
    const hit = this.entries.get(digest);
    if (hit) {
      this.touch(digest, hit);
      return hit;
    }
    const found = await this.fromDisk(digest);
    if (found) this.touch(digest, Promise.resolve(found));
    return found;
  }

  /**
   * Keeps a downloaded package after checking it against `digest` (what the
   * repository declared). `what` names the chart in errors.
   */
  async put(digest: string, tgz: Buffer, what: string): Promise<StoredChart> {
    const actual = sha256Digest(tgz);
    if (actual !== digest) {
      throw new DriftlessError(
        'DigestMismatch',
        `${what}: the download's digest is ${actual}, but the repository declares ${digest}; ` +
          'the chart was refused (tampered or corrupted)',
      );
    }
    // Registered before any await: concurrent puts of one digest share one write.
    const pending = this.entries.get(digest);
    if (pending) return pending;
    const stored = (async () =>
      (await this.fromDisk(digest)) ?? (await this.write(digest, tgz, what)))();
    this.touch(digest, stored);
    stored.catch(() => this.entries.delete(digest));
    return stored;
  }

  private async fromDisk(digest: string): Promise<StoredChart | undefined> {
    const entry = this.entryDir(digest);
    if (!(await stat(path.join(entry, '.complete')).catch(() => undefined))) return undefined;
    return this.describe(digest, entry);
  }

  private async write(digest: string, tgz: Buffer, what: string): Promise<StoredChart> {
    const entry = this.entryDir(digest);
    const tmp = `${entry}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    await mkdir(path.join(tmp, 'chart'), { recursive: true });
    try {
      await writeFile(path.join(tmp, 'chart.tgz'), tgz);
      await unpackTgz(tgz, path.join(tmp, 'chart'), what);
      await writeFile(path.join(tmp, '.complete'), '');
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    // Another process may have stored the same digest meanwhile: same bytes, keep theirs.
    await rename(tmp, entry).catch(async (e: NodeJS.ErrnoException) => {
      await rm(tmp, { recursive: true, force: true });
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
    });
    return this.describe(digest, entry);
  }

  private async describe(digest: string, entry: string): Promise<StoredChart> {
    // A package holds one top directory, named after the chart.
    const top = (await readdir(path.join(entry, 'chart'), { withFileTypes: true })).filter((d) =>
      d.isDirectory(),
    );
    if (top.length !== 1 || !top[0]) {
      throw new DriftlessError(
        'InvalidManifest',
        `chart package ${digest} must hold exactly one top directory (found ${top.length})`,
      );
    }
    return {
      digest,
      dir: path.join(entry, 'chart', top[0].name),
      tgz: path.join(entry, 'chart.tgz'),
    };
  }

  private entryDir(digest: string): string {
    return path.join(this.root, digest.replace(':', '-'));
  }

  private touch(digest: string, stored: Promise<StoredChart>): void {
    this.entries.delete(digest);
    this.entries.set(digest, stored);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      void rm(this.entryDir(oldest), { recursive: true, force: true });
    }
  }
}
