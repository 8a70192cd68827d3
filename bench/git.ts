// Git for the benchmarks: the git CLI with a fixed identity, and the Git
// server (bench/git-server.ts) in a child process, so serving packs does not
// share the timed event loop.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { GitServerInfo } from '../scripts/testenv/gitserver.js';

const exec = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Driftless Bench',
  GIT_AUTHOR_EMAIL: 'bench@driftless.dev',
  GIT_COMMITTER_NAME: 'Driftless Bench',
  GIT_COMMITTER_EMAIL: 'bench@driftless.dev',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: os.tmpdir(),
};

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec('git', args, { cwd, env: gitEnv });
  return stdout.trim();
}

export async function startGitServer(
  root: string,
): Promise<{ info: GitServerInfo; proc: ChildProcess }> {
  const backend =
    process.env.DRIFTLESS_GIT_HTTP_BACKEND ??
    path.join((await exec('git', ['--exec-path'])).stdout.trim(), 'git-http-backend');
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(here, 'git-server.ts'), root, backend],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
    rl.once('line', (l) => {
      rl.close();
      resolve(l);
    });
    proc.once('exit', (code) => reject(new Error(`the git server exited (${code})`)));
  });
  return { info: JSON.parse(line) as GitServerInfo, proc };
}

/** Requests the Git server has served for one repository. */
export async function gitRequests(baseUrl: string, repo: string): Promise<number> {
  const res = await fetch(`${baseUrl}/_driftless/requests`);
  return ((await res.json()) as Record<string, number>)[`${repo}.git`] ?? 0;
}
