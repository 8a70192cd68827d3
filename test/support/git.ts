// Repositories on the test Git server, written with the real git CLI: a bare
// repository under the server's root, and a work tree that commits and pushes.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import { testenv, uniqueName } from './env.js';

const exec = promisify(execFile);

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Driftless Test',
  GIT_AUTHOR_EMAIL: 'test@driftless.dev',
  GIT_COMMITTER_NAME: 'Driftless Test',
  GIT_COMMITTER_EMAIL: 'test@driftless.dev',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: os.tmpdir(),
};

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec('git', args, { cwd, env: gitEnv });
  return stdout.trim();
}

export class TestRepo {
  private constructor(
    readonly name: string,
    /** URL served by git http-backend. */
    readonly url: string,
    readonly bareDir: string,
    readonly workDir: string,
  ) {}

  /**
   * A new repository; `private: true` makes the server demand basic auth, and
   * `owner` puts it under `<owner>/` (a URL shaped like GitHub's).
   */
  static async create(
    prefix: string,
    opts: { private?: boolean; owner?: string } = {},
  ): Promise<TestRepo> {
    const { git: server } = testenv();
    const name = `${opts.owner ? `${opts.owner}/` : ''}${opts.private ? 'private-' : ''}${uniqueName(prefix)}.git`;
    const bareDir = path.join(server.root, name);
    await mkdir(bareDir, { recursive: true });
    await git(bareDir, 'init', '--bare', '--initial-branch=main', '--quiet');
    const workDir = await mkdtemp(path.join(os.tmpdir(), 'driftless-repo-'));
    await git(workDir, 'init', '--initial-branch=main', '--quiet');
    await git(workDir, 'remote', 'add', 'origin', bareDir);
    afterAll(async () => {
      await rm(workDir, { recursive: true, force: true });
    });
    return new TestRepo(name, `${server.baseUrl}/${name}`, bareDir, workDir);
  }

  /** Writes (or, with null, deletes) files, commits and pushes; returns the commit SHA. */
  async commit(
    files: Record<string, string | null>,
    message = 'update',
    branch = 'main',
  ): Promise<string> {
    for (const [file, content] of Object.entries(files)) {
      const p = path.join(this.workDir, file);
      if (content === null) {
        await rm(p, { force: true });
      } else {
        await mkdir(path.dirname(p), { recursive: true });
        await writeFile(p, content);
      }
    }
    await git(this.workDir, 'add', '--all');
    await git(this.workDir, 'commit', '--quiet', '--allow-empty', '-m', message);
    await git(this.workDir, 'push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`);
    return git(this.workDir, 'rev-parse', 'HEAD');
  }

  /** Tags HEAD (or `opts.commit`) and pushes the tag; with a message, an annotated tag. */
  async tag(name: string, opts: { message?: string; commit?: string } = {}): Promise<void> {
    const args = opts.message ? ['tag', '--annotate', '-m', opts.message, name] : ['tag', name];
    if (opts.commit) args.push(opts.commit);
    await git(this.workDir, ...args);
    await git(this.workDir, 'push', '--quiet', 'origin', `refs/tags/${name}`);
  }

  /** `git rev-parse` in the work tree (e.g. the SHA of an annotated tag object). */
  async revParse(rev: string): Promise<string> {
    return git(this.workDir, 'rev-parse', rev);
  }
}
