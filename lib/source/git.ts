// GitSource over isomorphic-git and Git smart HTTP: resolve a revision with a
// prefixed ref listing (no objects), fetch exactly one commit (shallow),
// extract its files into a cache that survives between warm invocations.
//
// Fetching one commit: isomorphic-git's fetch accepts a full SHA as remoteRef
// and then sends `want <sha>` with `deepen 1` (singleBranch). Over smart HTTP
// git's upload-pack accepts a want for any commit reachable from a branch or
// tag even with uploadpack.allowReachableSHA1InWant unset (stateless RPC
// checks reachability instead of refusing non-tips), and GitHub and GitLab
// allow it too, so that is the normal path, rollbacks included. A
// server that refuses answers with an empty pack instead of an error, so the
// commit's presence is checked afterwards; if it is missing we fall back to
// fetching every branch and tag tip at increasing depth until it appears.
//
// Every fetch is a complete pack of the commit's tree. Offering commits we
// already have as `have`s would not shrink it: a server subtracts a shallow
// client's haves only from thin packs, which isomorphic-git does not ask for
// (measured against git 2.39). The git dir still pays off: a tree evicted
// from the cache is extracted again from it without a request.
//
// Symlinks in a commit are materialized as symlinks, whatever their target:
// the tree is an exact copy of the commit, and readers of it (loadManifests)
// refuse links that leave the checkout. Submodules are not fetched (their
// directory stays empty).

