// The source side against the real git http-backend server: resolving
// revisions, fetching single commits (the tip and older ones), the on-disk
// cache (zero requests on a hit, bounded), credentials, and loading the
// manifests of a real checkout.

import { chmod, lstat, mkdtemp, readdir, readFile, readlink, rm, symlink } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GIT_SOURCE_DEFAULTS } from '../../lib/source/git.js';
import {
  IsomorphicGitSource,
  type IsomorphicGitSourceOptions,
  loadManifests,
} from '../../lib/source/index.js';
import { testenv } from '../support/env.js';
import { rejection } from '../support/errors.js';
import { TestRepo } from '../support/git.js';

const cacheRoots: string[] = [];
afterAll(async () => {
  await Promise.all(cacheRoots.map((d) => rm(d, { recursive: true, force: true })));
});

async function newCacheRoot(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-git-cache-'));
  cacheRoots.push(dir);
  return dir;
}

/** A source with its own cache root, so tests (and vitest workers) do not share one. */
async function newSource(opts: IsomorphicGitSourceOptions = {}): Promise<IsomorphicGitSource> {
  return new IsomorphicGitSource({ cacheRoot: await newCacheRoot(), ...opts });
}

/** Git requests the server has answered for a repository so far. */
async function requestsTo(repo: TestRepo): Promise<number> {
  const res = await fetch(`${testenv().git.baseUrl}/_driftless/requests`);
  const counts = (await res.json()) as Record<string, number>;
  return counts[repo.name] ?? 0;
}

/** Every entry under dir: file contents, `-> target` for symlinks, `/` for directories. */
async function readTree(dir: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    const full = path.join(dir, child);
    if (entry.isSymbolicLink()) out[child] = `-> ${await readlink(full)}`;
    else if (entry.isDirectory())
      Object.assign(out, { [`${child}/`]: '' }, await readTree(dir, child));
    else out[child] = await readFile(full, 'utf8');
  }
  return out;
}

