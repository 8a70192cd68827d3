// The whole test environment: a Kubernetes control plane, the AWS emulator and
// a Git server, started together on loopback and stopped together. Used by the
// vitest global setup, by `npm run testenv` and by the benchmarks.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ClusterInfo, type ClusterProfile, TestCluster } from './cluster.js';
import { GitServer, type GitServerInfo } from './gitserver.js';
import { type MotoInfo, MotoServer } from './moto.js';
import { TestEnvError } from './process.js';

export interface TestEnvInfo {
  dir: string;
  kube: ClusterInfo;
  aws: MotoInfo;
  git: GitServerInfo;
}

export interface TestEnvOptions {
  profile?: ClusterProfile;
  /** Keep the working directory (logs, etcd data) after stop. */
  keep?: boolean;
  dir?: string;
  ports?: { apiserver?: number; moto?: number; git?: number };
}

const here = path.dirname(fileURLToPath(import.meta.url));

export function cacheDir(): string {
  return (
    process.env.DRIFTLESS_CACHE ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'driftless')
  );
}

/** Where build-kube.sh put (or will put) the binaries for the pinned versions. */
export function kubeBinDir(): string {
  if (process.env.DRIFTLESS_KUBE_BIN) return process.env.DRIFTLESS_KUBE_BIN;
  return execFileSync(path.join(here, 'build-kube.sh'), ['--print-dir'], {
    encoding: 'utf8',
  }).trim();
}

/** Where build-sops.sh put (or will put) sops and age-keygen for the pinned versions. */
export function sopsBinDir(): string {
  if (process.env.DRIFTLESS_SOPS_BIN) return process.env.DRIFTLESS_SOPS_BIN;
  return execFileSync(path.join(here, 'build-sops.sh'), ['--print-dir'], {
    encoding: 'utf8',
  }).trim();
}

function motoServerBin(): string {
  if (process.env.DRIFTLESS_MOTO_SERVER) return process.env.DRIFTLESS_MOTO_SERVER;
  const lib = path.join(here, '..', 'lib.sh');
  // Same resolution as scripts/lib.sh, without installing anything.
  const version = /MOTO_VERSION="([^"]+)"/.exec(readFileSync(lib, 'utf8'))?.[1];
  const py = execFileSync(
    'python3',
    ['-c', 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")'],
    {
      encoding: 'utf8',
    },
  ).trim();
  return path.join(cacheDir(), 'moto', `${version}-py${py}`, 'bin', 'moto_server');
}

/** Debian's git http-backend (also for a test's own GitServer). */
export function gitHttpBackend(): string {
  if (process.env.DRIFTLESS_GIT_HTTP_BACKEND) return process.env.DRIFTLESS_GIT_HTTP_BACKEND;
  return path.join(
    execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim(),
    'git-http-backend',
  );
}

export class TestEnv {
  private constructor(
    readonly info: TestEnvInfo,
    readonly cluster: TestCluster,
    private readonly moto: MotoServer,
    private readonly git: GitServer,
    private readonly keep: boolean,
  ) {}

  static async start(opts: TestEnvOptions = {}): Promise<TestEnv> {
    const dir = opts.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'driftless-testenv-')));
    const logDir = path.join(dir, 'logs');
    const gitRoot = path.join(dir, 'git');
    await Promise.all([mkdir(logDir, { recursive: true }), mkdir(gitRoot, { recursive: true })]);
    const binDir = kubeBinDir();
    if (!existsSync(path.join(binDir, '.complete'))) {
      throw new TestEnvError(
        `the Kubernetes test binaries are not built (${binDir}). Run ./scripts/test, which builds them, ` +
          'or scripts/testenv/build-kube.sh.',
      );
    }

    const started = await Promise.allSettled([
      TestCluster.start({
        dir: path.join(dir, 'cluster'),
        binDir,
        profile: opts.profile ?? 'workloads',
        apiserverPort: opts.ports?.apiserver,
      }),
      MotoServer.start({ serverBin: motoServerBin(), logDir, port: opts.ports?.moto }),
      GitServer.start({
        root: gitRoot,
        httpBackend: gitHttpBackend(),
        username: 'driftless',
        password: `test-${process.pid}`,
        port: opts.ports?.git,
      }),
    ]);
    const failures = started.filter((s) => s.status === 'rejected').map((s) => s.reason as Error);
    if (failures.length > 0) {
      await Promise.all(
        started.map((s) => (s.status === 'fulfilled' ? s.value.stop().catch(() => {}) : undefined)),
      );
      throw new TestEnvError(
        `the test environment did not start (files in ${dir}):\n${failures.map((f) => `- ${f.message}`).join('\n')}`,
      );
    }
    const [cluster, moto, git] = started.map(
      (s) => (s as PromiseFulfilledResult<unknown>).value,
    ) as [TestCluster, MotoServer, GitServer];
    return new TestEnv(
      { dir, kube: cluster.info, aws: moto.info, git: git.info },
      cluster,
      moto,
      git,
      opts.keep ?? false,
    );
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.cluster.stop(), this.moto.stop(), this.git.stop()]);
    if (!this.keep) await rm(this.info.dir, { recursive: true, force: true });
  }
}
