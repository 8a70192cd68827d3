// The on-disk cache behind IsomorphicGitSource, kept in /tmp between warm
// Lambda invocations:
//
//   <root>/repos/<key>/git/          bare, shallow git dir of one repository URL
//   <root>/repos/<key>/trees/<sha>/  the files of one commit; its mtime is its last use
//   <root>/tmp/                      extractions in progress and evicted entries
//
// A tree only ever appears complete: it is written under tmp/ and renamed into
// place. It is bounded per repository (count) and in total (bytes, trees and
// git dirs together), least recently used first, so /tmp (512 MB by default on
// Lambda) does not fill up. Entries used within the last few minutes are never
// evicted, so a reconcile still reading a checkout keeps its files.
//
// One process per cache root: git dirs are locked in-process only. Trees are
// safe across processes (atomic rename), eviction is not.
//
// Entries are keyed by repository URL (without user info), the credentials
// that fetched them and commit: two apps with different credentials on one URL
// never share a checkout, and a wrong credential never reads a cached tree a
// right one fetched (it misses, fetches and is refused). The credentials enter
// the key through an HMAC with a key random per process, so a directory name
// in /tmp cannot be used to guess a password offline.

import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';

/** What of a GitCredentials the key is made of (see repoKey). */
export interface CacheCredentials {
  username: string;
  password: string;
  cacheIdentity?: string;
}

export interface CacheBounds {
  /** Trees kept per repository. */
  maxCommitsPerRepo: number;
  /** Bytes of trees and git dirs, all repositories together. */
  maxCacheBytes: number;
  /** Entries used more recently than this are never evicted. */
  protectMs: number;
}

/** Serializes work per key (a git dir) within this process. */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  isLocked(key: string): boolean {
    return this.tails.has(key);
  }

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

// Module-level so that several IsomorphicGitSource instances over one cache
// root in one process still share the locks.
const gitDirLocks = new KeyedMutex();
const evictionLocks = new KeyedMutex();
/** Bytes of extracted trees by path; trees never change once in place. */
const treeBytes = new Map<string, number>();

const SHA = /^[0-9a-f]{40}$/;
/** Keys the credentials' part of a cache key; new per process (the cache is too, on Lambda). */
const CREDENTIALS_KEY = randomBytes(32);
const STALE_TMP_MS = 60 * 60 * 1000;

export class CheckoutCache {
  constructor(
    readonly root: string,
    private readonly bounds: CacheBounds,
  ) {}

  /**
   * Stable per repository URL and credentials (user info in the URL does not
   * change it; the credentials passed do). No credentials: the URL's key alone.
   */
  repoKey(repoURL: string, credentials?: CacheCredentials): string {
    const url = urlWithoutCredentials(repoURL);
    if (!credentials) return createHash('sha256').update(url).digest('hex').slice(0, 24);
    const identity =
      credentials.cacheIdentity ?? `basic\0${credentials.username}\0${credentials.password}`;
    return createHmac('sha256', CREDENTIALS_KEY)
      .update(`${url}\0${identity}`)
      .digest('hex')
      .slice(0, 24);
  }

  gitDir(key: string): string {
    return path.join(this.root, 'repos', key, 'git');
  }

  treeDir(key: string, commit: string): string {
    return path.join(this.root, 'repos', key, 'trees', commit);
  }

  /** Runs `work` holding the repository's git dir lock (fetches, extraction, reset). */
  withGitDir<T>(key: string, work: (gitDir: string) => Promise<T>): Promise<T> {
    const dir = this.gitDir(key);
    return gitDirLocks.run(dir, () => work(dir));
  }

  /** The cached tree if present (and marks it used), else undefined. */
  async lookupTree(key: string, commit: string): Promise<string | undefined> {
    const dir = this.treeDir(key, commit);
    try {
      const now = new Date();
      await utimes(dir, now, now);
      return dir;
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    }
  }