function cm(name: string, value: string): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: "${value}"\n`;
}

describe('IsomorphicGitSource.resolve', () => {
  it('resolves a branch, HEAD, a full ref and a SHA', async () => {
    const repo = await TestRepo.create('resolve');
    const first = await repo.commit({ 'a.yaml': cm('a', '1') }, 'first');
    const feature = await repo.commit({ 'b.yaml': cm('b', '1') }, 'feature', 'feature');
    const source = await newSource();

    expect(await source.resolve(repo.url, 'main')).toBe(first);
    expect(await source.resolve(repo.url, 'feature')).toBe(feature);
    expect(await source.resolve(repo.url, 'refs/heads/feature')).toBe(feature);
    expect(await source.resolve(repo.url, 'HEAD')).toBe(first);

    // A new commit on main moves the branch (nothing is cached on this path).
    const second = await repo.commit({ 'a.yaml': cm('a', '2') }, 'second', 'main');
    expect(await source.resolve(repo.url, 'main')).toBe(second);
    expect(await source.resolve(repo.url, 'HEAD')).toBe(second);

    // A full SHA is returned without asking the server.
    const before = await requestsTo(repo);
    expect(await source.resolve(repo.url, first)).toBe(first);
    expect(await source.resolve(repo.url, first.toUpperCase())).toBe(first);
    expect(await requestsTo(repo)).toBe(before);
  });

  it('costs one ref listing (protocol v2: one GET, one POST) for a branch', async () => {
    const repo = await TestRepo.create('resolve-cost');
    const sha = await repo.commit({ 'a.yaml': cm('a', '1') });
    const source = await newSource();
    const before = await requestsTo(repo);
    expect(await source.resolve(repo.url, 'main')).toBe(sha);
    expect((await requestsTo(repo)) - before).toBe(2);
  });

  it('resolves a lightweight tag and peels an annotated tag to its commit', async () => {
    const repo = await TestRepo.create('tags');
    const v1 = await repo.commit({ 'a.yaml': cm('a', '1') }, 'v1');
    await repo.tag('v1.0.0');
    const v2 = await repo.commit({ 'a.yaml': cm('a', '2') }, 'v2');
    await repo.tag('v2.0.0', { message: 'release 2' });
    await repo.commit({ 'a.yaml': cm('a', '3') }, 'after');
    const source = await newSource();

    expect(await source.resolve(repo.url, 'v1.0.0')).toBe(v1);
    const tagObject = await repo.revParse('v2.0.0');
    expect(tagObject).not.toBe(v2); // an annotated tag is an object of its own
    expect(await source.resolve(repo.url, 'v2.0.0')).toBe(v2);
    expect(await source.resolve(repo.url, 'refs/tags/v2.0.0')).toBe(v2);
  });

  it('prefers a branch over a tag of the same name; refs/tags/ picks the tag', async () => {
    const repo = await TestRepo.create('ambiguous');
    const tagged = await repo.commit({ 'a.yaml': cm('a', '1') });
    await repo.tag('release', { message: 'tagged' });
    const branch = await repo.commit({ 'a.yaml': cm('a', '2') }, 'branch', 'release');
    const source = await newSource();
    expect(await source.resolve(repo.url, 'release')).toBe(branch);
    expect(await source.resolve(repo.url, 'refs/tags/release')).toBe(tagged);
  });

  it('fails on an unknown branch, naming the repository and revision', async () => {
    const repo = await TestRepo.create('unknown');
    await repo.commit({ 'a.yaml': cm('a', '1') });
    const source = await newSource();
    const err = await rejection(source.resolve(repo.url, 'no-such-branch'));
    expect(err.reason).toBe('SourceUnavailable');
    expect(err.message).toBe(
      `revision "no-such-branch" not found in ${repo.url}: no such branch or tag`,
    );

    const abbreviated = await rejection(source.resolve(repo.url, 'abc1234'));
    expect(abbreviated.message).toContain('use the full 40-character SHA');

    const invalid = await rejection(source.resolve(repo.url, 'main~1'));
    expect(invalid.reason).toBe('SourceUnavailable');
    expect(invalid.message).toContain('is not a branch, tag, HEAD or full commit SHA');
  });

  it('fails on HEAD of an empty repository', async () => {
    const repo = await TestRepo.create('empty');
    const source = await newSource();
    const err = await rejection(source.resolve(repo.url, 'HEAD'));
    expect(err.reason).toBe('SourceUnavailable');
    expect(err.message).toContain('has no HEAD');
  });

  it('fails on a repository that does not exist and on a server that does not answer', async () => {
    const source = await newSource();
    const missing = `${testenv().git.baseUrl}/does-not-exist-${Date.now()}.git`;
    const notFound = await rejection(source.resolve(missing, 'main'));
    expect(notFound.reason).toBe('SourceUnavailable');
    expect(notFound.message).toContain(missing);

    // A port nobody listens on: reserve one, then close it.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const unreachable = `http://127.0.0.1:${port}/repo.git`;
    const err = await rejection(source.resolve(unreachable, 'main'));
    expect(err.reason).toBe('SourceUnavailable');
    expect(err.message).toBe(`cannot reach ${unreachable}: ECONNREFUSED`);
    const checkoutErr = await rejection(source.checkout(unreachable, 'a'.repeat(40)));
    expect(checkoutErr.message).toBe(`cannot reach ${unreachable}: ECONNREFUSED`);
  });

  it('gives up on a server that accepts the connection but never answers', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const source = await newSource({ requestTimeoutMs: 300 });
      const url = `http://127.0.0.1:${port}/repo.git`;
      const started = Date.now();
      const err = await rejection(source.resolve(url, 'main'));
      expect(err.reason).toBe('SourceUnavailable');
      expect(err.message).toBe(`cannot reach ${url}: request timed out`);
      // The configured 300 ms, not the 30 s default (generous: the machine may be busy).
      expect(Date.now() - started).toBeLessThan(GIT_SOURCE_DEFAULTS.requestTimeoutMs / 2);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('refuses URLs that are not http(s)', async () => {
    const source = await newSource();
    const err = await rejection(source.resolve('git@github.com:acme/deploy.git', 'main'));
    expect(err.reason).toBe('SourceUnavailable');
    const ssh = await rejection(source.resolve('ssh://git@github.com/acme/deploy.git', 'main'));
    expect(ssh.message).toContain('only http(s) Git URLs are supported');
  });
});

