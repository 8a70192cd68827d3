// Driftless vs Flux for a fleet of apps on one cluster, in one run, against
// the same local API server (scripts/testenv, profile base) and the same Git
// server (git http-backend on loopback). For each fleet size (--apps) and
// drift-check interval (--intervals) each tool in turn — alternating which
// goes first — is started alone, syncs the fleet, then is measured:
//
//   steady state   API requests (the API server's audit log, one user per
//                  tool), Git requests, API server CPU and the tool's CPU per
//                  drift-check interval, over --windows intervals
//   hand edit      a kubectl-style PATCH of one ConfigMap of one app: time to
//                  its detection and to its repair
//   push           a commit changing every app, announced by Driftless's
//                  webhook or Flux's Receiver: time until every app is Ready
//                  at the new commit
//
// and its peak memory (VmHWM) over the whole phase. Driftless is local mode
// (startLocalMode, bench/fleet-driftless.ts) in a child process; Flux is
// source-, kustomize- and notification-controller built from their Go modules
// (scripts/testenv/build-flux.sh), run as processes outside the cluster. See
// bench/README.md, "Fleet benchmark".
//
//   tsx bench/fleet.bench.ts [--apps 100,500] [--objects 20] [--intervals default]
//                            [--windows 2] [--out FILE] [--keep]

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { parse as parseYaml, stringify } from 'yaml';
import { mapBounded } from '../lib/concurrency.js';
import type { KubeClient } from '../lib/kube/client.js';
import { kubeClientFromKubeconfig } from '../lib/kube/kubeconfig.js';
import { ApplicationSchema, parseDuration } from '../lib/model/application.js';
import { type KubeObject, LABEL_APP } from '../lib/model/object.js';
import { SWEEP_TICK_MS } from '../lib/sweep/index.js';
import { TestCluster } from '../scripts/testenv/cluster.js';
import { kubeBinDir } from '../scripts/testenv/env.js';
import type { GitServerInfo } from '../scripts/testenv/gitserver.js';
import { reservePort, sleep } from '../scripts/testenv/process.js';
import type { FleetDriftlessSettings, FleetEvent } from './fleet-driftless.js';
import { git, gitRequests, startGitServer } from './git.js';
import { generateApp } from './manifests.js';
import { initClockTicks, peakRssBytes, processCpuMs, ServerCpu } from './proc.js';

const exec = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');

function log(msg: string) {
  process.stderr.write(`[fleet] ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
}

/** The Driftless drift interval an app gets when it sets none. */
const DRIFTLESS_DEFAULT_INTERVAL_MS = ApplicationSchema.parse({
  apiVersion: 'driftless.dev/v1',
  kind: 'Application',
  metadata: { name: 'x' },
  spec: {
    source: { repoURL: 'https://example.com/x.git', revision: 'main', path: '.' },
    destinations: [{ cluster: 'local', namespace: 'x' }],
  },
}).spec.syncPolicy.interval;

/** The object every hand edit changes (the first ConfigMap of an app) and its field. */
const EDITED_CONFIGMAP = 'svc-000-config';
const EDITED_KEY = 'LOG_LEVEL';
/** How often the benchmark looks at the edited object and at Flux's Kustomizations. */
const POLL_MS = 500;
const FLUX_POLL_MS = 2_000;
const FLUX_NS = 'flux-system';

// ---------------------------------------------------------------------------
// Options.

interface Interval {
  ms: number;
  /** Driftless's default: its apps set no interval (Flux gets the same value). */
  isDefault: boolean;
}

interface Options {
  apps: number[];
  objects: number;
  intervals: Interval[];
  windows: number;
  /** Longest wait for the initial sync, the hand edit's repair and the push (then reported as "> bound"). */
  maxWaitMs: number;
  tools: ('driftless' | 'flux')[];
  out?: string;
  keep: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      apps: { type: 'string', default: '100,500' },
      objects: { type: 'string', default: '20' },
      intervals: { type: 'string', default: 'default' },
      windows: { type: 'string', default: '2' },
      'max-wait': { type: 'string', default: '5m' },
      tools: { type: 'string', default: 'driftless,flux' },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const apps = (values.apps as string).split(',').map((s) => Number.parseInt(s, 10));
  const objects = Number.parseInt(values.objects as string, 10);
  const windows = Number.parseInt(values.windows as string, 10);
  if (apps.some((n) => !(n > 0 && n <= 1000))) throw new Error('--apps takes integers 1–1000');
  if (!(objects >= 8)) throw new Error('--objects takes an integer ≥ 8 (one of each kind)');
  if (!(windows > 0)) throw new Error('--windows takes a positive integer');
  const intervals = (values.intervals as string).split(',').map((s): Interval => {
    if (s === 'default') return { ms: DRIFTLESS_DEFAULT_INTERVAL_MS, isDefault: true };
    const ms = parseDuration(s);
    if (ms < 10_000) throw new Error(`--intervals: ${s} is under 10s`);
    return { ms, isDefault: ms === DRIFTLESS_DEFAULT_INTERVAL_MS };
  });
  const tools = (values.tools as string).split(',');
  if (!tools.length || tools.some((t) => t !== 'driftless' && t !== 'flux')) {
    throw new Error('--tools takes driftless, flux or both');
  }
  return {
    tools: tools as Options['tools'],
    apps: [...apps].sort((a, b) => a - b),
    objects,
    intervals,
    windows,
    maxWaitMs: parseDuration(values['max-wait'] as string),
    out: values.out,
    keep: values.keep as boolean,
  };
}

function fluxDuration(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}

function fmtInterval(iv: Interval): string {
  const s = iv.ms / 1000;
  const text = s % 60 === 0 ? `${s / 60} min` : `${s} s`;
  return iv.isDefault ? `${text} (default)` : text;
}

function fmtSeconds(ms: number | undefined): string {
  if (ms === undefined) return '–';
  return ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(1)} s`;
}

// ---------------------------------------------------------------------------
// The API server's audit log: one line per request (omitStages RequestReceived;
// a watch also logs ResponseStarted, so requests are counted by auditID).

interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string };
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  requestReceivedTimestamp: string;
}