  /** A fresh directory under tmp/ on the cache's file system (so rename is atomic). */
  async tempDir(label: string): Promise<string> {
    const dir = path.join(this.root, 'tmp', `${label}-${randomBytes(6).toString('hex')}`);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /**
   * Moves a finished extraction into place. If another writer got there first,
   * theirs wins (same commit, same files) and ours is discarded.
   */
  async publishTree(key: string, commit: string, tempDir: string, bytes: number): Promise<string> {
    const dir = this.treeDir(key, commit);
    await mkdir(path.dirname(dir), { recursive: true });
    try {
      await rename(tempDir, dir);
      treeBytes.set(dir, bytes);
    } catch (e) {
      if (!isErrno(e, 'ENOTEMPTY') && !isErrno(e, 'EEXIST')) throw e;
      await rm(tempDir, { recursive: true, force: true });
    }
    const now = new Date();
    await utimes(dir, now, now);
    return dir;
  }

  /** Throws the git dir away (it is only a cache); the caller holds its lock. */
  async discardGitDir(key: string): Promise<void> {
    await this.discard(this.gitDir(key));
  }

  async touch(dir: string): Promise<void> {
    const now = new Date();
    await utimes(dir, now, now).catch(() => {});
  }

  /**
   * Applies the bounds, never to `keep` (the tree just handed out). Never
   * throws: a failed eviction must not fail a checkout.
   */
  async evict(keep: string): Promise<void> {
    await evictionLocks.run(this.root, () => this.evictNow(keep)).catch(() => {});
  }

  private async evictNow(keep: string): Promise<void> {
    const now = Date.now();
    const entries = await this.scan();
    const evictable = (e: CacheEntry) =>
      e.path !== keep &&
      now - e.mtimeMs >= this.bounds.protectMs &&
      // A git dir in use by a fetch or an extraction is left alone.
      !(e.kind === 'git' && gitDirLocks.isLocked(e.path));
    const victims = new Set<CacheEntry>();

    const treesByRepo = new Map<string, CacheEntry[]>();
    for (const e of entries) {
      if (e.kind !== 'tree') continue;
      treesByRepo.set(e.repo, [...(treesByRepo.get(e.repo) ?? []), e]);
    }
    for (const trees of treesByRepo.values()) {
      trees.sort((a, b) => b.mtimeMs - a.mtimeMs);
      for (const e of trees.slice(this.bounds.maxCommitsPerRepo)) {
        if (evictable(e)) victims.add(e);
      }
    }

    let total = entries.reduce((sum, e) => sum + (victims.has(e) ? 0 : e.bytes), 0);
    const lru = entries.filter((e) => !victims.has(e)).sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const e of lru) {
      if (total <= this.bounds.maxCacheBytes) break;
      if (!evictable(e)) continue;
      victims.add(e);
      total -= e.bytes;
    }

    await mkdir(path.join(this.root, 'tmp'), { recursive: true });
    for (const e of victims) {
      if (e.kind === 'git') {
        // Checked and taken in one synchronous step: a fetch may have started
        // on this git dir while we were scanning.
        if (gitDirLocks.isLocked(e.path)) continue;
        await gitDirLocks.run(e.path, () => this.discard(e.path));
      } else {
        // A checkout may have used the tree while we were scanning.
        const s = await stat(e.path).catch(() => undefined);
        if (!s || (this.bounds.protectMs > 0 && Date.now() - s.mtimeMs < this.bounds.protectMs)) {
          continue;
        }
        await this.discard(e.path);
        treeBytes.delete(e.path);
      }
    }
    await this.removeStaleTemp(now);
  }

  private async scan(): Promise<CacheEntry[]> {
    const entries: CacheEntry[] = [];
    for (const repo of await listDir(path.join(this.root, 'repos'))) {
      if (!repo.isDirectory()) continue;
      const repoDir = path.join(this.root, 'repos', repo.name);
      const gitDir = path.join(repoDir, 'git');
      const gitStat = await stat(gitDir).catch(() => undefined);
      if (gitStat) {
        entries.push({
          kind: 'git',
          repo: repo.name,
          path: gitDir,
          mtimeMs: gitStat.mtimeMs,
          bytes: await diskUsage(gitDir),
        });
      }
      for (const tree of await listDir(path.join(repoDir, 'trees'))) {
        if (!tree.isDirectory() || !SHA.test(tree.name)) continue;
        const dir = path.join(repoDir, 'trees', tree.name);
        const treeStat = await stat(dir).catch(() => undefined);
        if (!treeStat) continue;
        let bytes = treeBytes.get(dir);
        if (bytes === undefined) {
          bytes = await diskUsage(dir);
          treeBytes.set(dir, bytes);
        }
        entries.push({
          kind: 'tree',
          repo: repo.name,
          path: dir,
          mtimeMs: treeStat.mtimeMs,
          bytes,
        });
      }
    }
    return entries;
  }

  /** Renames out of the way first (atomic for readers), then deletes. */
  private async discard(dir: string): Promise<void> {
    const trash = path.join(this.root, 'tmp', `evicted-${randomBytes(6).toString('hex')}`);
    await mkdir(path.dirname(trash), { recursive: true });
    try {
      await rename(dir, trash);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return;
      throw e;
    }
    await rm(trash, { recursive: true, force: true });
  }

  /** Leftovers of a process that died mid-extraction. */
  private async removeStaleTemp(now: number): Promise<void> {
    const tmp = path.join(this.root, 'tmp');
    for (const entry of await listDir(tmp)) {
      const p = path.join(tmp, entry.name);
      const s = await lstat(p).catch(() => undefined);
      if (s && now - s.mtimeMs > STALE_TMP_MS) await rm(p, { recursive: true, force: true });
    }
  }
}

interface CacheEntry {
  kind: 'git' | 'tree';
  repo: string;
  path: string;
  mtimeMs: number;
  bytes: number;
}

async function listDir(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
}

/** Bytes of the files under dir (symlinks not followed). */
async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await listDir(dir)) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await diskUsage(p);
    else total += (await lstat(p).catch(() => undefined))?.size ?? 0;
  }
  return total;
}

export function urlWithoutCredentials(repoURL: string): string {
  try {
    const url = new URL(repoURL);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/+$/, '');
  } catch {
    return repoURL;
  }
}

export function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}