describe('IsomorphicGitSource with a private repository', () => {
  it('says credentials are missing or rejected, never showing the password, and works with the right ones', async () => {
    const { git: server } = testenv();
    const repo = await TestRepo.create('creds', { private: true });
    const sha = await repo.commit({ 'apps/a.yaml': cm('a', 'private') });
    const source = await newSource();
    const wrongPassword = 'hunter2-not-the-password';

    const anonymous = await rejection(source.resolve(repo.url, 'main'));
    expect(anonymous.reason).toBe('SourceUnavailable');
    expect(anonymous.message).toBe(
      `${repo.url} requires credentials and none are configured (HTTP 401)`,
    );

    const wrong = { username: server.username, password: wrongPassword };
    const rejected = await rejection(source.resolve(repo.url, 'main', wrong));
    expect(rejected.reason).toBe('SourceUnavailable');
    expect(rejected.message).toBe(`${repo.url} rejected the configured credentials (HTTP 401)`);

    const checkoutRejected = await rejection(source.checkout(repo.url, sha, wrong));
    expect(checkoutRejected.message).toBe(
      `${repo.url} rejected the configured credentials (HTTP 401)`,
    );
    const checkoutAnonymous = await rejection(source.checkout(repo.url, sha));
    expect(checkoutAnonymous.message).toContain('requires credentials');

    // Credentials embedded in the URL are masked in messages too.
    const withUserinfo = repo.url.replace('http://', `http://${server.username}:${wrongPassword}@`);
    const embedded = await rejection(source.resolve(withUserinfo, 'main'));
    expect(embedded.message).toContain('rejected');
    expect(embedded.message).toContain('http://***@127.0.0.1');

    for (const err of [rejected, checkoutRejected, embedded]) {
      expect(JSON.stringify(err.toJSON())).not.toContain(wrongPassword);
      expect(err.describe()).not.toContain(wrongPassword);
      expect(String(err.stack)).not.toContain(wrongPassword);
    }

    const right = { username: server.username, password: server.password };
    expect(await source.resolve(repo.url, 'main', right)).toBe(sha);
    const checkout = await source.checkout(repo.url, sha, right);
    expect(await readTree(checkout.dir)).toEqual({
      'apps/': '',
      'apps/a.yaml': cm('a', 'private'),
    });
  });
});

describe('IsomorphicGitSource: credentials in the checkout cache key', () => {
  it('never serves a tree a right credential fetched to a wrong one, nor shares it between credentials', async () => {
    const { git: server } = testenv();
    const repo = await TestRepo.create('creds-cache', { private: true });
    const sha = await repo.commit({ 'apps/a.yaml': cm('a', 'cached') });
    const source = await newSource();
    const right = { username: server.username, password: server.password, source: 'secret right' };
    const wrong = {
      username: server.username,
      password: 'wrong-for-cache',
      source: 'secret wrong',
    };
    await source.checkout(repo.url, sha, right);
    // Same URL and commit, the tree on disk: the wrong credential still asks the server.
    const refused = await rejection(source.checkout(repo.url, sha, wrong));
    expect(refused.reason).toBe('SourceUnavailable');
    expect(refused.message).toBe(
      `${repo.url}: authentication failed (HTTP 401) with credentials from secret wrong`,
    );
    expect(refused.describe()).not.toContain('wrong-for-cache');
    // Nor does an anonymous caller read it.
    expect((await rejection(source.checkout(repo.url, sha))).message).toContain(
      'requires credentials',
    );
    // The same credentials are served from the cache (no request).
    const before = await requestsTo(repo);
    const again = await source.checkout(repo.url, sha, right);
    expect(await readTree(again.dir)).toMatchObject({ 'apps/a.yaml': cm('a', 'cached') });
    expect(await requestsTo(repo)).toBe(before);
  });
});