const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
`;

class AuditLog {
  constructor(readonly file: string) {}

  async size(): Promise<number> {
    return (await stat(this.file)).size;
  }

  /** The events written between two offsets (whole lines only). */
  async read(from: number, to?: number): Promise<AuditEvent[]> {
    const end = to ?? (await this.size());
    if (end <= from) return [];
    const fh = await open(this.file, 'r');
    try {
      const buf = Buffer.alloc(end - from);
      await fh.read(buf, 0, buf.length, from);
      const text = buf.toString('utf8');
      const lines = text.split('\n');
      if (!text.endsWith('\n')) lines.pop();
      return lines.filter((l) => l).map((l) => JSON.parse(l) as AuditEvent);
    } finally {
      await fh.close();
    }
  }
}

function verbOf(e: AuditEvent): string {
  const dry = /[?&]dryRun=/.test(e.requestURI) ? ' (dry-run)' : '';
  const sub = e.objectRef?.subresource ? ` ${e.objectRef.subresource}` : '';
  return `${e.verb}${sub}${dry}`;
}

interface RequestCount {
  total: number;
  byVerb: Record<string, number>;
}

function countRequests(events: AuditEvent[], users: string[]): RequestCount {
  const seen = new Set<string>();
  const out: RequestCount = { total: 0, byVerb: {} };
  for (const e of events) {
    if (!users.includes(e.user.username) || seen.has(e.auditID)) continue;
    seen.add(e.auditID);
    out.total++;
    const v = verbOf(e);
    out.byVerb[v] = (out.byVerb[v] ?? 0) + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------
// The environment.

const USERS = {
  driftless: 'bench-driftless',
  source: 'bench-flux-source-controller',
  kustomize: 'bench-flux-kustomize-controller',
  notification: 'bench-flux-notification-controller',
} as const;
type UserKey = keyof typeof USERS;

interface Env {
  dir: string;
  cluster: TestCluster;
  git: { info: GitServerInfo; proc: ChildProcess };
  admin: KubeClient;
  audit: AuditLog;
  serverCpu: ServerCpu;
  serverVersion: string;
  /** Per bench user, a kubeconfig with its bearer token. */
  kubeconfigs: Record<UserKey, string>;
  fluxDir: string;
  fluxVersions: Record<string, string>;
  opts: Options;
}

async function fluxBuildDir(): Promise<string> {
  const dir =
    process.env.DRIFTLESS_FLUX_DIR ??
    (
      await exec(path.join(repoRoot, 'scripts/testenv/build-flux.sh'), ['--print-dir'])
    ).stdout.trim();
  if (!existsSync(path.join(dir, '.complete'))) {
    throw new Error(`Flux controllers not built in ${dir}: run bench/run-fleet.sh`);
  }
  return dir;
}

async function fluxVersions(): Promise<Record<string, string>> {
  const mod = await readFile(path.join(repoRoot, 'scripts/testenv/go-flux/go.mod'), 'utf8');
  const out: Record<string, string> = {};
  for (const c of ['source-controller', 'kustomize-controller', 'notification-controller']) {
    const m = new RegExp(`github\\.com/fluxcd/${c} (v\\S+)`).exec(mod);
    out[c] = m?.[1] ?? '?';
  }
  return out;
}

async function startEnv(dir: string, opts: Options): Promise<Env> {
  const binDir = kubeBinDir();
  if (!existsSync(path.join(binDir, '.complete'))) {
    throw new Error(`Kubernetes binaries not built in ${binDir}: run bench/run-fleet.sh`);
  }
  const fluxDir = opts.tools.includes('flux') ? await fluxBuildDir() : '';
  const clusterDir = path.join(dir, 'cluster');
  await mkdir(clusterDir, { recursive: true });
  // One bearer token per tool (per Flux controller), so the audit log tells
  // whose requests are whose. system:masters: both run with full rights here.
  const tokens = Object.fromEntries(
    Object.keys(USERS).map((k) => [k, randomBytes(16).toString('hex')]),
  ) as Record<UserKey, string>;
  const tokenFile = path.join(dir, 'tokens.csv');
  await writeFile(
    tokenFile,
    (Object.keys(USERS) as UserKey[])
      .map((k) => `${tokens[k]},${USERS[k]},${USERS[k]},"system:masters"\n`)
      .join(''),
  );
  const policy = path.join(dir, 'audit-policy.yaml');
  await writeFile(policy, AUDIT_POLICY);
  const auditFile = path.join(dir, 'audit.log');
  const gitRoot = path.join(dir, 'git');
  await mkdir(gitRoot, { recursive: true });
  const [cluster, gitServer] = await Promise.all([
    TestCluster.start({
      dir: clusterDir,
      binDir,
      profile: 'base',
      apiserverArgs: [
        `--token-auth-file=${tokenFile}`,
        `--audit-policy-file=${policy}`,
        `--audit-log-path=${auditFile}`,
        '--audit-log-format=json',
        '--audit-log-maxsize=0',
      ],
    }),
    startGitServer(gitRoot),
  ]);
  const kubeconfigs = {} as Record<UserKey, string>;
  for (const k of Object.keys(USERS) as UserKey[]) {
    kubeconfigs[k] = path.join(dir, `${k}.kubeconfig`);
    await writeFile(
      kubeconfigs[k],
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'bench',
            cluster: { server: cluster.info.server, 'certificate-authority': cluster.info.caCert },
          },
        ],
        users: [{ name: USERS[k], user: { token: tokens[k] } }],
        contexts: [{ name: 'bench', context: { cluster: 'bench', user: USERS[k] } }],
        'current-context': 'bench',
      }),
    );
  }
  const admin = await kubeClientFromKubeconfig(cluster.info.kubeconfig);
  const server = (await admin.requestJson('GET', '/version')) as { gitVersion: string };
  await initClockTicks();
  return {
    dir,
    cluster,
    git: gitServer,
    admin,
    audit: new AuditLog(auditFile),
    serverCpu: await ServerCpu.find(clusterDir),
    serverVersion: server.gitVersion,
    kubeconfigs,
    fluxDir,
    fluxVersions: await fluxVersions(),
    opts,
  };
}

async function stopEnv(env: Env): Promise<void> {
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
// The fleet in Git: one repository per tool, apps/app-NNN/ per app (the same
// generator, bench/manifests.ts; only the namespaces differ, and Flux's copy
// has no Driftless tracking label). A push changes the ConfigMaps of every app.

function appName(i: number): string {
  return `app-${String(i).padStart(3, '0')}`;
}

/** The edited key's value in Git at a push generation. */
function desiredLogLevel(generation: number): string {
  return generation === 0 ? 'info' : `info-${generation}`;
}

class Fleet {
  generation = 0;
  apps = 0;
  private constructor(
    readonly name: string,
    readonly url: string,
    private readonly work: string,
    private readonly bare: string,
    private readonly namespacePrefix: string,
    private readonly tracked: boolean,
    private readonly objects: number,
  ) {}

  static async create(
    env: Env,
    name: string,
    namespacePrefix: string,
    tracked: boolean,
  ): Promise<Fleet> {
    const bare = path.join(env.git.info.root, `${name}.git`);
    await mkdir(bare, { recursive: true });
    await git(bare, 'init', '--bare', '--initial-branch=main', '--quiet');
    const work = path.join(env.dir, 'work', name);
    await mkdir(work, { recursive: true });
    await git(work, 'init', '--initial-branch=main', '--quiet');
    return new Fleet(
      name,
      `${env.git.info.baseUrl}/${name}.git`,
      work,
      bare,
      namespacePrefix,
      tracked,
      env.opts.objects,
    );
  }

  namespace(i: number): string {
    return `${this.namespacePrefix}-${appName(i)}`;
  }

  /** Whether a namespace is one of this fleet's apps'. */
  owns(namespace: string): boolean {
    return namespace.startsWith(`${this.namespacePrefix}-app-`);
  }

  appPath(i: number): string {
    return `apps/${appName(i)}`;
  }

  /** Writes `apps` apps at the current generation, commits and pushes; the new commit. */
  async commit(apps: number, message: string): Promise<{ sha: string; changed: string[] }> {
    this.apps = apps;
    await rm(path.join(this.work, 'apps'), { recursive: true, force: true });
    const level = desiredLogLevel(this.generation);
    for (let i = 0; i < apps; i++) {
      const dir = path.join(this.work, this.appPath(i));
      await mkdir(dir, { recursive: true });
      const m = generateApp(this.objects, this.namespace(i), appName(i), {
        tracked: this.tracked,
      });
      for (const [file, text] of Object.entries(m.files)) {
        await writeFile(
          path.join(dir, file),
          text.replaceAll('LOG_LEVEL: info', `LOG_LEVEL: ${level}`),
        );
      }
    }
    await git(this.work, 'add', '--all');
    const changed = (await git(this.work, 'diff', '--cached', '--name-only'))
      .split('\n')
      .filter((l) => l);
    if (changed.length) await git(this.work, 'commit', '--quiet', '-m', message);
    await git(this.work, 'push', '--quiet', this.bare, 'HEAD:refs/heads/main');
    return { sha: await git(this.work, 'rev-parse', 'HEAD'), changed };
  }
}

/** Deployments per app: every eighth object from the fifth (bench/manifests.ts's kinds). */
function deploymentsPerApp(objects: number): number {
  return Math.floor((objects - 5) / 8) + 1;
}

/**
 * What a Deployment controller would do (the base profile runs none): report
 * each new Deployment's rollout complete, so both tools see it healthy. One
 * cluster-wide LIST per pass (by a label the tool's objects carry), until
 * `expected` Deployments in the fleet's namespaces are current or `stop()`.
 */
async function completeRollouts(
  admin: KubeClient,
  fleet: Fleet,
  labelSelector: string,
  expected: number,
  stop: () => boolean,
): Promise<void> {
  const now = () => new Date().toISOString();
  while (!stop()) {
    const ds = (await admin.list('apps/v1', 'Deployment', { labelSelector })).filter((d) =>
      fleet.owns(d.metadata.namespace ?? ''),
    );
    const stale = ds.filter((d) => {
      const status = d.status as { observedGeneration?: number } | undefined;
      return status?.observedGeneration !== d.metadata.generation;
    });
    await mapBounded(stale, 8, async (d) => {
      const replicas = Number((d.spec as { replicas?: number } | undefined)?.replicas ?? 1);
      const t = now();
      const condition = (type: string, reason: string) => ({
        type,
        status: 'True',
        reason,
        message: reason,
        lastUpdateTime: t,
        lastTransitionTime: t,
      });
      await admin.requestJson(
        'PATCH',
        `/apis/apps/v1/namespaces/${d.metadata.namespace}/deployments/${d.metadata.name}/status`,
        {
          status: {
            observedGeneration: d.metadata.generation,
            replicas,
            updatedReplicas: replicas,
            readyReplicas: replicas,
            availableReplicas: replicas,
            conditions: [
              condition('Available', 'MinimumReplicasAvailable'),
              condition('Progressing', 'NewReplicaSetAvailable'),
            ],
          },
        },
        { contentType: 'application/merge-patch+json' },
      );
    });
    if (ds.length - stale.length >= expected) return;
    await sleep(2_000);
  }
}

// ---------------------------------------------------------------------------
// Processes.

function spawnLogged(
  command: string,
  args: string[],
  logFile: string,
  env: NodeJS.ProcessEnv = process.env,
  stdin: 'pipe' | 'ignore' = 'ignore',
  stdout: 'pipe' | 'log' = 'log',
): ChildProcess {
  const fd = openSync(logFile, 'a');
  return spawn(command, args, {
    env,
    stdio: [stdin, stdout === 'pipe' ? 'pipe' : fd, fd],
  });
}

async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  fn: () => Promise<T | undefined>,
  everyMs = POLL_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s: ${what}`);
    await sleep(everyMs);
  }
}