import fs from 'node:fs';
import { mkdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import git, { type GitAuth, type HttpClient, type ServerRef } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import { mapBounded } from '../concurrency.js';
import { DriftlessError, isDriftlessError } from '../errors.js';
import type { Checkout, GitCredentials, GitSource } from '../ports/git.js';
import { CheckoutCache, urlWithoutCredentials } from './cache.js';

export interface IsomorphicGitSourceOptions {
  /**
   * Accept file:///path URLs of repositories on this machine (local mode):
   * read directly from their git directory, never written. Off in Lambda.
   */
  allowLocalRepositories?: boolean;
  /** Where git dirs and extracted trees are cached. Default: `$TMPDIR/driftless-git`. */
  cacheRoot?: string;
  /** Extracted commits kept per repository. Default 5. */
  maxCommitsPerRepo?: number;
  /** Bytes of the whole cache (trees and git dirs). Default 256 MiB. */
  maxCacheBytes?: number;
  /** Bytes of one commit's files; a bigger commit fails to check out. Default 128 MiB. */
  maxCheckoutBytes?: number;
  /** Files in one commit. Default 100,000. */
  maxCheckoutFiles?: number;
  /** Bytes of one HTTP response (a pack is held in memory while indexed). Default 256 MiB. */
  maxResponseBytes?: number;
  /** A request whose socket is idle this long fails. Default 30 s. */
  requestTimeoutMs?: number;
  /** Cache entries used more recently than this are never evicted. Default 5 min. */
  protectMs?: number;
}

const MiB = 1024 * 1024;
const FULL_SHA = /^[0-9a-fA-F]{40}$/;
const ABBREVIATED_SHA = /^[0-9a-fA-F]{4,39}$/;
/** Depths tried, across all branch and tag tips, when a server refuses a SHA want. */
const FALLBACK_DEPTHS = [50, 1000];
const EXTRACT_CONCURRENCY = 8;

/** What an IsomorphicGitSource uses for the options it is not given (see its options). */
export const GIT_SOURCE_DEFAULTS = {
  maxCommitsPerRepo: 5,
  maxCacheBytes: 256 * MiB,
  maxCheckoutBytes: 128 * MiB,
  maxCheckoutFiles: 100_000,
  maxResponseBytes: 256 * MiB,
  requestTimeoutMs: 30_000,
  protectMs: 5 * 60_000,
} as const;

/** Extractions in flight in this process, by tree directory: concurrent callers share one. */
const inflight = new Map<string, Promise<string>>();

export class IsomorphicGitSource implements GitSource {
  private readonly allowLocalRepositories: boolean;
  private readonly cache: CheckoutCache;
  private readonly http: HttpClient;
  private readonly maxCheckoutBytes: number;
  private readonly maxCheckoutFiles: number;

  constructor(opts: IsomorphicGitSourceOptions = {}) {
    this.allowLocalRepositories = opts.allowLocalRepositories ?? false;
    this.cache = new CheckoutCache(opts.cacheRoot ?? path.join(os.tmpdir(), 'driftless-git'), {
      maxCommitsPerRepo: opts.maxCommitsPerRepo ?? GIT_SOURCE_DEFAULTS.maxCommitsPerRepo,
      maxCacheBytes: opts.maxCacheBytes ?? GIT_SOURCE_DEFAULTS.maxCacheBytes,
      protectMs: opts.protectMs ?? GIT_SOURCE_DEFAULTS.protectMs,
    });
    this.http = boundedHttp(
      opts.requestTimeoutMs ?? GIT_SOURCE_DEFAULTS.requestTimeoutMs,
      opts.maxResponseBytes ?? GIT_SOURCE_DEFAULTS.maxResponseBytes,
    );
    this.maxCheckoutBytes = opts.maxCheckoutBytes ?? GIT_SOURCE_DEFAULTS.maxCheckoutBytes;
    this.maxCheckoutFiles = opts.maxCheckoutFiles ?? GIT_SOURCE_DEFAULTS.maxCheckoutFiles;
  }

  /**
   * A branch or tag name (a branch wins over a tag of the same name; spell
   * `refs/tags/<name>` to pick the tag), a full ref (`refs/heads/main`),
   * `HEAD`, or a full SHA (returned as is: a SHA cannot be checked remotely
   * without fetching, checkout will).
   */
  async resolve(repoURL: string, revision: string, credentials?: GitCredentials): Promise<string> {
    if (this.isLocal(repoURL)) return resolveLocal(localGitDir(repoURL), repoURL, revision.trim());
    const url = checkRepoURL(repoURL);
    const rev = revision.trim();
    if (FULL_SHA.test(rev)) return rev.toLowerCase();
    if (!isRefName(rev)) {
      throw new DriftlessError(
        'SourceUnavailable',
        `revision "${revision}" of ${describeURL(url)} is not a branch, tag, HEAD or full commit SHA`,
      );
    }
    const candidates =
      rev === 'HEAD' || rev.startsWith('refs/') ? [rev] : [`refs/heads/${rev}`, `refs/tags/${rev}`];
    for (const ref of candidates) {
      // The prefix makes a protocol v2 server list only matching refs, not all
      // of them (a GitHub repository has one per pull request, too).
      const refs = await this.listRefs(url, ref, credentials);
      const hit = refs.find((r) => r.ref === ref);
      // Annotated tags are peeled to the commit they point at.
      if (hit) return hit.peeled ?? hit.oid;
    }
    const hint = ABBREVIATED_SHA.test(rev)
      ? '; an abbreviated commit SHA cannot be resolved remotely, use the full 40-character SHA'
      : '';
    const what = rev === 'HEAD' ? 'it has no HEAD (an empty repository?)' : 'no such branch or tag';
    throw new DriftlessError(
      'SourceUnavailable',
      `revision "${rev}" not found in ${describeURL(url)}: ${what}${hint}`,
    );
  }

  async checkout(repoURL: string, commit: string, credentials?: GitCredentials): Promise<Checkout> {
    const local = this.isLocal(repoURL);
    const url = local ? repoURL : checkRepoURL(repoURL);
    if (!FULL_SHA.test(commit)) {
      throw new DriftlessError(
        'SourceUnavailable',
        `cannot check out "${commit}" of ${describeURL(url)}: not a full commit SHA (resolve the revision first)`,
      );
    }
    const sha = commit.toLowerCase();
    const key = this.cache.repoKey(url, local ? undefined : credentials);
    const cached = await this.cache.lookupTree(key, sha);
    if (cached) return { dir: cached, commit: sha };

    const treeDir = this.cache.treeDir(key, sha);
    let flight = inflight.get(treeDir);
    if (!flight) {
      flight = (
        local ? this.materializeLocal(url, key, sha) : this.materialize(url, key, sha, credentials)
      ).finally(() => inflight.delete(treeDir));
      inflight.set(treeDir, flight);
    }
    return { dir: await flight, commit: sha };
  }

  private async materialize(
    url: string,
    key: string,
    sha: string,
    credentials: GitCredentials | undefined,
  ): Promise<string> {
    const dir = await this.cache.withGitDir(key, async (gitdir) => {
      // Another instance may have published it while we waited for the lock.
      const published = await this.cache.lookupTree(key, sha);
      if (published) return published;
      try {
        return await this.fetchAndExtract(url, key, gitdir, sha, credentials);
      } catch (e) {
        if (isDriftlessError(e)) throw e;
        // Anything unexpected (a truncated pack, a damaged index): the git dir
        // is only a cache, so start it over once.
        await this.cache.discardGitDir(key);
        try {
          return await this.fetchAndExtract(url, key, gitdir, sha, credentials);
        } catch (again) {
          throw sourceError(again, url, credentials, `checking out ${sha}`);
        }
      }
    });
    await this.cache.evict(dir);
    return dir;
  }

  private isLocal(repoURL: string): boolean {
    if (!repoURL.startsWith('file:')) return false;
    if (!this.allowLocalRepositories) {
      throw new DriftlessError(
        'SourceUnavailable',
        `${repoURL}: local repositories (file://) are only read in local mode (driftless dev)`,
      );
    }
    return true;
  }

  /** A local repository's commit, extracted straight from its git directory (read only). */
  private async materializeLocal(url: string, key: string, sha: string): Promise<string> {
    const gitdir = localGitDir(url);
    const temp = await this.cache.tempDir(sha.slice(0, 12));
    let bytes: number;
    try {
      bytes = await this.extract(gitdir, sha, temp, url, {});
    } catch (e) {
      await rm(temp, { recursive: true, force: true });
      if (isCode(e, 'NotFoundError')) {
        throw new DriftlessError('SourceUnavailable', `commit ${sha} not found in ${url}`);
      }
      throw e;
    }
    const dir = await this.cache.publishTree(key, sha, temp, bytes);
    await this.cache.evict(dir);
    return dir;
  }

  private async fetchAndExtract(
    url: string,
    key: string,
    gitdir: string,
    sha: string,
    credentials: GitCredentials | undefined,
  ): Promise<string> {
    // isomorphic-git keeps parsed pack indexes here; without it every object
    // read would reload them.
    const objectCache = {};
    await initGitDir(gitdir, url);
    if (!(await hasCommit(gitdir, sha, objectCache))) {
      await this.fetchCommit(url, gitdir, sha, credentials, objectCache);
    }
    const temp = await this.cache.tempDir(sha.slice(0, 12));
    let bytes: number;
    try {
      bytes = await this.extract(gitdir, sha, temp, url, objectCache);
    } catch (e) {
      await rm(temp, { recursive: true, force: true });
      throw e;
    }
    await this.cache.touch(gitdir);
    return this.cache.publishTree(key, sha, temp, bytes);
  }

  private async fetchCommit(
    url: string,
    gitdir: string,
    sha: string,
    credentials: GitCredentials | undefined,
    objectCache: object,
  ): Promise<void> {
    const common = {
      fs,
      http: this.http,
      gitdir,
      url,
      cache: objectCache,
      ...authCallbacks(credentials),
    };
    try {
      await git.fetch({ ...common, remoteRef: sha, singleBranch: true, depth: 1, tags: false });
      if (await hasCommit(gitdir, sha, objectCache)) return;
      for (const depth of FALLBACK_DEPTHS) {
        await git.fetch({ ...common, remoteRef: 'HEAD', singleBranch: false, tags: true, depth });
        if (await hasCommit(gitdir, sha, objectCache)) return;
      }
    } catch (e) {
      // A repository without HEAD has nothing to fall back to.
      if (!isCode(e, 'NotFoundError')) throw sourceError(e, url, credentials, `fetching ${sha}`);
    }
    throw new DriftlessError(
      'SourceUnavailable',
      `commit ${sha} not found in ${describeURL(url)}: it does not exist, or is not within ` +
        `the last ${FALLBACK_DEPTHS.at(-1)} commits of any branch or tag`,
    );
  }

  /** Writes the commit's files under dest; returns their total size. */
  private async extract(
    gitdir: string,
    sha: string,
    dest: string,
    url: string,
    objectCache: object,
  ): Promise<number> {
    const tooBig = (what: string) =>
      new DriftlessError(
        'SourceUnavailable',
        `commit ${sha} of ${describeURL(url)} is too large to check out: ${what}`,
      );
    let commitTree: string;
    try {
      commitTree = (await git.readCommit({ fs, gitdir, oid: sha, cache: objectCache })).commit.tree;
    } catch (e) {
      if (isCode(e, 'ObjectTypeError')) {
        throw new DriftlessError(
          'SourceUnavailable',
          `${sha} of ${describeURL(url)} is not a commit`,
        );
      }
      throw e;
    }

    // Directories first, all of them real directories we create, so that no
    // file write can pass through a symlink.
    const blobs: { oid: string; rel: string; mode: string }[] = [];
    const walk = async (treeOid: string, relDir: string): Promise<void> => {
      const { tree } = await git.readTree({ fs, gitdir, oid: treeOid, cache: objectCache });
      const seen = new Set<string>();
      for (const entry of tree) {
        const rel = relDir ? `${relDir}/${entry.path}` : entry.path;
        if (!isSafeEntryName(entry.path) || seen.has(entry.path)) {
          throw new DriftlessError(
            'SourceUnavailable',
            `commit ${sha} of ${describeURL(url)} has an invalid tree entry ${JSON.stringify(rel)}`,
          );
        }
        seen.add(entry.path);
        if (entry.type === 'tree') {
          await mkdir(path.join(dest, rel));
          await walk(entry.oid, rel);
        } else if (entry.type === 'blob') {
          blobs.push({ oid: entry.oid, rel, mode: entry.mode });
          if (blobs.length > this.maxCheckoutFiles) {
            throw tooBig(`more than ${this.maxCheckoutFiles} files`);
          }
        }
        // type 'commit' is a submodule: another repository, not fetched.
      }
    };
    await walk(commitTree, '');

    let bytes = 0;
    await mapBounded(blobs, EXTRACT_CONCURRENCY, async ({ oid, rel, mode }) => {
      const { blob } = await git.readBlob({ fs, gitdir, oid, cache: objectCache });
      bytes += blob.byteLength;
      if (bytes > this.maxCheckoutBytes) {
        throw tooBig(`its files exceed ${Math.round(this.maxCheckoutBytes / MiB)} MiB`);
      }
      const target = path.join(dest, rel);
      if (mode === '120000') {
        await symlink(Buffer.from(blob).toString('utf8'), target);
      } else {
        await writeFile(target, blob, { flag: 'wx', mode: mode === '100755' ? 0o755 : 0o644 });
      }
    });
    return bytes;
  }

  private async listRefs(
    url: string,
    prefix: string,
    credentials: GitCredentials | undefined,
  ): Promise<ServerRef[]> {
    try {
      return await git.listServerRefs({
        http: this.http,
        url,
        prefix,
        peelTags: true,
        symrefs: true,
        protocolVersion: 2,
        ...authCallbacks(credentials),
      });
    } catch (e) {
      throw sourceError(e, url, credentials, `listing refs of`);
    }
  }
}

async function initGitDir(gitdir: string, url: string): Promise<void> {
  // No config means never initialized, or interrupted while initializing.
  const initialized = await stat(path.join(gitdir, 'config')).catch(() => undefined);
  if (initialized) return;
  await rm(gitdir, { recursive: true, force: true });
  await git.init({ fs, gitdir, bare: true });
  // fetch() wants a remote with a refspec; the URL is passed on every fetch,
  // so the one stored on disk carries no credentials.
  await git.addRemote({ fs, gitdir, remote: 'origin', url: urlWithoutCredentials(url) });
}

async function hasCommit(gitdir: string, oid: string, objectCache: object): Promise<boolean> {
  try {
    await git.readObject({ fs, gitdir, oid, format: 'deflated', cache: objectCache });
    return true;
  } catch (e) {
    if (isCode(e, 'NotFoundError')) return false;
    throw e;
  }
}

function authCallbacks(credentials: GitCredentials | undefined) {
  if (!credentials) return {};
  const auth: GitAuth = { username: credentials.username, password: credentials.password };
  // Offered once on the server's 401; a second 401 (isomorphic-git calls
  // onAuthFailure, absent here) surfaces as an HttpError instead of a loop.
  return { onAuth: () => auth };
}

/** isomorphic-git's Node client with an idle timeout and a cap on response size. */
function boundedHttp(timeoutMs: number, maxBytes: number): HttpClient {
  return {
    async request(req) {
      const res = await nodeHttp.request({
        ...req,
        fetchOptions: { ...(req.fetchOptions as object | undefined), timeout: timeoutMs },
      });
      const body = res.body;
      if (!body) return res;
      return { ...res, body: capped(body, maxBytes, req.url) };
    },
  };
}

async function* capped(
  body: AsyncIterableIterator<Uint8Array>,
  maxBytes: number,
  url: string,
): AsyncIterableIterator<Uint8Array> {
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      throw new DriftlessError(
        'SourceUnavailable',
        `response from ${describeURL(url)} exceeds ${Math.round(maxBytes / MiB)} MiB`,
      );
    }
    yield chunk;
  }
}