describe('IsomorphicGitSource.checkout', () => {
  it('checks out the branch tip with exactly its files, modes and symlinks', async () => {
    const repo = await TestRepo.create('checkout');
    await repo.commit({
      'README.md': '# deploy\n',
      'apps/web/deploy.yaml': cm('web', '1'),
      'apps/web/nested/deep/svc.yaml': cm('svc', '1'),
      'scripts/run.sh': '#!/bin/sh\necho hi\n',
      'old.yaml': cm('old', '1'),
    });
    await chmod(path.join(repo.workDir, 'scripts/run.sh'), 0o755);
    await symlink('apps/web', path.join(repo.workDir, 'current'));
    const tip = await repo.commit({ 'old.yaml': null }, 'exec bit, symlink, delete');
    const source = await newSource();

    const sha = await source.resolve(repo.url, 'main');
    expect(sha).toBe(tip);
    const checkout = await source.checkout(repo.url, sha);
    expect(checkout.commit).toBe(tip);
    expect(path.isAbsolute(checkout.dir)).toBe(true);
    expect(await readTree(checkout.dir)).toEqual({
      'README.md': '# deploy\n',
      'apps/': '',
      'apps/web/': '',
      'apps/web/deploy.yaml': cm('web', '1'),
      'apps/web/nested/': '',
      'apps/web/nested/deep/': '',
      'apps/web/nested/deep/svc.yaml': cm('svc', '1'),
      current: '-> apps/web',
      'scripts/': '',
      'scripts/run.sh': '#!/bin/sh\necho hi\n',
    });
    expect((await lstat(path.join(checkout.dir, 'scripts/run.sh'))).mode & 0o111).not.toBe(0);
    expect((await lstat(path.join(checkout.dir, 'README.md'))).mode & 0o111).toBe(0);
  });

  it('checks out an older commit (a rollback) with its own files, after a newer one', async () => {
    const repo = await TestRepo.create('rollback');
    const v1 = await repo.commit(
      {
        'app/a.yaml': cm('a', 'v1'),
        'app/gone.yaml': cm('gone', 'v1'),
        'app/same.yaml': cm('same', 'x'),
      },
      'v1',
    );
    const v2 = await repo.commit(
      { 'app/a.yaml': cm('a', 'v2'), 'app/gone.yaml': null, 'app/new.yaml': cm('new', 'v2') },
      'v2',
    );
    const v3 = await repo.commit({ 'app/a.yaml': cm('a', 'v3') }, 'v3');
    const source = await newSource();

    const newest = await source.checkout(repo.url, v3);
    expect(await readTree(newest.dir)).toEqual({
      'app/': '',
      'app/a.yaml': cm('a', 'v3'),
      'app/new.yaml': cm('new', 'v2'),
      'app/same.yaml': cm('same', 'x'),
    });
    const oldest = await source.checkout(repo.url, v1);
    expect(oldest.dir).not.toBe(newest.dir);
    expect(await readTree(oldest.dir)).toEqual({
      'app/': '',
      'app/a.yaml': cm('a', 'v1'),
      'app/gone.yaml': cm('gone', 'v1'),
      'app/same.yaml': cm('same', 'x'),
    });
    // And one in between, with both neighbours already in the git dir.
    const middle = await source.checkout(repo.url, v2);
    expect(await readTree(middle.dir)).toEqual({
      'app/': '',
      'app/a.yaml': cm('a', 'v2'),
      'app/new.yaml': cm('new', 'v2'),
      'app/same.yaml': cm('same', 'x'),
    });
    // The first checkout is untouched by the later ones.
    expect(await readFile(path.join(newest.dir, 'app/a.yaml'), 'utf8')).toBe(cm('a', 'v3'));
  });

  it('makes zero requests for a commit already checked out, also from a new instance', async () => {
    const repo = await TestRepo.create('cache-hit');
    const sha = await repo.commit({ 'a.yaml': cm('a', '1') });
    const cacheRoot = await newCacheRoot();
    const source = new IsomorphicGitSource({ cacheRoot });

    const before = await requestsTo(repo);
    const first = await source.checkout(repo.url, sha);
    const afterFirst = await requestsTo(repo);
    expect(afterFirst - before).toBeGreaterThan(0);

    const second = await source.checkout(repo.url, sha);
    expect(second).toEqual(first);
    expect(await requestsTo(repo)).toBe(afterFirst);

    // A warm Lambda invocation may build a new source over the same /tmp.
    const third = await new IsomorphicGitSource({ cacheRoot }).checkout(repo.url, sha);
    expect(third).toEqual(first);
    expect(await requestsTo(repo)).toBe(afterFirst);
    expect(await readFile(path.join(third.dir, 'a.yaml'), 'utf8')).toBe(cm('a', '1'));
  });

  it('serves concurrent checkouts of the same commit with one fetch and identical content', async () => {
    const repo = await TestRepo.create('concurrent');
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`apps/app-${i % 4}/cm-${i}.yaml`] = cm(`cm-${i}`, String(i));
    const sha = await repo.commit(files);
    const cacheRoot = await newCacheRoot();
    const a = new IsomorphicGitSource({ cacheRoot });
    const b = new IsomorphicGitSource({ cacheRoot });

    const before = await requestsTo(repo);
    const results = await Promise.all([
      a.checkout(repo.url, sha),
      a.checkout(repo.url, sha),
      b.checkout(repo.url, sha),
    ]);
    // One fetch: discovery GET and one upload-pack POST.
    expect((await requestsTo(repo)) - before).toBe(2);
    const trees = await Promise.all(results.map((r) => readTree(r.dir)));
    expect(new Set(results.map((r) => r.dir)).size).toBe(1);
    expect(Object.keys(trees[0] ?? {}).filter((k) => k.endsWith('.yaml'))).toHaveLength(40);
    expect(trees[1]).toEqual(trees[0]);
    expect(trees[2]).toEqual(trees[0]);
    // Nothing half-written is left behind.
    expect(await readdir(path.join(cacheRoot, 'tmp'))).toEqual([]);
  });

  it('fails on a commit the repository does not have', async () => {
    const repo = await TestRepo.create('no-commit');
    await repo.commit({ 'a.yaml': cm('a', '1') });
    const source = await newSource();
    const missing = '0123456789abcdef0123456789abcdef01234567';
    const err = await rejection(source.checkout(repo.url, missing));
    expect(err.reason).toBe('SourceUnavailable');
    expect(err.message).toContain(`commit ${missing} not found in ${repo.url}`);

    const short = await rejection(source.checkout(repo.url, 'abc1234'));
    expect(short.message).toContain('not a full commit SHA');
  });

  it('keeps at most maxCommitsPerRepo trees and refetches an evicted one correctly', async () => {
    const repo = await TestRepo.create('bounded');
    const shas: string[] = [];
    for (let i = 0; i < 4; i++) shas.push(await repo.commit({ 'a.yaml': cm('a', String(i)) }));
    const cacheRoot = await newCacheRoot();
    const source = new IsomorphicGitSource({ cacheRoot, maxCommitsPerRepo: 2, protectMs: 0 });
    for (const sha of shas) {
      await source.checkout(repo.url, sha);
      // mtime resolution: make the order of use unambiguous
      await new Promise((r) => setTimeout(r, 20));
    }
    const [repoKey] = await readdir(path.join(cacheRoot, 'repos'));
    const trees = await readdir(path.join(cacheRoot, 'repos', repoKey ?? '', 'trees'));
    expect(trees.sort()).toEqual([shas[2], shas[3]].sort());

    const before = await requestsTo(repo);
    const again = await source.checkout(repo.url, shas[0] ?? '');
    // Its objects are still in the git dir: re-extracted without a request.
    expect(await requestsTo(repo)).toBe(before);
    expect(await readFile(path.join(again.dir, 'a.yaml'), 'utf8')).toBe(cm('a', '0'));
  });

  it('stays within maxCacheBytes, dropping the git dir and older trees but never the tree just returned', async () => {
    const repo = await TestRepo.create('bytes');
    const big = 'x'.repeat(64 * 1024);
    const one = await repo.commit({ 'a.yaml': cm('a', big) });
    const two = await repo.commit({ 'a.yaml': cm('a', `${big}2`) });
    const cacheRoot = await newCacheRoot();
    // Smaller than one tree: only the tree just returned survives.
    const source = new IsomorphicGitSource({ cacheRoot, maxCacheBytes: 10 * 1024, protectMs: 0 });

    const first = await source.checkout(repo.url, one);
    const second = await source.checkout(repo.url, two);
    expect(await readFile(path.join(second.dir, 'a.yaml'), 'utf8')).toBe(cm('a', `${big}2`));
    await expect(lstat(first.dir)).rejects.toMatchObject({ code: 'ENOENT' });
    const [repoKey] = await readdir(path.join(cacheRoot, 'repos'));
    const repoDir = path.join(cacheRoot, 'repos', repoKey ?? '');
    expect(await readdir(repoDir)).toEqual(['trees']);
    expect(await readdir(path.join(repoDir, 'trees'))).toEqual([two]);

    // The git dir went too: the first commit is fetched again, and correct.
    const before = await requestsTo(repo);
    const refetched = await source.checkout(repo.url, one);
    expect(await requestsTo(repo)).toBeGreaterThan(before);
    expect(await readFile(path.join(refetched.dir, 'a.yaml'), 'utf8')).toBe(cm('a', big));
  });

  it('refuses a commit bigger than maxCheckoutBytes', async () => {
    const repo = await TestRepo.create('too-big');
    const sha = await repo.commit({ 'a.yaml': 'x'.repeat(4096), 'b.yaml': 'y'.repeat(4096) });
    const cacheRoot = await newCacheRoot();
    const source = new IsomorphicGitSource({ cacheRoot, maxCheckoutBytes: 6000 });
    const err = await rejection(source.checkout(repo.url, sha));
    expect(err.reason).toBe('SourceUnavailable');
    expect(err.message).toContain('too large to check out');
    expect(await readdir(path.join(cacheRoot, 'tmp'))).toEqual([]);
  });
});