/** Like waitFor, but a timeout is an answer: undefined. */
async function waitUntil<T>(
  timeoutMs: number,
  fn: () => Promise<T | undefined>,
  everyMs = POLL_MS,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined || Date.now() > deadline) return v;
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------
// The tools, behind one interface.

interface Tool {
  readonly name: 'Driftless' | 'Flux';
  readonly users: string[];
  readonly fleet: Fleet;
  /** A label every object the tool applies carries (a label selector). */
  readonly rolloutLabel: string;
  pids(): number[];
  /** Starts with the fleet's `apps` apps and the interval; resolves once running. */
  start(apps: number, interval: Interval): Promise<void>;
  /** Waits until every app is Ready at `sha`, at most `timeoutMs`; how many are. */
  waitReady(sha: string, timeoutMs: number): Promise<number>;
  /** Announces a push (webhook, Receiver). */
  notifyPush(sha: string, changed: string[]): Promise<void>;
  /** When the tool noticed the hand edit of app `i` made at `since` (audit log from `auditFrom`). */
  detectedAt(
    i: number,
    since: number,
    auditFrom: number,
    timeoutMs: number,
  ): Promise<number | undefined>;
  /** Per-app reconciles between two times (`audit`: the API server's events meanwhile). */
  reconciles(t0: number, t1: number, audit: AuditEvent[]): number;
  stop(): Promise<void>;
}

