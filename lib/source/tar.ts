// A chart package (.tgz) unpacked into a directory: gzip through zlib, then
// the tar format (ustar, with pax and GNU long-name headers, which `helm
// package` and Go's archive/tar write). Only regular files and directories
// are written; links, devices and paths leaving the directory are refused,
// so a package cannot write outside the cache entry it is unpacked into.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DriftlessError } from '../errors.js';

/** Bytes of a package once unpacked; bigger is refused. */
export const DEFAULT_MAX_UNPACKED_BYTES = 64 * 1024 * 1024;

const BLOCK = 512;

/** Unpacks `tgz` into `dir` (which must exist); `what` names the package in errors. */
export async function unpackTgz(
  tgz: Buffer,
  dir: string,
  what: string,
  maxBytes = DEFAULT_MAX_UNPACKED_BYTES,
): Promise<void> {
  let tar: Buffer;
  try {
    tar = gunzipSync(tgz, { maxOutputLength: maxBytes });
  } catch (e) {
    throw new DriftlessError(
      'SourceUnavailable',
      `${what} is not a gzip archive: ${(e as Error).message}`,
    );
  }
  const bad = (why: string) => new DriftlessError('InvalidManifest', `${what}: ${why}`);
  let offset = 0;
  let longName: string | undefined;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break;
    const size = octal(header.subarray(124, 136));
    const type = String.fromCharCode(header[156] ?? 0);
    const bodyStart = offset + BLOCK;
    const body = tar.subarray(bodyStart, bodyStart + size);
    offset = bodyStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x') {
      longName = paxPath(body.toString('utf8')) ?? longName;
      continue;
    }
    if (type === 'L') {
      longName = body.toString('utf8').replace(/\0.*$/s, '');
      continue;
    }
    if (type === 'g') continue; // global pax header
    const prefix = cString(header.subarray(345, 500));
    const short = cString(header.subarray(0, 100));
    const name = longName ?? (prefix ? `${prefix}/${short}` : short);
    longName = undefined;
    if (type !== '0' && type !== '\0' && type !== '5') {
      throw bad(`entry ${name} is not a file or directory (tar type ${JSON.stringify(type)})`);
    }
    const target = path.resolve(dir, name);
    if (!target.startsWith(dir + path.sep) || name.includes('\0')) {
      throw bad(`entry ${name} would be written outside the package`);
    }
    if (type === '5') {
      await mkdir(target, { recursive: true });
      continue;
    }
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, body, { flag: 'wx' });
  }
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end === -1 ? b.length : end).toString('utf8');
}

function octal(b: Buffer): number {
  const text = cString(b).trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

/** The `path` record of a pax header (`<len> path=<value>\n` records). */
function paxPath(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^\d+ path=(.*)$/s.exec(line);
    if (m) return m[1];
  }
  return undefined;
}