describe('loadManifests over a real checkout', () => {
  it('loads an app directory of a fetched commit', async () => {
    const repo = await TestRepo.create('manifests');
    const sha = await repo.commit({
      'apps/web/deploy.yaml': [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata:',
        '  name: web',
        'spec:',
        '  replicas: 2',
        '---',
        'apiVersion: v1',
        'kind: Service',
        'metadata:',
        '  name: web',
        '',
      ].join('\n'),
      'apps/web/config/settings.json': JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'settings', namespace: 'shared' },
      }),
      'apps/web/.ci/pipeline.yaml': 'not: a manifest\n',
      'apps/other/cm.yaml': cm('other', '1'),
    });
    const source = await newSource();
    const { dir } = await source.checkout(repo.url, await source.resolve(repo.url, 'main'));
    expect(dir).toContain(sha);

    const manifests = await loadManifests(dir, 'apps/web', {
      defaultNamespace: 'web',
      isNamespaced: () => true,
    });
    expect(
      manifests.map((m) => [m.file, m.line, m.object.kind, m.object.metadata.namespace]),
    ).toEqual([
      ['apps/web/config/settings.json', 1, 'ConfigMap', 'shared'],
      ['apps/web/deploy.yaml', 1, 'Deployment', 'web'],
      ['apps/web/deploy.yaml', 8, 'Service', 'web'],
    ]);
  });

  it('refuses a committed symlink that points outside the checkout', async () => {
    const repo = await TestRepo.create('evil-link');
    await repo.commit({ 'apps/web/cm.yaml': cm('web', '1') });
    await symlink('/etc/passwd', path.join(repo.workDir, 'apps/web/passwd.yaml'));
    await symlink('../../..', path.join(repo.workDir, 'apps/web/up'));
    const sha = await repo.commit({}, 'links out');
    const source = await newSource();
    const { dir } = await source.checkout(repo.url, sha);
    expect(await readlink(path.join(dir, 'apps/web/passwd.yaml'))).toBe('/etc/passwd');

    const err = await rejection(loadManifests(dir, 'apps/web'));
    expect(err.reason).toBe('PathEscape');
    expect(err.location.file).toBe('apps/web/passwd.yaml');
    const viaDir = await rejection(loadManifests(dir, 'apps/web/up'));
    expect(viaDir.reason).toBe('PathEscape');
  });
});