class DriftlessTool implements Tool {
  readonly name = 'Driftless';
  readonly users = [USERS.driftless];
  readonly rolloutLabel = LABEL_APP;
  private child?: ChildProcess;
  private url = '';
  private readonly secret = randomBytes(16).toString('hex');
  private latest = new Map<string, Extract<FleetEvent, { type: 'done' }>>();
  private drift: Extract<FleetEvent, { type: 'drift' }>[] = [];
  private doneAt: number[] = [];
  private apps = 0;
  private runs = 0;

  constructor(
    private readonly env: Env,
    readonly fleet: Fleet,
  ) {}

  pids(): number[] {
    return this.child?.pid ? [this.child.pid] : [];
  }

  async start(apps: number, interval: Interval): Promise<void> {
    this.apps = apps;
    this.latest = new Map();
    this.drift = [];
    this.doneAt = [];
    const run = ++this.runs;
    const settings: FleetDriftlessSettings = {
      kubeconfig: this.env.kubeconfigs.driftless,
      webhookSecret: this.secret,
      gitCacheDir: path.join(this.env.dir, `driftless-git-cache-${run}`),
      // The sweep ticks as in production (once a minute), or at the interval
      // under test when that is shorter (quick runs).
      sweepIntervalMs: Math.min(interval.ms, SWEEP_TICK_MS),
      apps: Array.from({ length: apps }, (_, i) => ({
        apiVersion: 'driftless.dev/v1',
        kind: 'Application',
        metadata: { name: appName(i) },
        spec: {
          source: { repoURL: this.fleet.url, revision: 'main', path: this.fleet.appPath(i) },
          destinations: [{ cluster: 'local', namespace: this.fleet.namespace(i) }],
          // Self-heal (off by default) is what repairs a hand edit; Flux always does.
          syncPolicy: {
            selfHeal: true,
            prune: true,
            ...(interval.isDefault ? {} : { interval: fluxDuration(interval.ms) }),
          },
        },
      })),
    };
    const file = path.join(this.env.dir, `driftless-settings-${run}.json`);
    await writeFile(file, JSON.stringify(settings));
    const logFile = path.join(this.env.dir, 'logs', `driftless-${run}.log`);
    const child = spawnLogged(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'fleet-driftless.ts'), file],
      logFile,
      process.env,
      'pipe',
      'pipe',
    );
    this.child = child;
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const first = new Promise<string>((resolve, reject) => {
      child.once('exit', (code) =>
        reject(new Error(`Driftless exited (${code}) before serving; see ${logFile}`)),
      );
      rl.on('line', (line) => {
        const msg = JSON.parse(line) as FleetEvent | { url: string };
        if ('url' in msg) {
          resolve(msg.url);
          return;
        }
        if (msg.type === 'done') {
          this.latest.set(msg.app, msg);
          this.doneAt.push(msg.t);
        } else if (msg.type === 'drift') this.drift.push(msg);
      });
    });
    this.url = await first;
  }

  async waitReady(sha: string, timeoutMs: number): Promise<number> {
    const ready = () => {
      let n = 0;
      for (let i = 0; i < this.apps; i++) {
        const d = this.latest.get(appName(i));
        if (d?.revision === sha && d.sync === 'Synced' && d.health === 'Healthy') n++;
      }
      return n;
    };
    await waitUntil(timeoutMs, async () => {
      if (this.child?.exitCode !== null) throw new Error('Driftless exited');
      return ready() === this.apps ? true : undefined;
    });
    return ready();
  }

  async notifyPush(sha: string, changed: string[]): Promise<void> {
    // A GitHub push delivery, signed with the webhook secret.
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      before: '0'.repeat(40),
      after: sha,
      created: false,
      deleted: false,
      forced: false,
      repository: {
        full_name: `bench/${this.fleet.name}`,
        clone_url: this.fleet.url,
        html_url: this.fleet.url.replace(/\.git$/, ''),
        default_branch: 'main',
        pushed_at: Math.floor(Date.now() / 1000),
      },
      pusher: { name: 'bench', email: 'bench@driftless.dev' },
      commits: [{ id: sha, added: [], removed: [], modified: changed }],
    });
    const res = await fetch(`${this.url}/webhook`, {
      method: 'POST',
      headers: {
        'x-github-event': 'push',
        'x-github-delivery': randomBytes(16).toString('hex'),
        'x-hub-signature-256': `sha256=${createHmac('sha256', this.secret).update(body).digest('hex')}`,
        'content-type': 'application/json',
      },
      body,
    });
    if (res.status !== 202) {
      throw new Error(`Driftless's webhook answered ${res.status}: ${await res.text()}`);
    }
  }

  async detectedAt(
    i: number,
    since: number,
    _auditFrom: number,
    timeoutMs: number,
  ): Promise<number | undefined> {
    return waitUntil(timeoutMs, async () => {
      return this.drift.find((d) => d.app === appName(i) && d.t >= since)?.t;
    });
  }

  reconciles(t0: number, t1: number): number {
    // One 'done' event per reconcile of a target.
    return this.doneAt.filter((t) => t >= t0 && t < t1).length;
  }

  async stop(): Promise<void> {
    if (!this.child) return;
    this.child.stdin?.end();
    await stopChild(this.child);
    this.child = undefined;
  }
}

