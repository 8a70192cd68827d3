// The pure parts of chart fetching: version picking, index parsing, OCI
// references and challenges, package unpacking and the digest check.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { ChartStore, sha256Digest } from '../../../lib/source/chart-store.js';
import { parseIndex, pickVersion } from '../../../lib/source/helmrepo.js';
import { challengeParams, parseOciReference } from '../../../lib/source/oci.js';
import { unpackTgz } from '../../../lib/source/tar.js';

/** A ustar archive of regular files (name → content). */
function tar(files: Record<string, string>, type = '0'): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, text] of Object.entries(files)) {
    const header = Buffer.alloc(512);
    header.write(name, 0);
    header.write('0000644\0', 100);
    header.write(`${Buffer.byteLength(text).toString(8).padStart(11, '0')}\0`, 124);
    header.write(type, 156);
    header.write('ustar\0', 257);
    blocks.push(header);
    const body = Buffer.alloc(Math.ceil(Buffer.byteLength(text) / 512) * 512);
    body.write(text);
    blocks.push(body);
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const dirs: string[] = [];
const tempDir = async () => {
  const d = await mkdtemp(path.join(os.tmpdir(), 'driftless-chart-unit-'));
  dirs.push(d);
  return d;
};
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('pickVersion', () => {
  const versions = ['0.9.0', '1.0.0', '1.4.1', '2.0.0-rc.1', '2.0.0', 'latest'];
  it('picks the highest inside a range, never a prerelease unless named', () => {
    expect(pickVersion(versions, '^1.0.0')).toBe('1.4.1');
    expect(pickVersion(versions, '*')).toBe('2.0.0');
    expect(pickVersion(versions, '>=2.0.0-0')).toBe('2.0.0');
    expect(pickVersion(['1.0.0', '2.0.0-rc.1'], '>=2.0.0-0')).toBe('2.0.0-rc.1');
    expect(pickVersion(versions, '^3.0.0')).toBeUndefined();
  });
  it('matches an exact version only to itself', () => {
    expect(pickVersion(versions, '1.0.0')).toBe('1.0.0');
    expect(pickVersion(versions, '1.0.1')).toBeUndefined();
  });
});

describe('parseIndex', () => {
  it('reads versions, digests and URLs relative to the index', () => {
    const charts = parseIndex(
      `apiVersion: v1\nentries:\n  web:\n  - version: 1.0.0\n    digest: ${'a'.repeat(64)}\n    urls: [web-1.0.0.tgz]\n  - version: 1.1.0\n    urls: [https://cdn.example.com/web-1.1.0.tgz]\n`,
      'https://charts.example.com/stable/index.yaml',
    );
    expect(charts.get('web')).toEqual([
      {
        version: '1.0.0',
        digest: `sha256:${'a'.repeat(64)}`,
        urls: ['https://charts.example.com/stable/web-1.0.0.tgz'],
      },
      { version: '1.1.0', digest: undefined, urls: ['https://cdn.example.com/web-1.1.0.tgz'] },
    ]);
  });
  it('refuses what is not an index', () => {
    expect(() => parseIndex('hello: world\n', 'https://x/index.yaml')).toThrow(
      /not a Helm repository index/,
    );
  });
});

describe('OCI', () => {
  it('parses references, plain HTTP only for loopback', () => {
    expect(parseOciReference('oci://ghcr.io/acme/charts', 'api')).toEqual({
      registry: 'ghcr.io',
      repository: 'acme/charts/api',
      scheme: 'https',
    });
    expect(parseOciReference('oci://127.0.0.1:5000/', 'api')).toMatchObject({
      repository: 'api',
      scheme: 'http',
    });
  });
  it('reads a Bearer challenge', () => {
    expect(
      challengeParams(
        'Bearer realm="https://auth.example.com/token",service="registry",scope="repository:a/b:pull"',
      ),
    ).toEqual({
      realm: 'https://auth.example.com/token',
      service: 'registry',
      scope: 'repository:a/b:pull',
    });
  });
});

describe('chart packages', () => {
  it('unpacks files and refuses entries leaving the directory or that are links', async () => {
    const dir = await tempDir();
    await unpackTgz(gzipSync(tar({ 'web/Chart.yaml': 'name: web\n' })), dir, 'web');
    expect(await readFile(path.join(dir, 'web/Chart.yaml'), 'utf8')).toBe('name: web\n');
    await expect(
      unpackTgz(gzipSync(tar({ '../evil': 'x' })), await tempDir(), 'evil'),
    ).rejects.toThrow(/outside the package/);
    await expect(
      unpackTgz(gzipSync(tar({ 'web/link': '' }, '2')), await tempDir(), 'link'),
    ).rejects.toThrow(/not a file or directory/);
  });

  it('keeps a package only if it matches its digest', async () => {
    const store = new ChartStore(await tempDir());
    const tgz = gzipSync(tar({ 'web/Chart.yaml': 'name: web\n' }));
    const e = await store
      .put(sha256Digest(Buffer.from('other')), tgz, 'chart web 1.0.0')
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ reason: 'DigestMismatch' });
    expect((e as Error).message).toMatch(
      /chart web 1\.0\.0: the download's digest is sha256:[0-9a-f]{64}, but the repository declares/,
    );
    const stored = await store.put(sha256Digest(tgz), tgz, 'chart web 1.0.0');
    expect(path.basename(stored.dir)).toBe('web');
    // Another process (a new store over the same directory) finds it on disk.
    const again = await new ChartStore(store.root).lookup(sha256Digest(tgz));
    expect(again?.dir).toBe(stored.dir);
  });
});