/** Maps isomorphic-git and network failures to messages a user can act on, without secrets. */
function sourceError(
  e: unknown,
  url: string,
  credentials: GitCredentials | undefined,
  action: string,
): DriftlessError {
  if (isDriftlessError(e)) return e;
  const where = describeURL(url);
  const err = e as { code?: unknown; message?: unknown; data?: { statusCode?: number } };
  let message: string;
  if (err.code === 'HttpError') {
    const status = err.data?.statusCode ?? 0;
    if ((status === 401 || status === 403) && credentials?.source) {
      message = `${where}: authentication failed (HTTP ${status}) with credentials from ${credentials.source}`;
    } else if (status === 401 || status === 403) {
      message = hasCredentials(url, credentials)
        ? `${where} rejected the configured credentials (HTTP ${status})`
        : `${where} requires credentials and none are configured (HTTP ${status})`;
    } else if (status === 404) {
      const hint = hasCredentials(url, credentials)
        ? ''
        : '; if it is private, configure credentials';
      message = `repository ${where} not found (HTTP 404)${hint}`;
    } else {
      message = `${where} answered HTTP ${status} while ${action}`;
    }
  } else if (err.code === 'SmartHttpError') {
    message = `${where} is not a Git smart-HTTP server`;
  } else if (typeof err.code === 'string' && /^E[A-Z_]+$/.test(err.code)) {
    message = `cannot reach ${where}: ${err.code}`;
  } else if (err.message === 'Request timed out') {
    message = `cannot reach ${where}: request timed out`;
  } else {
    const detail = typeof err.message === 'string' ? err.message.split('\n')[0] : String(e);
    message = `${action} ${where} failed: ${detail}`;
  }
  return new DriftlessError('SourceUnavailable', message, {}, { cause: e });
}