interface FluxPorts {
  storage: number;
  sourceMetrics: number;
  sourceHealth: number;
  kustomizeMetrics: number;
  kustomizeHealth: number;
  notificationMetrics: number;
  notificationHealth: number;
  events: number;
  receiver: number;
}

class FluxTool implements Tool {
  readonly name = 'Flux';
  readonly users = [USERS.source, USERS.kustomize, USERS.notification];
  readonly rolloutLabel = 'kustomize.toolkit.fluxcd.io/name';
  private procs: ChildProcess[] = [];
  private ports?: FluxPorts;
  private receiverPath = '';
  private readonly token = randomBytes(16).toString('hex');
  private apps = 0;
  private runs = 0;
  private installed = false;

  constructor(
    private readonly env: Env,
    readonly fleet: Fleet,
  ) {}

  pids(): number[] {
    return this.procs.map((p) => p.pid as number);
  }

  private async install(): Promise<void> {
    const admin = this.env.admin;
    const crdDir = path.join(this.env.fluxDir, 'crds');
    const names: string[] = [];
    for (const f of (await readdir(crdDir)).filter((x) => x.endsWith('.yaml')).sort()) {
      const crd = parseYaml(await readFile(path.join(crdDir, f), 'utf8')) as KubeObject;
      await admin.apply(crd, { fieldManager: 'bench', force: true });
      names.push(crd.metadata.name ?? f);
    }
    await waitFor('Flux CRDs Established', 60_000, async () => {
      for (const n of names) {
        const crd = (await admin.requestJson(
          'GET',
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${n}`,
        )) as { status?: { conditions?: { type: string; status: string }[] } };
        const ok = crd.status?.conditions?.some(
          (c) => c.type === 'Established' && c.status === 'True',
        );
        if (!ok) return undefined;
      }
      return true;
    });
    await admin.apply(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: FLUX_NS } },
      { fieldManager: 'bench' },
    );
    await admin.apply(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'receiver-token', namespace: FLUX_NS },
        stringData: { token: this.token },
      } as KubeObject,
      { fieldManager: 'bench' },
    );
    this.installed = true;
  }

  private fluxCommand(controller: string, key: UserKey, args: string[], run: number): ChildProcess {
    return spawnLogged(
      path.join(this.env.fluxDir, controller),
      ['--enable-leader-election=false', '--log-level=info', ...args],
      path.join(this.env.dir, 'logs', `${controller}-${run}.log`),
      { ...process.env, RUNTIME_NAMESPACE: FLUX_NS, KUBECONFIG: this.env.kubeconfigs[key] },
    );
  }

  async start(apps: number, interval: Interval): Promise<void> {
    if (!this.installed) await this.install();
    this.apps = apps;
    const run = ++this.runs;
    const port = (n: string) => reservePort(n);
    const p: FluxPorts = {
      storage: await port('flux storage'),
      sourceMetrics: await port('flux metrics'),
      sourceHealth: await port('flux health'),
      kustomizeMetrics: await port('flux metrics'),
      kustomizeHealth: await port('flux health'),
      notificationMetrics: await port('flux metrics'),
      notificationHealth: await port('flux health'),
      events: await port('flux events'),
      receiver: await port('flux receiver'),
    };
    this.ports = p;
    const storage = path.join(this.env.dir, `flux-storage-${run}`);
    await mkdir(storage, { recursive: true });
    const lo = (n: number) => `127.0.0.1:${n}`;
    this.procs = [
      this.fluxCommand(
        'source-controller',
        'source',
        [
          `--storage-path=${storage}`,
          `--storage-addr=${lo(p.storage)}`,
          `--storage-adv-addr=${lo(p.storage)}`,
          `--metrics-addr=${lo(p.sourceMetrics)}`,
          `--health-addr=${lo(p.sourceHealth)}`,
        ],
        run,
      ),
      this.fluxCommand(
        'kustomize-controller',
        'kustomize',
        [`--metrics-addr=${lo(p.kustomizeMetrics)}`, `--health-addr=${lo(p.kustomizeHealth)}`],
        run,
      ),
      this.fluxCommand(
        'notification-controller',
        'notification',
        [
          `--metrics-addr=${lo(p.notificationMetrics)}`,
          `--health-addr=${lo(p.notificationHealth)}`,
          `--events-addr=${lo(p.events)}`,
          `--receiverAddr=${lo(p.receiver)}`,
        ],
        run,
      ),
    ];
    const healths = [p.sourceHealth, p.kustomizeHealth, p.notificationHealth];
    await Promise.all(
      this.procs.map((proc, k) =>
        waitFor(`Flux controller ${k} healthy`, 120_000, async () => {
          if (proc.exitCode !== null) {
            throw new Error(
              `a Flux controller exited (${proc.exitCode}); see ${this.env.dir}/logs/*-${run}.log`,
            );
          }
          const res = await fetch(`http://127.0.0.1:${healths[k]}/healthz`).catch(() => undefined);
          return res?.ok ? true : undefined;
        }),
      ),
    );
    const admin = this.env.admin;
    const every = fluxDuration(interval.ms);
    await admin.apply(
      {
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'GitRepository',
        metadata: { name: 'fleet', namespace: FLUX_NS },
        spec: { interval: every, url: this.fleet.url, ref: { branch: 'main' } },
      },
      { fieldManager: 'bench', force: true },
    );
    await admin.apply(
      {
        apiVersion: 'notification.toolkit.fluxcd.io/v1',
        kind: 'Receiver',
        metadata: { name: 'fleet', namespace: FLUX_NS },
        spec: {
          type: 'generic',
          secretRef: { name: 'receiver-token' },
          resources: [
            { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'fleet' },
          ],
        },
      },
      { fieldManager: 'bench', force: true },
    );
    await mapBounded(
      Array.from({ length: apps }, (_, i) => i),
      8,
      (i) =>
        admin.apply(
          {
            apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
            kind: 'Kustomization',
            metadata: { name: appName(i), namespace: FLUX_NS },
            spec: {
              interval: every,
              path: `./${this.fleet.appPath(i)}`,
              prune: true,
              // Ready includes the objects' health, as Driftless's Healthy does.
              wait: true,
              sourceRef: { kind: 'GitRepository', name: 'fleet' },
            },
          },
          { fieldManager: 'bench', force: true },
        ),
    );
    this.receiverPath = await waitFor('the Flux Receiver Ready', 120_000, async () => {
      const r = (await admin.requestJson(
        'GET',
        `/apis/notification.toolkit.fluxcd.io/v1/namespaces/${FLUX_NS}/receivers/fleet`,
      )) as { status?: { webhookPath?: string } };
      return r.status?.webhookPath || undefined;
    });
  }

  async waitReady(sha: string, timeoutMs: number): Promise<number> {
    const want = `main@sha1:${sha}`;
    const names = new Set(Array.from({ length: this.apps }, (_, i) => appName(i)));
    let ready = 0;
    await waitUntil(
      timeoutMs,
      async () => {
        for (const proc of this.procs) {
          if (proc.exitCode !== null) throw new Error('a Flux controller exited');
        }
        const list = await this.env.admin.list('kustomize.toolkit.fluxcd.io/v1', 'Kustomization', {
          namespace: FLUX_NS,
        });
        ready = 0;
        for (const k of list) {
          if (!names.has(k.metadata.name ?? '')) continue;
          const s = k.status as
            | {
                observedGeneration?: number;
                lastAppliedRevision?: string;
                conditions?: { type: string; status: string }[];
              }
            | undefined;
          const ok =
            s?.observedGeneration === k.metadata.generation &&
            s?.lastAppliedRevision === want &&
            s?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
          if (ok) ready++;
        }
        return ready === this.apps ? true : undefined;
      },
      FLUX_POLL_MS,
    );
    return ready;
  }

  async notifyPush(): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${this.ports?.receiver}${this.receiverPath}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    if (!res.ok) throw new Error(`Flux's Receiver answered ${res.status}: ${await res.text()}`);
  }

  async detectedAt(
    i: number,
    since: number,
    auditFrom: number,
    timeoutMs: number,
  ): Promise<number | undefined> {
    // Flux finds drift by a server-side dry-run apply of each object: the
    // first dry-run of the edited object after the edit is its detection.
    const ns = this.fleet.namespace(i);
    let from = auditFrom;
    return waitUntil(timeoutMs, async () => {
      const to = await this.env.audit.size();
      const events = await this.env.audit.read(from, to);
      from = to;
      const hit = events.find(
        (e) =>
          e.user.username === USERS.kustomize &&
          e.verb === 'patch' &&
          /[?&]dryRun=/.test(e.requestURI) &&
          e.objectRef?.resource === 'configmaps' &&
          e.objectRef.namespace === ns &&
          e.objectRef.name === EDITED_CONFIGMAP &&
          Date.parse(e.requestReceivedTimestamp) >= since,
      );
      return hit ? Date.parse(hit.requestReceivedTimestamp) : undefined;
    });
  }

  reconciles(_t0: number, _t1: number, audit: AuditEvent[]): number {
    // Each Kustomization reconcile dry-runs every object of its app once,
    // the edited ConfigMap too.
    return countRequests(
      audit.filter(
        (e) =>
          e.verb === 'patch' &&
          /[?&]dryRun=/.test(e.requestURI) &&
          e.objectRef?.resource === 'configmaps' &&
          e.objectRef.name === EDITED_CONFIGMAP,
      ),
      [USERS.kustomize],
    ).total;
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => stopChild(p)));
    this.procs = [];
  }
}

// ---------------------------------------------------------------------------
// One phase: a tool, a fleet size, an interval.

/** A time measured, or the bound it was cut at (`done` false) and why. */
interface Timed {
  ms: number;
  done: boolean;
  note?: string;
}

function fmtTimed(t: Timed | undefined): string {
  if (!t) return '–';
  return t.done ? fmtSeconds(t.ms) : `> ${fmtSeconds(t.ms)}${t.note ? ` (${t.note})` : ''}`;
}

interface Row {
  tool: 'Driftless' | 'Flux';
  apps: number;
  interval: Interval;
  sync: Timed;
  requests: RequestCount;
  /** Per-app reconciles per interval (Driftless: of a target; Flux: of a Kustomization). */
  reconciles: number;
  gitRequests: number;
  serverCpuMs: number;
  toolCpuMs: number;
  peakRssBytes: number;
  detect: Timed;
  repair: Timed;
  push: Timed;
  load: [number, number];
}

async function cpuOf(pids: number[]): Promise<number> {
  let ms = 0;
  for (const pid of pids) ms += await processCpuMs(pid);
  return ms;
}

/** Waits for every app Ready at `sha`, at most the bound; the time it took, or the bound. */
async function timeReady(tool: Tool, sha: string, apps: number, since: number, boundMs: number) {
  const ready = await tool.waitReady(sha, boundMs - (Date.now() - since));
  const ms = Date.now() - since;
  return ready === apps ? { ms, done: true } : { ms, done: false, note: `${ready}/${apps} Ready` };
}

async function runPhase(env: Env, tool: Tool, apps: number, interval: Interval): Promise<Row> {
  const load0 = os.loadavg()[0] as number;
  const fleet = tool.fleet;
  const admin = env.admin;
  const bound = env.opts.maxWaitMs;
  const label = `${tool.name}, ${apps} apps, interval ${fmtInterval(interval)}`;
  const head = await git(path.join(env.dir, 'work', fleet.name), 'rev-parse', 'HEAD');

  log(`${label}: starting`);
  const t0 = Date.now();
  await tool.start(apps, interval);
  if (tool instanceof DriftlessTool) await tool.notifyPush(head, []);
  // The simulated rollouts go on (if need be) until the phase ends.
  let phaseOver = false;
  const rollouts = completeRollouts(
    admin,
    fleet,
    tool.rolloutLabel,
    apps * deploymentsPerApp(env.opts.objects),
    () => phaseOver,
  );
  try {
    const sync = await timeReady(tool, head, apps, t0, bound);
    log(`${label}: initial sync ${fmtTimed(sync)}; measuring ${env.opts.windows} interval(s)`);

    // Steady state.
    const pids = tool.pids();
    const w0 = Date.now();
    const a0 = await env.audit.size();
    const g0 = await gitRequests(env.git.info.baseUrl, fleet.name);
    const s0 = await env.serverCpu.ms();
    const c0 = await cpuOf(pids);
    await sleep(env.opts.windows * interval.ms);
    const w1 = Date.now();
    const a1 = await env.audit.size();
    const g1 = await gitRequests(env.git.info.baseUrl, fleet.name);
    const s1 = await env.serverCpu.ms();
    const c1 = await cpuOf(pids);
    const windowEvents = await env.audit.read(a0, a1);
    const counted = countRequests(windowEvents, tool.users);
    const reconciles = tool.reconciles(w0, w1, windowEvents);
    const per = (x: number) => x / env.opts.windows;
    const requests: RequestCount = {
      total: per(counted.total),
      byVerb: Object.fromEntries(Object.entries(counted.byVerb).map(([v, n]) => [v, per(n)])),
    };
    log(
      `${label}: ${requests.total.toFixed(0)} API requests and ${per(reconciles).toFixed(0)} app reconciles per interval, ` +
        `API server ${(per(s1 - s0) / 1000).toFixed(1)} s CPU, ${tool.name} ${(per(c1 - c0) / 1000).toFixed(1)} s CPU`,
    );

    // A hand edit of one object of one app, as `kubectl patch` makes it: the
    // middle app, or (a tool still behind) the nearest one below it in sync.
    const want = desiredLogLevel(fleet.generation);
    const cmPathOf = (k: number) =>
      `/api/v1/namespaces/${fleet.namespace(k)}/configmaps/${EDITED_CONFIGMAP}`;
    let i = Math.floor(apps / 2);
    for (; i > 0; i--) {
      const cm = (await admin.requestJson('GET', cmPathOf(i)).catch(() => undefined)) as
        | { data?: Record<string, string> }
        | undefined;
      if (cm?.data?.[EDITED_KEY] === want) break;
    }
    const cmPath = cmPathOf(i);
    const auditFrom = await env.audit.size();
    await admin.requestJson(
      'PATCH',
      `${cmPath}?fieldManager=kubectl-patch`,
      { data: { [EDITED_KEY]: 'hand-edit' } },
      { contentType: 'application/strategic-merge-patch+json' },
    );
    const tEdit = Date.now();
    const tRepair = await waitUntil(bound, async () => {
      const cm = (await admin.requestJson('GET', cmPath)) as { data?: Record<string, string> };
      return cm.data?.[EDITED_KEY] === want ? Date.now() : undefined;
    });
    // Repaired means detected; not repaired, whatever was seen by now.
    const tDetect = await tool.detectedAt(i, tEdit, auditFrom, tRepair ? bound : 0);
    const cut = (t: number | undefined): Timed =>
      t === undefined ? { ms: bound, done: false } : { ms: t - tEdit, done: true };
    const detect = cut(tDetect);
    const repair = cut(tRepair);
    log(
      `${label}: hand edit detected after ${fmtTimed(detect)}, repaired after ${fmtTimed(repair)}`,
    );

    // A push changing every app.
    fleet.generation++;
    const { sha, changed } = await fleet.commit(apps, `push ${fleet.generation}`);
    const tPush = Date.now();
    await tool.notifyPush(sha, changed);
    const push = await timeReady(tool, sha, apps, tPush, bound);
    log(`${label}: push → all apps Ready ${fmtTimed(push)}`);

    let peak = 0;
    for (const pid of pids) peak += await peakRssBytes(pid);
    return {
      tool: tool.name,
      apps,
      interval,
      sync,
      requests,
      reconciles: per(reconciles),
      gitRequests: per(g1 - g0),
      serverCpuMs: per(s1 - s0),
      toolCpuMs: per(c1 - c0),
      peakRssBytes: peak,
      detect,
      repair,
      push,
      load: [load0, os.loadavg()[0] as number],
    };
  } finally {
    phaseOver = true;
    await rollouts;
    await tool.stop();
  }
}

// ---------------------------------------------------------------------------
// Report.

function report(env: Env, rows: Row[], started: number): string {
  const lines: string[] = [];
  const out = (s = '') => lines.push(s);
  const cpus = os.cpus();
  const fv = env.fluxVersions;
  out(
    `Machine: ${os.availableParallelism()} CPUs (${cpus[0]?.model.trim() ?? '?'}), ` +
      `${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`,
  );
  out(
    `Node ${process.version}; Kubernetes ${env.serverVersion} (etcd + kube-apiserver, scripts/testenv profile base, loopback); ` +
      `Flux source-controller ${fv['source-controller']}, kustomize-controller ${fv['kustomize-controller']}, ` +
      `notification-controller ${fv['notification-controller']} (scripts/testenv/go-flux)`,
  );
  out(
    `${env.opts.objects} objects per app (+1 Namespace); steady state measured over ${env.opts.windows} interval(s); ` +
      `total ${((Date.now() - started) / 60_000).toFixed(1)} min`,
  );
  out();
  out(
    '| apps | interval | tool | API requests / interval | app reconciles / interval | Git requests / interval | API server CPU / interval | tool CPU / interval | tool peak RSS | hand edit → detected | hand edit → repaired | push → all Ready | initial sync | load (1 min) |',
  );
  out('|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of rows) {
    out(
      `| ${r.apps} | ${fmtInterval(r.interval)} | ${r.tool} | ${r.requests.total.toFixed(0)} | ${r.reconciles.toFixed(0)} | ${r.gitRequests.toFixed(0)} ` +
        `| ${(r.serverCpuMs / 1000).toFixed(1)} s | ${(r.toolCpuMs / 1000).toFixed(1)} s | ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB ` +
        `| ${fmtTimed(r.detect)} | ${fmtTimed(r.repair)} | ${fmtTimed(r.push)} | ${fmtTimed(r.sync)} ` +
        `| ${r.load[0].toFixed(1)}→${r.load[1].toFixed(1)} |`,
    );
  }
  out();
  out('API requests per interval by verb (audit log):');
  out();
  out('| apps | interval | tool | requests by verb |');
  out('|---:|---|---|---|');
  for (const r of rows) {
    const verbs = Object.entries(r.requests.byVerb)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([v, n]) => `${Number.isInteger(n) ? n : n.toFixed(1)} ${v}`)
      .join(', ');
    out(`| ${r.apps} | ${fmtInterval(r.interval)} | ${r.tool} | ${verbs || '–'} |`);
  }
  const dl = rows.filter((r) => r.tool === 'Driftless');
  if (dl.length) {
    // The kinds of an app (bench/manifests.ts) and its Namespace.
    const kinds = generateApp(env.opts.objects, 'x', 'x').kinds.length + 1;
    out();
    out(
      `Target (issue #15): Driftless ≤ kinds + 2 = ${kinds + 2} API requests per cluster per interval at steady state; ` +
        `measured ${dl.map((r) => `${r.requests.total.toFixed(0)} at ${r.apps} apps (${fmtInterval(r.interval)})`).join(', ')}.`,
    );
  }
  const largest = Math.max(...rows.map((r) => r.apps));
  const heal = rows.find(
    (r) => r.tool === 'Driftless' && r.apps === largest && r.interval.isDefault,
  );
  if (heal) {
    out();
    out(
      `With default settings (drift interval ${fmtInterval(heal.interval)}; selfHeal on), Driftless healed a hand edit ` +
        `to one object of one app among ${largest} in ${fmtTimed(heal.repair)} (target ≤ 90 s).`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------

async function main() {
  const opts = parseOptions();
  const started = Date.now();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-fleet-'));
  await mkdir(path.join(dir, 'logs'), { recursive: true });
  log(`working directory ${dir}; starting etcd + kube-apiserver and the Git server`);
  let env: Env | undefined;
  const tools: Tool[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await Promise.allSettled(tools.map((t) => t.stop()));
      if (env) await stopEnv(env);
      if (!opts.keep) await rm(dir, { recursive: true, force: true });
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
    env = await startEnv(dir, opts);
    log(
      `up: ${env.cluster.info.server} (Kubernetes ${env.serverVersion}), git ${env.git.info.baseUrl}`,
    );
    if (opts.tools.includes('driftless')) {
      tools.push(new DriftlessTool(env, await Fleet.create(env, 'fleet-driftless', 'dl', true)));
    }
    if (opts.tools.includes('flux')) {
      tools.push(new FluxTool(env, await Fleet.create(env, 'fleet-flux', 'fx', false)));
    }
    const rows: Row[] = [];
    let turn = 0;
    for (const apps of opts.apps) {
      for (const t of tools) await t.fleet.commit(apps, `fleet of ${apps} apps`);
      for (const interval of opts.intervals) {
        // Interleaved: who goes first alternates from one phase pair to the next.
        const order = turn++ % 2 === 0 ? tools : [...tools].reverse();
        for (const tool of order) rows.push(await runPhase(env, tool, apps, interval));
      }
    }
    const text = report(env, rows, started);
    console.log(text);
    if (opts.out) await writeFile(opts.out, `${text}\n`);
    if (opts.keep) log(`kept ${dir}`);
  } catch (e) {
    if (env)
      log(
        `logs in ${dir}/logs (and the API server's in ${env.cluster.info.logDir}); kept with --keep`,
      );
    throw e;
  } finally {
    await stop();
  }
}

main().catch((e: unknown) => {
  console.error(`[fleet] failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