function hasCredentials(url: string, credentials: GitCredentials | undefined): boolean {
  if (credentials) return true;
  try {
    const parsed = new URL(url);
    return parsed.username !== '' || parsed.password !== '';
  } catch {
    return false;
  }
}

function checkRepoURL(repoURL: string): string {
  let url: URL;
  try {
    url = new URL(repoURL);
  } catch {
    throw new DriftlessError('SourceUnavailable', `"${describeURL(repoURL)}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new DriftlessError(
      'SourceUnavailable',
      `${describeURL(repoURL)}: only http(s) Git URLs are supported`,
    );
  }
  return repoURL.replace(/\/+$/, '');
}

/** The URL for messages: credentials embedded in it are masked. */
export function describeURL(repoURL: string): string {
  try {
    const url = new URL(repoURL);
    if (!url.username && !url.password) return repoURL;
    url.username = url.username ? '***' : '';
    url.password = '';
    return url.toString();
  } catch {
    // Not a URL: mask anything that looks like userinfo.
    return repoURL.replace(/\/\/[^/@]*@/, '//***@');
  }
}

/** A subset of git check-ref-format: what a branch, tag or full ref name can be. */
function isRefName(name: string): boolean {
  if (name === 'HEAD') return true;
  if (!name || name.length > 255) return false;
  if ([...name].some((c) => c <= ' ' || c === '\x7f') || /[~^:?*[\\]/.test(name)) return false;
  if (name.includes('..') || name.includes('@{') || name.includes('//')) return false;
  if (name.startsWith('/') || name.endsWith('/') || name.endsWith('.') || name.endsWith('.lock')) {
    return false;
  }
  return name.split('/').every((part) => !part.startsWith('.'));
}

function isSafeEntryName(name: string): boolean {
  return (
    name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0')
  );
}

function isCode(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

/** The git directory of a file:/// repository: `<path>/.git`, or the path itself when bare. */
function localGitDir(repoURL: string): string {
  let dir: string;
  try {
    dir = fileURLToPath(repoURL);
  } catch {
    throw new DriftlessError('SourceUnavailable', `"${repoURL}" is not a file:/// URL`);
  }
  const dotGit = path.join(dir, '.git');
  if (fs.existsSync(path.join(dotGit, 'HEAD'))) return dotGit;
  if (fs.existsSync(path.join(dir, 'HEAD')) && fs.existsSync(path.join(dir, 'objects'))) return dir;
  throw new DriftlessError('SourceUnavailable', `${dir} is not a git repository`);
}

/** A branch, tag, HEAD or full SHA of a local repository → the commit it names. */
async function resolveLocal(gitdir: string, url: string, rev: string): Promise<string> {
  if (FULL_SHA.test(rev)) return rev.toLowerCase();
  if (!isRefName(rev)) {
    throw new DriftlessError(
      'SourceUnavailable',
      `revision "${rev}" of ${url} is not a branch, tag, HEAD or full commit SHA`,
    );
  }
  const candidates =
    rev === 'HEAD' || rev.startsWith('refs/') ? [rev] : [`refs/heads/${rev}`, `refs/tags/${rev}`];
  for (const ref of candidates) {
    let oid: string;
    try {
      oid = await git.resolveRef({ fs, gitdir, ref });
    } catch {
      continue;
    }
    // Annotated tags are peeled to the commit they point at.
    for (let i = 0; i < 10; i++) {
      const obj = await git.readObject({ fs, gitdir, oid, format: 'parsed' });
      if (obj.type !== 'tag') break;
      oid = (obj.object as { object: string }).object;
    }
    return oid;
  }
  throw new DriftlessError(
    'SourceUnavailable',
    `revision "${rev}" not found in ${url}: no such branch or tag`,
  );
}
