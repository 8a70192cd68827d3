// What a reconcile costs on AWS, measured on the production adapters:
//
//   no-op target check   one tick of the drift sweep on a cluster of N
//                        targets, nothing changed: the tick queues the
//                        cluster's sweep job (sweepTick, SendMessageBatch);
//                        the event source mapping receives it; the worker
//                        runs the cluster's sweep (one Query of its sweep
//                        partition, one ls-refs per repository, one metadata
//                        LIST per kind, the sweep record written) and queues
//                        nothing; the message is deleted. Priced per target:
//                        the tick's cost divided by N.
//   one-object change    a push changes one ConfigMap: the webhook function's
//                        path (HMAC check, Powertools idempotency record,
//                        targetsForRepo, recordWantedRevision, enqueue); the
//                        event source mapping receives it; processJob syncs
//                        (one server-side apply, status, history); delete.
//
// for an app of 30 objects and one of 200 (eight kinds, bench/manifests.ts),
// each warm (median of N runs in this process after a discarded warm-up) and
// cold (the first processJob of a fresh Node process running an esbuild
// bundle: no Git cache, no render cache, no discovery, no connections).
//
// Counted per reconcile: SQS requests (client middleware; the event source
// mapping's receive and delete are billed SQS requests too, modelled as one
// ReceiveMessage and one DeleteMessageBatch per message batch and done here
// with the same client), DynamoDB read and write request units (the
// catalog's and lease manager's capacity callbacks, by item size, because
// moto reports fixed numbers), the worker's duration (wall and CPU time of
// processJob), Kubernetes API and Git HTTP requests. Then the cost per
// million reconciles at list prices, the fixed monthly cost at rest, and the
// comparison with an always-on Argo CD or Flux of their recommended size.
// See bench/README.md, section "Cost per reconcile".
//
//   tsx bench/cost.bench.ts [--sizes 30,200] [--reps 7] [--targets 100] [--memory 1024]
//                           [--arch arm64|x86_64] [--out FILE] [--readme] [--keep]

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { itemSize } from '../lib/aws/dynamo/capacity.js';
import { readNumber } from '../lib/aws/dynamo/items.js';
import {
  ATTR,
  createTableInput,
  targetRecordKey,
  targetStatusKey,
  timeToLiveInput,
} from '../lib/aws/dynamo/schema.js';
import { parseMessage } from '../lib/aws/queue.js';
import { appSelector } from '../lib/diff/index.js';
import {
  checkDelivery,
  routeDelivery,
  type VerifiedDelivery,
  type WebhookRequest,
  type WebhookResponse,
} from '../lib/github/webhook.js';
import type { KubeClient } from '../lib/kube/client.js';
import { kubeClientFromKubeconfig } from '../lib/kube/kubeconfig.js';
import { ApplicationSchema, type Cluster, ClusterSchema } from '../lib/model/application.js';
import type { TargetId } from '../lib/model/target.js';
import type { QueueMessage } from '../lib/ports/queue.js';
import type { ClusterSweepCounters } from '../lib/ports/store.js';
import { sweepTick } from '../lib/sweep/index.js';
import { processMessage } from '../lib/worker.js';
import { TestCluster } from '../scripts/testenv/cluster.js';
import { kubeBinDir } from '../scripts/testenv/env.js';
import type { GitServerInfo } from '../scripts/testenv/gitserver.js';
import { MotoServer } from '../scripts/testenv/moto.js';
import { AT_REST_PRICES_DATE, IDLE_RUN, stackAtRest } from './at-rest.js';
import {
  type AwsTime,
  addSnapshots,
  clientConfig,
  describeOutcome,
  type MeteredPlane,
  type MeterSnapshot,
  meterDynamo,
  meteredPlane,
  type PlaneConfig,
} from './cost-wiring.js';
import type { ColdWorkerInput, ColdWorkerOutput } from './cost-worker.js';
import { git, gitRequests, startGitServer } from './git.js';
import { generateApp, markDeploymentsAvailable } from './manifests.js';

const _exec = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------
// Assumptions: prices and the model that turns this machine's measurements
// into Lambda time. Printed with the tables.

/** Public on-demand list prices, us-east-1, as known in 2025 (check the pricing pages before quoting). */
const PRICES = {
  asOf: 'AWS list prices for us-east-1 as of 2025 (assumed, not fetched)',
  lambdaGbSecond: { x86_64: 0.0000166667, arm64: 0.0000133334 },
  lambdaRequest: 0.2 / 1e6,
  sqsFifoRequest: 0.5 / 1e6,
  sqsStandardRequest: 0.4 / 1e6,
  dynamoWru: 0.625 / 1e6,
  dynamoRru: 0.125 / 1e6,
  schedulerInvocation: 1.0 / 1e6,
  logsIngestGb: 0.5,
  xrayTrace: 5.0 / 1e6,
  secretMonth: 0.4,
  metricMonth: 0.3,
  alarmMonth: 0.1,
  dashboardMonth: 3.0,
  natHour: 0.045,
  natGb: 0.045,
  ec2: {
    'm7g.large': { vcpu: 2, gib: 8, hour: 0.0816 },
    'm6i.large': { vcpu: 2, gib: 8, hour: 0.096 },
  },
  fargateVcpuHour: 0.04048,
  fargateGbHour: 0.004445,
} as const;

const HOURS_PER_MONTH = 730;
const MINUTES_PER_MONTH = 30 * 24 * 60;

/** How this machine's measurements become Lambda-equivalent time (see the README). */
const MODEL = {
  /** Lambda gives one full vCPU at 1769 MB, proportionally less below. */
  fullVcpuMb: 1769,
  /** A DynamoDB request from Lambda in the same region (replaces moto's measured time). */
  dynamoMs: 5,
  /** An SQS request from Lambda in the same region (replaces moto's measured time). */
  sqsMs: 8,
  /** Extra round trip per Kubernetes request to an EKS endpoint in the region (vs loopback). */
  kubeExtraMs: 5,
  /** Extra per Git HTTP request to GitHub from us-east-1 (vs the loopback server). */
  gitExtraMs: 80,
  /** Each commit status call to GitHub's API (a sync reports pending and success). */
  commitStatusMs: 150,
  /** CloudWatch Logs bytes per worker invocation (Powertools line, EMF blob, START/END/REPORT). */
  workerLogBytes: 1500,
  /** CloudWatch Logs bytes per webhook invocation. */
  webhookLogBytes: 1000,
  sweepsPerMonth: MINUTES_PER_MONTH,
};

/** The worker's memory (infra: driftless:workerMemoryMb, default 1024). */
let memoryMb = 1024;
/** arm64 as infra/stack.ts deploys the functions; x86_64 when the kubectl/helm layer is attached. */
let arch: 'x86_64' | 'arm64' = 'arm64';
/** The webhook's and the sweep's memory in infra/stack.ts. */
const WEBHOOK_MB = 512;
const SWEEP_MB = 512;
/** Messages per worker invocation (and per receive, delete and sweep send). */
let batch = 1;
/** Price the reconcile as if the avoidable requests named in the README were gone. */
let fixes = false;
/** Reconcile a batch's targets concurrently in one invocation (a model, see workerBilledMs). */
let concurrent = false;

interface Overrides {
  memoryMb?: number;
  arch?: 'x86_64' | 'arm64';
  gitExtraMs?: number;
  batch?: number;
  fixes?: boolean;
  concurrent?: boolean;
}

/** Runs `fn` with other assumptions (the sensitivity table). */
function under<T>(o: Overrides, fn: () => T): T {
  const saved = { memoryMb, arch, gitExtraMs: MODEL.gitExtraMs, batch, fixes, concurrent };
  memoryMb = o.memoryMb ?? memoryMb;
  arch = o.arch ?? arch;
  MODEL.gitExtraMs = o.gitExtraMs ?? MODEL.gitExtraMs;
  batch = o.batch ?? batch;
  fixes = o.fixes ?? fixes;
  concurrent = o.concurrent ?? concurrent;
  try {
    return fn();
  } finally {
    ({ memoryMb, arch, batch, fixes, concurrent } = saved);
    MODEL.gitExtraMs = saved.gitExtraMs;
  }
}

/** Lambda-equivalent milliseconds of work measured here. */
function lambdaMs(s: {
  wallMs: number;
  cpuMs: number;
  aws: AwsTime;
  kubeRequests: number;
  gitRequests: number;
  commitStatuses: number;
  /** The function's memory (default: the worker's). */
  memory?: number;
}): number {
  const cpuStretch = Math.max(0, MODEL.fullVcpuMb / (s.memory ?? memoryMb) - 1);
  // moto's time out, the services' in-region latency in (requests are sequential).
  const aws =
    s.aws.dynamoRequests * MODEL.dynamoMs +
    s.aws.sqsRequests * MODEL.sqsMs -
    s.aws.dynamoMs -
    s.aws.sqsMs;
  return (
    Math.max(s.cpuMs, s.wallMs + aws) +
    s.cpuMs * cpuStretch +
    s.kubeRequests * MODEL.kubeExtraMs +
    s.gitRequests * MODEL.gitExtraMs +
    s.commitStatuses * MODEL.commitStatusMs
  );
}

function lambdaCost(ms: number, memory = memoryMb): number {
  // Billed per 1 ms, by configured memory.
  return (Math.ceil(ms) / 1000) * (memory / 1024) * PRICES.lambdaGbSecond[arch];
}

// ---------------------------------------------------------------------------
// The environment: moto, a base-profile API server, a Git server, the table
// and queues, the metered production adapters.

interface Env {
  dir: string;
  moto: MotoServer;
  cluster: TestCluster;
  git: { info: GitServerInfo; proc: ChildProcess };
  admin: KubeClient;
  sqsAdmin: SQSClient;
  planeConfig: PlaneConfig;
  plane: MeteredPlane;
  clusterSpec: Cluster;
  workerBundle: string;
  secret: string;
  deliver: (input: VerifiedDelivery) => Promise<WebhookResponse>;
  serverVersion: string;
}

/** The cold worker, bundled as infra/stack.ts bundles the functions (esbuild, ESM, Node 22, minified). */
async function bundleColdWorker(dir: string): Promise<string> {
  const esbuild = await import('esbuild');
  const outfile = path.join(dir, 'cost-worker.mjs');
  await esbuild.build({
    entryPoints: [path.join(here, 'cost-worker.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    mainFields: ['module', 'main'],
    minify: true,
    charset: 'utf8',
    outfile,
    logLevel: 'error',
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
  return outfile;
}

function motoServerBin(): string {
  const bin = process.env.DRIFTLESS_MOTO_SERVER;
  if (!bin) {
    throw new Error(
      'DRIFTLESS_MOTO_SERVER is not set: run bench/run-cost.sh (it installs moto and sets it)',
    );
  }
  return bin;
}

async function startEnv(dir: string): Promise<Env> {
  const binDir = kubeBinDir();
  if (!existsSync(path.join(binDir, '.complete'))) {
    throw new Error(`Kubernetes binaries not built in ${binDir}: run bench/run-cost.sh`);
  }
  const gitRoot = path.join(dir, 'git');
  await mkdir(path.join(dir, 'logs'), { recursive: true });
  await mkdir(gitRoot, { recursive: true });
  const [moto, cluster, gitServer, workerBundle] = await Promise.all([
    MotoServer.start({ serverBin: motoServerBin(), logDir: path.join(dir, 'logs') }),
    TestCluster.start({ dir: path.join(dir, 'cluster'), binDir, profile: 'base' }),
    startGitServer(gitRoot),
    bundleColdWorker(dir),
  ]);
  const aws = moto.info;
  const config = clientConfig(aws);
  const dynamo = new DynamoDBClient(config);
  const sqsAdmin = new SQSClient(config);
  const tableName = 'driftless-cost';
  await dynamo.send(new CreateTableCommand(createTableInput(tableName)));
  await dynamo.send(new UpdateTimeToLiveCommand(timeToLiveInput(tableName)));
  dynamo.destroy();
  const queueUrl = (
    await sqsAdmin.send(
      new CreateQueueCommand({
        QueueName: 'driftless-jobs.fifo',
        Attributes: { FifoQueue: 'true', VisibilityTimeout: '60' },
      }),
    )
  ).QueueUrl as string;
  const delayQueueUrl = (
    await sqsAdmin.send(
      new CreateQueueCommand({
        QueueName: 'driftless-delayed',
        Attributes: { VisibilityTimeout: '60' },
      }),
    )
  ).QueueUrl as string;
  const planeConfig: PlaneConfig = {
    aws,
    tableName,
    queueUrl,
    delayQueueUrl,
    gitCacheDir: path.join(dir, 'git-cache-warm'),
  };
  const plane = meteredPlane(planeConfig);
  const clusterSpec = ClusterSchema.parse({
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name: 'local' },
    spec: { kubeconfig: { path: cluster.info.kubeconfig } },
  });
  await plane.catalog.putCluster(clusterSpec);

  // The webhook function's path (functions/webhook.ts): checkDelivery first
  // (the one HMAC), then the delivery through Powertools idempotency on the
  // same table, keyed by the body's hash.
  const secret = `bench-${randomUUID()}`;
  const idempotencyClient = meterDynamo(new DynamoDBClient(config), plane.meter, 'idempotency:');
  const idempotency = new IdempotencyConfig({
    eventKeyJmesPath: 'bodyHash',
    expiresAfterSeconds: 24 * 3600,
  });
  // As the handler does with its Lambda context (the in-progress record's expiry).
  idempotency.registerLambdaContext({
    getRemainingTimeInMillis: () => 30_000,
  } as unknown as Context);
  const deliver = makeIdempotent(
    async (input: VerifiedDelivery): Promise<WebhookResponse> =>
      routeDelivery(plane.webhookDeps(secret), input),
    {
      persistenceStore: new DynamoDBPersistenceLayer({
        tableName,
        keyAttr: 'pk',
        sortKeyAttr: 'sk',
        staticPkValue: 'IDEMPOTENCY',
        expiryAttr: 'ttl',
        awsSdkV3Client: idempotencyClient,
      }),
      config: idempotency,
    },
  );
  const admin = await kubeClientFromKubeconfig(cluster.info.kubeconfig);
  const server = (await admin.requestJson('GET', '/version')) as { gitVersion: string };
  return {
    dir,
    moto,
    cluster,
    git: gitServer,
    admin,
    sqsAdmin,
    planeConfig,
    plane,
    clusterSpec,
    workerBundle,
    secret,
    deliver,
    serverVersion: server.gitVersion,
  };
}

async function stopEnv(env: Env): Promise<void> {
  env.plane.close();
  env.admin.close();
  env.sqsAdmin.destroy();
  env.git.proc.stdin?.end();
  await Promise.allSettled([
    env.cluster.stop(),
    env.moto.stop(),
    new Promise((r) => {
      if (env.git.proc.exitCode !== null) r(undefined);
      else env.git.proc.once('exit', r);
    }),
  ]);
}

// ---------------------------------------------------------------------------
// The pipeline's stages, each metered on its own.

interface Stage {
  meter: MeterSnapshot;
  wallMs: number;
  cpuMs: number;
}

async function metered<T>(env: Env, fn: () => Promise<T>): Promise<{ value: T; stage: Stage }> {
  env.plane.meter.reset();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    value,
    stage: { meter: env.plane.meter.snapshot(), wallMs, cpuMs: (cpu.user + cpu.system) / 1000 },
  };
}

/** The event source mapping's poll: one ReceiveMessage; exactly one job is expected. */
async function receiveJob(env: Env) {
  return metered(env, async () => {
    const res = await env.plane.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: env.planeConfig.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    const messages = res.Messages ?? [];
    if (messages.length !== 1) throw new Error(`expected one queued job, got ${messages.length}`);
    const m = messages[0] as NonNullable<typeof res.Messages>[number];
    return {
      job: parseMessage(m.Body as string),
      receipt: m.ReceiptHandle as string,
      attempt: Number(m.Attributes?.ApproximateReceiveCount ?? '1'),
    };
  });
}

/** The event source mapping deletes what the function processed: one DeleteMessageBatch. */
async function deleteJob(env: Env, receipt: string) {
  return metered(env, async () => {
    const out = await env.plane.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: env.planeConfig.queueUrl,
        Entries: [{ Id: '0', ReceiptHandle: receipt }],
      }),
    );
    if (out.Failed?.length) throw new Error(`delete failed: ${JSON.stringify(out.Failed)}`);
  });
}

interface WorkerRun {
  stage: Stage;
  /** A cluster's sweep: what it found. */
  swept?: ClusterSweepCounters;
  kube: { total: number; byVerb: Record<string, number> };
  outcome: string;
  sync?: string;
  health?: string;
  phase?: string;
  initMs?: number;
}

const WAIT_BUDGET_MS = 20_000; // DRIFTLESS_WAIT_BUDGET_MS's default

/** processMessage in this (warm) process. */
async function warmWorker(
  env: Env,
  job: QueueMessage,
  attempt: number,
  waitBudgetMs = WAIT_BUDGET_MS,
): Promise<WorkerRun> {
  const client = await env.plane.kubeClient(env.clusterSpec);
  client.resetStats();
  const { value: outcome, stage } = await metered(env, () =>
    processMessage(env.plane.workerDeps, job, attempt, { waitBudgetMs }),
  );
  const status = outcome.kind === 'done' ? outcome.status : undefined;
  return {
    stage,
    ...(outcome.kind === 'swept' && outcome.result.record
      ? { swept: outcome.result.record.counters }
      : {}),
    kube: { total: client.stats.total, byVerb: { ...client.stats.byVerb } },
    outcome: outcome.kind === 'done' ? 'done' : describeOutcome(outcome),
    sync: status?.sync,
    health: status?.health,
    phase: status?.operation?.phase,
  };
}

/** processMessage as the first message of a fresh process (bench/cost-worker.ts, bundled). */
async function coldWorker(env: Env, job: QueueMessage, attempt: number): Promise<WorkerRun> {
  const input: ColdWorkerInput = {
    plane: {
      ...env.planeConfig,
      gitCacheDir: await mkdtemp(path.join(env.dir, 'git-cache-cold-')),
    },
    cluster: env.clusterSpec,
    job,
    attempt,
    waitBudgetMs: WAIT_BUDGET_MS,
  };
  const child = spawn(process.execPath, [env.workerBundle], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  child.stdin.end(JSON.stringify(input));
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`the cold worker exited with ${code}`);
  const out = JSON.parse(stdout.trim().split('\n').at(-1) as string) as ColdWorkerOutput;
  return {
    stage: { meter: out.meter, wallMs: out.ms, cpuMs: out.cpuMs },
    ...(out.swept ? { swept: out.swept } : {}),
    kube: out.kube,
    outcome: out.outcome.startsWith('done') ? 'done' : out.outcome,
    sync: out.sync,
    health: out.health,
    phase: out.outcome.replace(/^done ?/, '') || undefined,
    initMs: out.initMs,
  };
}

// ---------------------------------------------------------------------------
// One app: repository, registration, initial sync, settle.

interface AppUnderTest {
  name: string;
  objects: number;
  target: TargetId;
  repoURL: string;
  work: string;
  files: Record<string, string>;
  changes: number;
}

/** A bare repository `name` on the Git server and a work tree pushing to it; returns the work tree. */
async function createRepo(env: Env, name: string): Promise<string> {
  const bare = path.join(env.git.info.root, `${name}.git`);
  await mkdir(bare, { recursive: true });
  await git(bare, 'init', '--bare', '--initial-branch=main', '--quiet');
  const work = path.join(env.dir, 'work', name);
  await mkdir(work, { recursive: true });
  await git(work, 'init', '--initial-branch=main', '--quiet');
  await git(work, 'remote', 'add', 'origin', bare);
  return work;
}

async function createApp(env: Env, objects: number): Promise<AppUnderTest> {
  const name = `cost-${objects}`;
  const app = generateApp(objects, name, name);
  const work = await createRepo(env, name);
  for (const [file, text] of Object.entries(app.files))
    await writeFile(path.join(work, file), text);
  await git(work, 'add', '--all');
  await git(work, 'commit', '--quiet', '-m', `${name}: ${objects} objects`);
  await git(work, 'push', '--quiet', 'origin', 'HEAD:refs/heads/main');
  const repoURL = `${env.git.info.baseUrl}/${name}.git`;
  await env.plane.catalog.putApplication(
    ApplicationSchema.parse({
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name },
      spec: {
        source: { repoURL, revision: 'main', path: '.' },
        destinations: [{ cluster: 'local', namespace: name }],
        syncPolicy: { automated: true, prune: true, selfHeal: true },
      },
    }),
  );
  return {
    name,
    objects,
    target: { app: name, cluster: 'local' },
    repoURL,
    work,
    files: app.files,
    changes: 0,
  };
}

/** The other targets on the app's cluster: apps of the same size in one repository of their own. */
interface Siblings {
  repo: string;
  names: string[];
}

/** Registers and syncs `count` apps of `objects` objects (paths of one repository) beside the app. */
async function createSiblings(env: Env, objects: number, count: number): Promise<Siblings> {
  const repo = `cost-${objects}-fleet`;
  const work = await createRepo(env, repo);
  const names = Array.from({ length: count }, (_, i) => `cost-${objects}-s${i}`);
  for (const [i, name] of names.entries()) {
    const dir = path.join(work, `s${i}`);
    await mkdir(dir, { recursive: true });
    for (const [file, text] of Object.entries(generateApp(objects, name, name).files)) {
      await writeFile(path.join(dir, file), text);
    }
  }
  await git(work, 'add', '--all');
  await git(work, 'commit', '--quiet', '-m', `${count} apps of ${objects} objects`);
  await git(work, 'push', '--quiet', 'origin', 'HEAD:refs/heads/main');
  const repoURL = `${env.git.info.baseUrl}/${repo}.git`;
  for (const [i, name] of names.entries()) {
    await env.plane.catalog.putApplication(
      ApplicationSchema.parse({
        apiVersion: 'driftless.dev/v1',
        kind: 'Application',
        metadata: { name },
        spec: {
          source: { repoURL, revision: 'main', path: `s${i}` },
          destinations: [{ cluster: 'local', namespace: name }],
          syncPolicy: { automated: true, prune: true, selfHeal: true },
        },
      }),
    );
    const target = { app: name, cluster: 'local' };
    const first = await warmWorker(
      env,
      { ...target, trigger: 'local', enqueuedAt: new Date().toISOString() },
      1,
      0,
    );
    if (first.outcome !== 'done') throw new Error(`initial sync of ${name}: ${first.outcome}`);
    await markDeploymentsAvailable(env.admin, name);
    const settled = await warmWorker(
      env,
      { ...target, trigger: 'health-check', enqueuedAt: new Date().toISOString() },
      1,
    );
    if (settled.sync !== 'Synced' || settled.health !== 'Healthy') {
      throw new Error(
        `${name} did not settle: ${settled.outcome} ${settled.sync} ${settled.health}`,
      );
    }
  }
  return { repo, names };
}

/** A push that changes one ConfigMap (svc-000-config's LOG_LEVEL). */
async function pushChange(app: AppUnderTest): Promise<string> {
  app.changes++;
  const file = Object.keys(app.files).find((f) => f.includes('-config-')) as string;
  const text = (await readFile(path.join(app.work, file), 'utf8')).replace(
    /LOG_LEVEL: .*/,
    `LOG_LEVEL: debug-${app.changes}`,
  );
  await writeFile(path.join(app.work, file), text);
  await git(app.work, 'commit', '--quiet', '-am', `change ${app.changes}`);
  await git(app.work, 'push', '--quiet', 'origin', 'HEAD:refs/heads/main');
  return git(app.work, 'rev-parse', 'HEAD');
}

function pushDelivery(env: Env, app: AppUnderTest, commit: string) {
  const body = JSON.stringify({
    ref: 'refs/heads/main',
    before: '0'.repeat(40),
    after: commit,
    created: false,
    deleted: false,
    forced: false,
    repository: {
      full_name: `bench/${app.name}`,
      clone_url: app.repoURL,
      html_url: app.repoURL.replace(/\.git$/, ''),
      default_branch: 'main',
    },
    pusher: { name: 'dev', email: 'dev@example.com' },
    commits: [],
  });
  const deliveryId = randomUUID();
  const request: WebhookRequest = {
    headers: {
      'x-github-event': 'push',
      'x-github-delivery': deliveryId,
      'x-hub-signature-256': `sha256=${createHmac('sha256', env.secret).update(body).digest('hex')}`,
      'user-agent': 'GitHub-Hookshot/bench',
      'content-type': 'application/json',
    },
    body,
  };
  return { deliveryId, request };
}

/** The webhook function's work for one delivery (functions/webhook.ts). */
async function webhookStage(env: Env, app: AppUnderTest, commit: string) {
  const delivery = pushDelivery(env, app, commit);
  const { value: res, stage } = await metered(env, async () => {
    const checked = await checkDelivery(delivery.request, async () => [env.secret]);
    if ('rejected' in checked) throw new Error(`webhook rejected: ${checked.rejected.status}`);
    return env.deliver(checked.verified);
  });
  const targets = (res.body.targets as unknown[] | undefined)?.length ?? 0;
  if (res.status !== 202 || targets !== 1) {
    throw new Error(`webhook answered ${res.status} with ${targets} targets`);
  }
  return stage;
}

/** Initial sync through the webhook path, then the rollouts marked complete and the health check run. */
async function initialSync(env: Env, app: AppUnderTest): Promise<void> {
  const head = await git(app.work, 'rev-parse', 'HEAD');
  await webhookStage(env, app, head);
  const { value: got } = await receiveJob(env);
  const first = await warmWorker(env, got.job, got.attempt, 0);
  await deleteJob(env, got.receipt);
  if (first.outcome !== 'done') throw new Error(`initial sync of ${app.name}: ${first.outcome}`);
  await markDeploymentsAvailable(env.admin, app.name);
  const settled = await warmWorker(
    env,
    { ...app.target, trigger: 'health-check', enqueuedAt: new Date().toISOString() },
    1,
  );
  if (settled.phase !== 'Succeeded' || settled.sync !== 'Synced' || settled.health !== 'Healthy') {
    throw new Error(
      `${app.name} did not settle: ${settled.outcome} ${settled.phase} ${settled.sync} ${settled.health}`,
    );
  }
  // The health check the first sync queued (on the delayed queue) was just run
  // above; the benchmark never reads that queue, so it stays out of the counts.
}

// ---------------------------------------------------------------------------
// The two scenarios. Each sample is one reconcile, its stages metered apart.

interface Sample {
  /** Targets the sample's figures are shared by: a cluster's sweep checks them all (1 for a change). */
  targets: number;
  /** Per-reconcile stages: the trigger (sweep tick or webhook), receive, worker, delete. */
  trigger: Stage;
  receive: Stage;
  worker: WorkerRun;
  remove: Stage;
  gitRequests: number;
  commitStatuses: number;
}

/** The sweep's ticks: a minute apart, ahead of the real clock, so each tick is a new one. */
let tickClock = Date.now();

/** One sweep tick of the cluster holding `app` and its siblings, nothing changed. */
async function noopCheck(
  env: Env,
  app: AppUnderTest,
  siblings: Siblings,
  cold: boolean,
): Promise<Sample> {
  tickClock += 60_000;
  const now = tickClock;
  const { value: ticked, stage: trigger } = await metered(env, () =>
    sweepTick({ catalog: env.plane.catalog, queue: env.plane.queue, clock: { now: () => now } }),
  );
  if (ticked.clusters.length !== 1) {
    throw new Error(`the tick queued ${ticked.clusters.length} cluster sweeps, expected 1`);
  }
  // Listing the clusters is per tick, not per cluster or target: priced as fixed cost.
  delete trigger.meter.dynamo.listClusters;
  const { value: got, stage: receive } = await receiveJob(env);
  const repos = [app.name, siblings.repo];
  const gitNow = async () =>
    (await Promise.all(repos.map((r) => gitRequests(env.git.info.baseUrl, r)))).reduce(
      (a, b) => a + b,
      0,
    );
  const git0 = await gitNow();
  const worker = cold
    ? await coldWorker(env, got.job, got.attempt)
    : await warmWorker(env, got.job, got.attempt);
  const gitCount = (await gitNow()) - git0;
  const { stage: remove } = await deleteJob(env, got.receipt);
  const targets = 1 + siblings.names.length;
  if (
    worker.outcome !== 'swept' ||
    worker.swept?.enqueued !== 0 ||
    worker.swept.due !== targets ||
    worker.kube.byVerb.apply
  ) {
    throw new Error(
      `the sweep of ${targets} unchanged targets was not a no-op: ${worker.outcome} ${JSON.stringify(worker.swept)} ${JSON.stringify(worker.kube.byVerb)}`,
    );
  }
  return { targets, trigger, receive, worker, remove, gitRequests: gitCount, commitStatuses: 0 };
}

async function changeReconcile(env: Env, app: AppUnderTest, cold: boolean): Promise<Sample> {
  const commit = await pushChange(app);
  const trigger = await webhookStage(env, app, commit);
  const { value: got, stage: receive } = await receiveJob(env);
  const git0 = await gitRequests(env.git.info.baseUrl, app.name);
  const worker = cold
    ? await coldWorker(env, got.job, got.attempt)
    : await warmWorker(env, got.job, got.attempt);
  const gitCount = (await gitRequests(env.git.info.baseUrl, app.name)) - git0;
  const { stage: remove } = await deleteJob(env, got.receipt);
  if (worker.outcome !== 'done' || worker.phase !== 'Succeeded' || worker.kube.byVerb.apply !== 1) {
    throw new Error(
      `change reconcile of ${app.name}: ${worker.outcome} ${worker.phase} ${JSON.stringify(worker.kube.byVerb)}`,
    );
  }
  // A sync reports pending and success to GitHub (silent here, timed by MODEL).
  return {
    targets: 1,
    trigger,
    receive,
    worker,
    remove,
    gitRequests: gitCount,
    commitStatuses: 2,
  };
}

/** Bytes of the drift check's LIST responses (uncompressed JSON, as the client asks for it). */
async function listBytes(env: Env, app: AppUnderTest): Promise<number> {
  const selector = encodeURIComponent(appSelector(app.name));
  const ns = app.name;
  const collections = [
    '/api/v1/namespaces',
    `/api/v1/namespaces/${ns}/configmaps`,
    `/api/v1/namespaces/${ns}/secrets`,
    `/api/v1/namespaces/${ns}/serviceaccounts`,
    `/api/v1/namespaces/${ns}/services`,
    `/apis/apps/v1/namespaces/${ns}/deployments`,
    `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`,
    `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`,
    `/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`,
  ];
  let bytes = 0;
  for (const c of collections) {
    const list = await env.admin.requestJson('GET', `${c}?labelSelector=${selector}`);
    bytes += Buffer.byteLength(JSON.stringify(list), 'utf8');
  }
  return bytes;
}

interface SizeResult {
  objects: number;
  reps: number;
  noop: { warm: Sample[]; cold: Sample };
  /** The tick of the cluster with the app alone (warm): with `noop`, what one more target adds. */
  single: Sample[];
  change: { warm: Sample[]; cold: Sample };
  listBytes: number;
  items: ItemSizes;
}

interface ItemSizes {
  /** The target record (lease, schedule, status bookkeeping): what UpdateItem on it is billed by. */
  record: number;
  /** The status item (gzip blob + attributes). */
  status: number;
  /** The status JSON before compression. */
  statusJson: number;
}

async function itemSizes(env: Env, app: AppUnderTest): Promise<ItemSizes> {
  const get = async (Key: ReturnType<typeof targetRecordKey>) =>
    (
      await env.plane.dynamo.send(
        new GetItemCommand({ TableName: env.planeConfig.tableName, Key, ConsistentRead: true }),
      )
    ).Item ?? {};
  const record = await get(targetRecordKey(app.target));
  const status = await get(targetStatusKey(app.target));
  return {
    record: itemSize(record),
    status: itemSize(status),
    statusJson: readNumber(status, ATTR.bytes) ?? 0,
  };
}

function log(msg: string) {
  process.stderr.write(`[cost] ${msg}\n`);
}

async function measureSize(
  env: Env,
  objects: number,
  reps: number,
  targets: number,
): Promise<SizeResult> {
  const app = await createApp(env, objects);
  await initialSync(env, app);
  const alone: Siblings = { repo: app.name, names: [] };
  await noopCheck(env, app, alone, false); // warm-up, discarded
  const single: Sample[] = [];
  for (let r = 0; r < reps; r++) single.push(await noopCheck(env, app, alone, false));
  const siblings = await createSiblings(env, objects, targets - 1);
  log(`${objects} objects: ${targets} apps synced and settled`);

  const coldNoop = await noopCheck(env, app, siblings, true);
  await noopCheck(env, app, siblings, false); // warm-up, discarded
  const warmNoop: Sample[] = [];
  for (let r = 0; r < reps; r++) warmNoop.push(await noopCheck(env, app, siblings, false));
  log(
    `${objects} objects, sweep of ${targets} unchanged targets: cold ${fmtMs(coldNoop.worker.stage.wallMs)}, warm ${fmtMs(median(warmNoop.map((s) => s.worker.stage.wallMs)))}`,
  );

  const coldChange = await changeReconcile(env, app, true);
  await changeReconcile(env, app, false); // warm-up, discarded
  const warmChange: Sample[] = [];
  for (let r = 0; r < reps; r++) warmChange.push(await changeReconcile(env, app, false));
  log(
    `${objects} objects, one-object change: cold ${fmtMs(coldChange.worker.stage.wallMs)}, warm ${fmtMs(median(warmChange.map((s) => s.worker.stage.wallMs)))}`,
  );
  const bytes = await listBytes(env, app);
  const items = await itemSizes(env, app);
  // Off the cluster's sweep, so the next size's ticks find only their own targets.
  await env.plane.catalog.deleteApplication(app.name);
  for (const name of siblings.names) await env.plane.catalog.deleteApplication(name);
  return {
    objects,
    reps,
    noop: { warm: warmNoop, cold: coldNoop },
    single,
    change: { warm: warmChange, cold: coldChange },
    listBytes: bytes,
    items,
  };
}

/** One tick of the sweep function (listing the clusters, one message each): what the schedule costs at rest. */
async function emptySweep(env: Env): Promise<Stage> {
  tickClock += 60_000;
  const now = tickClock;
  const { stage } = await metered(env, () =>
    sweepTick({ catalog: env.plane.catalog, queue: env.plane.queue, clock: { now: () => now } }),
  );
  // The cluster sweep it queued is not run here: drop it.
  const { value: got } = await receiveJob(env);
  await deleteJob(env, got.receipt);
  return stage;
}

// ---------------------------------------------------------------------------
// Arithmetic.

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

function usd(x: number): string {
  if (x === 0) return '$0';
  if (x >= 100) return `$${x.toFixed(0)}`;
  if (x >= 1) return `$${x.toFixed(2)}`;
  if (x >= 0.01) return `$${x.toFixed(3)}`;
  return `$${x.toPrecision(2)}`;
}

function num(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

function big(x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toFixed(1)} billion`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(1)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(0)} k`;
  return x.toFixed(0);
}

interface Totals {
  /** Targets the figures are shared by (a cluster's sweep: all its targets). */
  targets: number;
  sqs: number;
  /** SQS requests that batching divides: receive, delete, and the sweep's send. */
  sqsBatchable: number;
  rru: number;
  wru: number;
  dynamoRequests: number;
  workerWallMs: number;
  workerCpuMs: number;
  workerLambdaMs: number;
  webhookWallMs: number;
  webhookLambdaMs: number;
  kube: number;
  git: number;
  initMs?: number;
}

function sampleMeter(s: Sample): MeterSnapshot {
  return [s.trigger.meter, s.receive.meter, s.worker.stage.meter, s.remove.meter].reduce(
    addSnapshots,
    { dynamo: {}, sqs: {}, time: { dynamoRequests: 0, dynamoMs: 0, sqsRequests: 0, sqsMs: 0 } },
  );
}

function totalsOf(s: Sample, webhook: boolean): Totals {
  const m = sampleMeter(s);
  const dyn = Object.values(m.dynamo);
  const workerLambdaMs = lambdaMs({
    wallMs: s.worker.stage.wallMs,
    cpuMs: s.worker.stage.cpuMs,
    aws: s.worker.stage.meter.time,
    kubeRequests: s.worker.kube.total,
    gitRequests: s.gitRequests,
    commitStatuses: s.commitStatuses,
  });
  const webhookLambdaMs = webhook
    ? lambdaMs({
        wallMs: s.trigger.wallMs,
        cpuMs: s.trigger.cpuMs,
        aws: s.trigger.meter.time,
        kubeRequests: 0,
        gitRequests: 0,
        commitStatuses: 1, // the webhook reports `pending` too
        memory: WEBHOOK_MB,
      })
    : 0;
  const billed = (snap: MeterSnapshot) => Object.values(snap.sqs).reduce((n, c) => n + c.billed, 0);
  let rru = dyn.reduce((n, c) => n + c.rru, 0);
  let wru = dyn.reduce((n, c) => n + c.wru, 0);
  if (fixes && webhook) {
    // The second getApplication and getTargetStatus of processJob + reconcile.
    const perCall = (op: string) => {
      const c = s.worker.stage.meter.dynamo[op];
      return c ? c.rru / c.requests : 0;
    };
    rru -= perCall('getApplication') + perCall('getTargetStatus');
    // No fast-path attempt before a changed status (1).
    wru -= 1;
  }
  return {
    targets: s.targets,
    sqs: billed(m),
    sqsBatchable:
      billed(s.receive.meter) + billed(s.remove.meter) + (webhook ? 0 : billed(s.trigger.meter)),
    rru,
    wru,
    dynamoRequests: dyn.reduce((n, c) => n + c.requests, 0),
    workerWallMs: s.worker.stage.wallMs,
    workerCpuMs: s.worker.stage.cpuMs,
    workerLambdaMs,
    webhookWallMs: webhook ? s.trigger.wallMs : 0,
    webhookLambdaMs,
    kube: s.worker.kube.total,
    git: s.gitRequests,
    initMs: s.worker.initMs,
  };
}

/** Medians of each field over the samples (the counts are the same run to run). */
function medianTotals(samples: Sample[], webhook: boolean): Totals {
  const all = samples.map((s) => totalsOf(s, webhook));
  const m = (k: keyof Totals) => median(all.map((t) => t[k] ?? 0));
  return {
    targets: m('targets'),
    sqs: m('sqs'),
    sqsBatchable: m('sqsBatchable'),
    rru: m('rru'),
    wru: m('wru'),
    dynamoRequests: m('dynamoRequests'),
    workerWallMs: m('workerWallMs'),
    workerCpuMs: m('workerCpuMs'),
    workerLambdaMs: m('workerLambdaMs'),
    webhookWallMs: m('webhookWallMs'),
    webhookLambdaMs: m('webhookLambdaMs'),
    kube: m('kube'),
    git: m('git'),
  };
}

interface CostLine {
  lambdaRequests: number;
  lambdaDuration: number;
  sqs: number;
  dynamoReads: number;
  dynamoWrites: number;
  logs: number;
  total: number;
  xray: number;
}

/**
 * Billed worker time per reconcile. Concurrently reconciled targets share the
 * invocation's waiting: each costs its CPU time at Lambda's CPU share, or its
 * share of the batch's wall time if that is longer.
 */
function workerBilledMs(t: Totals): number {
  if (!concurrent || batch <= 1) return t.workerLambdaMs;
  const cpuAtShare = t.workerCpuMs * Math.max(1, MODEL.fullVcpuMb / memoryMb);
  return Math.max(cpuAtShare, t.workerLambdaMs / batch);
}

/** Dollars per reconcile (a change) or per target check (a sweep's share). */
function costOf(t: Totals, webhook: boolean): CostLine {
  const tick = tickCostOf(t, webhook);
  const per = (x: number) => x / t.targets;
  return {
    lambdaRequests: per(tick.lambdaRequests),
    lambdaDuration: per(tick.lambdaDuration),
    sqs: per(tick.sqs),
    dynamoReads: per(tick.dynamoReads),
    dynamoWrites: per(tick.dynamoWrites),
    logs: per(tick.logs),
    total: per(tick.total),
    xray: per(tick.xray),
  };
}

/** Dollars per worker invocation's work: one reconcile, or one cluster's sweep. */
function tickCostOf(t: Totals, webhook: boolean): CostLine {
  // The worker's invocation is shared by a batch; the webhook's is one per push.
  const invocations = 1 / batch + (webhook ? 1 : 0);
  const line = {
    lambdaRequests: invocations * PRICES.lambdaRequest,
    lambdaDuration:
      lambdaCost(workerBilledMs(t)) + (webhook ? lambdaCost(t.webhookLambdaMs, WEBHOOK_MB) : 0),
    sqs: (t.sqs - t.sqsBatchable + t.sqsBatchable / batch) * PRICES.sqsFifoRequest,
    dynamoReads: t.rru * PRICES.dynamoRru,
    dynamoWrites: t.wru * PRICES.dynamoWru,
    logs:
      ((MODEL.workerLogBytes + (webhook ? MODEL.webhookLogBytes : 0)) / 2 ** 30) *
      PRICES.logsIngestGb,
  };
  const total = Object.values(line).reduce((a, b) => a + b, 0);
  return { ...line, total, xray: invocations * PRICES.xrayTrace };
}

/** The example fleet: apps × clusters, a drift check every minute (the default), pushes per app a month. */
const FLEET = {
  apps: 100,
  clusters: 3,
  checksPerTargetMonth: 30 * 24 * 60,
  pushesPerAppMonth: 2 * 22,
};
const FLEET_NOOPS = FLEET.apps * FLEET.clusters * FLEET.checksPerTargetMonth;
const FLEET_CHANGES = FLEET.apps * FLEET.clusters * FLEET.pushesPerAppMonth;

function warmCost(r: SizeResult, scenario: 'noop' | 'change'): { totals: Totals; cost: CostLine } {
  const webhook = scenario === 'change';
  const totals = medianTotals(r[scenario].warm, webhook);
  return { totals, cost: costOf(totals, webhook) };
}

/** How the answer moves with the assumptions that matter most. */
function sensitivity(results: SizeResult[], fixedTotal: number): string[] {
  const small = results[0] as SizeResult;
  const large = results.at(-1) as SizeResult;
  const rows: [string, Overrides][] = [
    [
      `as priced above (${arch}, ${memoryMb} MB, GitHub +${MODEL.gitExtraMs} ms per Git request, batches of 1)`,
      {},
    ],
    ['x86_64 (the stack’s choice when the kubectl/helm layer is attached)', { arch: 'x86_64' }],
    ['512 MB', { memoryMb: 512 }],
    ['1769 MB (one full vCPU)', { memoryMb: 1769 }],
    ['Git requests as fast as loopback (GitHub +0 ms)', { gitExtraMs: 0 }],
    ['GitHub +200 ms per Git request', { gitExtraMs: 200 }],
    ['batches of 10 messages per invocation', { batch: 10 }],
    [
      'batches of 10, different targets reconciled concurrently (model)',
      { batch: 10, concurrent: true },
    ],
    ['without the avoidable DynamoDB requests of a change (README, Reading it)', { fixes: true }],
    [
      'concurrent batches of 10 + without the avoidable requests',
      { batch: 10, concurrent: true, fixes: true },
    ],
  ];
  const out: string[] = [];
  out.push(
    `| assumption | no-op ${small.objects} obj: Lambda-eq. | no-op ${small.objects} obj per 1 M | no-op ${large.objects} obj per 1 M | change ${small.objects} obj per 1 M | 100 apps × 3 clusters (${small.objects} obj) per month |`,
  );
  out.push('|---|---:|---:|---:|---:|---:|');
  for (const [label, o] of rows) {
    under(o, () => {
      const noop = warmCost(small, 'noop');
      const noopLarge = warmCost(large, 'noop');
      const change = warmCost(small, 'change');
      const fleet = fixedTotal + FLEET_NOOPS * noop.cost.total + FLEET_CHANGES * change.cost.total;
      out.push(
        `| ${label} | ${fmtMs(noop.totals.workerLambdaMs)} | ${usd(noop.cost.total * 1e6)} | ${usd(noopLarge.cost.total * 1e6)} | ` +
          `${usd(change.cost.total * 1e6)} | ${usd(fleet)} |`,
      );
    });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Always-on controllers: what their recommended resource requests occupy.

interface ControllerSpec {
  name: string;
  note: string;
  pods: { name: string; replicas: number; cpuM: number; memMi: number }[];
}

const CONTROLLERS: ControllerSpec[] = [
  {
    name: 'Flux (default install)',
    note: 'source, kustomize, helm, notification controllers; requests from each controller’s config/manager/deployment.yaml (limits 1 CPU / 1 GiB each)',
    pods: [
      { name: 'source-controller', replicas: 1, cpuM: 50, memMi: 64 },
      { name: 'kustomize-controller', replicas: 1, cpuM: 100, memMi: 64 },
      { name: 'helm-controller', replicas: 1, cpuM: 100, memMi: 64 },
      { name: 'notification-controller', replicas: 1, cpuM: 100, memMi: 64 },
    ],
  },
  {
    name: 'Argo CD (non-HA)',
    note: 'install.yaml sets no requests; these are the argo-helm chart’s suggested requests (values.yaml comments, chart 10.x)',
    pods: [
      { name: 'application-controller', replicas: 1, cpuM: 250, memMi: 256 },
      { name: 'repo-server', replicas: 1, cpuM: 10, memMi: 64 },
      { name: 'server', replicas: 1, cpuM: 50, memMi: 64 },
      { name: 'redis', replicas: 1, cpuM: 100, memMi: 64 },
      { name: 'applicationset-controller', replicas: 1, cpuM: 100, memMi: 128 },
      { name: 'notifications-controller', replicas: 1, cpuM: 100, memMi: 128 },
      { name: 'dex-server', replicas: 1, cpuM: 10, memMi: 32 },
    ],
  },
  {
    name: 'Argo CD (HA)',
    note: 'the chart’s HA example (server, repo-server, applicationset ×2; redis-ha: 3 redis + 3 haproxy, priced like the chart’s redis, 100m/64Mi each)',
    pods: [
      { name: 'application-controller', replicas: 1, cpuM: 250, memMi: 256 },
      { name: 'repo-server', replicas: 2, cpuM: 10, memMi: 64 },
      { name: 'server', replicas: 2, cpuM: 50, memMi: 64 },
      { name: 'redis-ha server', replicas: 3, cpuM: 100, memMi: 64 },
      { name: 'redis-ha haproxy', replicas: 3, cpuM: 100, memMi: 64 },
      { name: 'applicationset-controller', replicas: 2, cpuM: 100, memMi: 128 },
      { name: 'notifications-controller', replicas: 1, cpuM: 100, memMi: 128 },
      { name: 'dex-server', replicas: 1, cpuM: 10, memMi: 32 },
    ],
  },
];

interface ControllerCost {
  spec: ControllerSpec;
  pods: number;
  cpuM: number;
  memMi: number;
  node: Record<string, number>;
  fargate: number;
}

/** Fargate rounds each pod up to a size it offers, after adding 256 MB for its agents. */
function fargatePodHour(cpuM: number, memMi: number): number {
  const sizes: [number, number[]][] = [
    [0.25, [0.5, 1, 2]],
    [0.5, [1, 2, 3, 4]],
    [1, [2, 3, 4, 5, 6, 7, 8]],
    [2, [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]],
  ];
  const gb = (memMi + 256) / 1024;
  for (const [vcpu, mems] of sizes) {
    if (vcpu * 1000 < cpuM) continue;
    const mem = mems.find((m) => m >= gb);
    if (mem !== undefined) return vcpu * PRICES.fargateVcpuHour + mem * PRICES.fargateGbHour;
  }
  throw new Error(`no Fargate size for ${cpuM}m / ${memMi}Mi`);
}

function controllerCost(spec: ControllerSpec): ControllerCost {
  const cpuM = spec.pods.reduce((n, p) => n + p.replicas * p.cpuM, 0);
  const memMi = spec.pods.reduce((n, p) => n + p.replicas * p.memMi, 0);
  const node: Record<string, number> = {};
  for (const [type, t] of Object.entries(PRICES.ec2)) {
    // The requests reserve the larger of their CPU and memory share of the node.
    const share = Math.max(cpuM / 1000 / t.vcpu, memMi / 1024 / t.gib);
    node[type] = share * t.hour * HOURS_PER_MONTH;
  }
  const fargate =
    spec.pods.reduce((n, p) => n + p.replicas * fargatePodHour(p.cpuM, p.memMi), 0) *
    HOURS_PER_MONTH;
  return {
    spec,
    pods: spec.pods.reduce((n, p) => n + p.replicas, 0),
    cpuM,
    memMi,
    node,
    fargate,
  };
}

// ---------------------------------------------------------------------------
// Report.

interface FixedCost {
  item: string;
  monthly: number;
  how: string;
}

/**
 * The stack at rest (bench/at-rest.ts): the default stack's CloudFormation
 * template priced item by item, with this run's empty sweep as the idle run.
 */
function fixedCosts(sweepStage: Stage): FixedCost[] {
  const sweepRru = Object.values(sweepStage.meter.dynamo).reduce((n, c) => n + c.rru, 0);
  const sweepMs = lambdaMs({
    wallMs: sweepStage.wallMs,
    cpuMs: sweepStage.cpuMs,
    aws: sweepStage.meter.time,
    kubeRequests: 0,
    gitRequests: 0,
    commitStatuses: 0,
    memory: SWEEP_MB,
  });
  return stackAtRest({}, { ...IDLE_RUN, ms: Math.ceil(sweepMs), rru: sweepRru }).lines;
}

function motoLatency(results: SizeResult[]): number {
  const times = results.flatMap((r) => r.noop.warm.map((s) => s.worker.stage.meter.time));
  const ms = times.reduce((n, t) => n + t.dynamoMs, 0);
  const requests = times.reduce((n, t) => n + t.dynamoRequests, 0);
  return requests ? ms / requests : 0;
}

function report(
  env: Env,
  results: SizeResult[],
  sweepStage: Stage,
  started: number,
  load: [number, number],
): string {
  const lines: string[] = [];
  const out = (s = '') => lines.push(s);
  const cpus = os.cpus();
  out(
    `Machine: ${os.availableParallelism()} CPUs (${cpus[0]?.model.trim() ?? '?'}), ` +
      `${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}; Node ${process.version}; ` +
      `Kubernetes ${env.serverVersion} (scripts/testenv profile base), moto (scripts/lib.sh pin), git http-backend; all on loopback`,
  );
  out();
  out(
    `Load average (1 min) ${load[0].toFixed(1)}→${load[1].toFixed(1)}; total ${((performance.now() - started) / 1000).toFixed(0)} s; ` +
      `warm = median of ${results[0]?.reps ?? 0} runs after a discarded warm-up; cold = first processJob of a fresh process`,
  );
  out();

  // 1. What one reconcile uses.
  out('**Per reconcile, measured**');
  out();
  out(
    '| scenario | objects | SQS requests | DynamoDB RRU | DynamoDB WRU | DynamoDB requests | worker wall time | worker CPU | Lambda-equivalent | webhook wall / Lambda-eq. | K8s API requests | Git HTTP requests |',
  );
  out('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const rows: [string, Sample[], boolean, boolean][] = [
      [`no-op tick of ${r.noop.cold.targets} targets, warm`, r.noop.warm, false, false],
      [`no-op tick of ${r.noop.cold.targets} targets, cold`, [r.noop.cold], false, true],
      ['one-object change, warm', r.change.warm, true, false],
      ['one-object change, cold', [r.change.cold], true, true],
    ];
    for (const [name, samples, webhook, cold] of rows) {
      const t = medianTotals(samples, webhook);
      const walls = samples.map((s) => s.worker.stage.wallMs);
      const wall = cold
        ? `${fmtMs(t.workerWallMs)} (+ init ${fmtMs(samples[0]?.worker.initMs ?? 0)})`
        : `${fmtMs(t.workerWallMs)} (${fmtMs(Math.min(...walls))}–${fmtMs(Math.max(...walls))})`;
      out(
        `| ${name} | ${r.objects} | ${num(t.sqs)} | ${num(t.rru)} | ${num(t.wru)} | ${num(t.dynamoRequests)} | ${wall} | ` +
          `${fmtMs(t.workerCpuMs)} | ${fmtMs(t.workerLambdaMs)} | ${webhook ? `${fmtMs(t.webhookWallMs)} / ${fmtMs(t.webhookLambdaMs)}` : '–'} | ` +
          `${num(t.kube)} | ${num(t.git)} |`,
      );
    }
  }
  out();
  out(
    'A no-op row is one tick of the cluster’s sweep, for all its targets together (the cost tables divide it by them). ' +
      'SQS requests include the event source mapping’s ReceiveMessage and DeleteMessageBatch (one each per message batch; ' +
      'batches of one here). The tick’s listing of the clusters is per tick, not per cluster: it is in the fixed costs below. ' +
      `Lambda-equivalent = wall − the time spent waiting on moto + ${MODEL.dynamoMs} ms per DynamoDB and ${MODEL.sqsMs} ms per SQS request (in-region) ` +
      `+ CPU × (${MODEL.fullVcpuMb}/${memoryMb} − 1) (Lambda’s CPU share at ${memoryMb} MB) ` +
      `+ ${MODEL.kubeExtraMs} ms per Kubernetes request (EKS in-region vs loopback) + ${MODEL.gitExtraMs} ms per Git HTTP request (GitHub vs loopback) ` +
      `+ ${MODEL.commitStatusMs} ms per GitHub commit status (a sync reports pending and success, the webhook pending). ` +
      `Drift check LIST responses (uncompressed JSON): ${results.map((r) => `${(r.listBytes / 1024).toFixed(0)} KB at ${r.objects} objects`).join(', ')}. ` +
      `Items: ${results.map((r) => `target record ${r.items.record} B, status item ${(r.items.status / 1024).toFixed(1)} KB (gzip of ${(r.items.statusJson / 1024).toFixed(0)} KB of JSON) at ${r.objects} objects`).join('; ')}. ` +
      `moto answered the warm worker’s DynamoDB requests in ${motoLatency(results).toFixed(1)} ms on average; the model uses ${MODEL.dynamoMs} ms (DynamoDB) and ${MODEL.sqsMs} ms (SQS) instead.`,
  );
  out();

  // 2. Where the units go.
  out(
    '**Where the requests and units go** (warm; a no-op is one tick of the cluster’s sweep, a change one reconcile; RRU / WRU by item size)',
  );
  out();
  const sizes = results.map((r) => r.objects);
  out(
    `| scenario | stage: operation | ${sizes.map((n) => `${n} objects: requests, RRU, WRU`).join(' | ')} |`,
  );
  out(`|---|---|${sizes.map(() => '---:').join('|')}|`);
  for (const scenario of ['noop', 'change'] as const) {
    const rowsByKey = new Map<string, string[]>();
    results.forEach((r, i) => {
      const s = r[scenario].warm[0] as Sample;
      const stages: [string, MeterSnapshot][] = [
        [scenario === 'noop' ? 'sweep tick' : 'webhook', s.trigger.meter],
        ['event source', s.receive.meter],
        ['worker', s.worker.stage.meter],
        ['event source', s.remove.meter],
      ];
      for (const [stage, m] of stages) {
        for (const [op, c] of Object.entries(m.dynamo)) {
          const key = `${stage}: ${op}`;
          const row = rowsByKey.get(key) ?? sizes.map(() => '–');
          row[i] = `${c.requests}, ${num(c.rru)}, ${num(c.wru)}`;
          rowsByKey.set(key, row);
        }
        for (const [op, c] of Object.entries(m.sqs)) {
          const key = `${stage}: SQS ${op}`;
          const row = rowsByKey.get(key) ?? sizes.map(() => '–');
          row[i] = `${c.billed}`;
          rowsByKey.set(key, row);
        }
      }
    });
    for (const [key, row] of rowsByKey) {
      out(`| ${scenario === 'noop' ? 'no-op' : 'change'} | ${key} | ${row.join(' | ')} |`);
    }
  }
  out();

  // 3. Cost per million reconciles.
  out(
    `**Cost per million** (warm medians; no-op: target checks, each a share of its cluster’s sweep tick; change: reconciles, one invocation each; Lambda ${arch} at ${memoryMb} MB, ${PRICES.asOf})`,
  );
  out();
  const columns: [string, CostLine][] = [];
  for (const r of results) {
    columns.push([`no-op, ${r.objects} obj`, warmCost(r, 'noop').cost]);
    columns.push([`change, ${r.objects} obj`, warmCost(r, 'change').cost]);
  }
  const costs = columns.map(([, c]) => c);
  out(`| per 1 M | ${columns.map(([h]) => h).join(' | ')} |`);
  out(`|---|${columns.map(() => '---:').join('|')}|`);
  const costRow = (label: string, f: (c: CostLine) => number) =>
    out(`| ${label} | ${costs.map((c) => usd(f(c) * 1e6)).join(' | ')} |`);
  costRow(
    'Lambda requests ($0.20/M; the change also invokes the webhook)',
    (c) => c.lambdaRequests,
  );
  costRow(
    `Lambda duration ($${PRICES.lambdaGbSecond[arch]}/GB-s × ${memoryMb / 1024} GB)`,
    (c) => c.lambdaDuration,
  );
  costRow('SQS FIFO requests ($0.50/M)', (c) => c.sqs);
  costRow('DynamoDB reads ($0.125/M RRU)', (c) => c.dynamoReads);
  costRow('DynamoDB writes ($0.625/M WRU)', (c) => c.dynamoWrites);
  costRow(
    `CloudWatch Logs (~${MODEL.workerLogBytes} B/worker, ${MODEL.webhookLogBytes} B/webhook invocation, $0.50/GB; estimate)`,
    (c) => c.logs,
  );
  costRow('**Total**', (c) => c.total);
  costRow(
    'X-Ray, if every invocation were traced ($5/M traces; the stack traces with the default sampling rule; not in the total)',
    (c) => c.xray,
  );
  out();

  // 4. Fixed monthly cost.
  const fixed = fixedCosts(sweepStage);
  const fixedTotal = fixed.reduce((n, f) => n + f.monthly, 0);
  out(
    `**Driftless at rest** (the default stack's template priced by bench/at-rest.ts, ${AT_REST_PRICES_DATE}; the sweep's run measured here; fixed monthly cost, whatever the number of reconciles)`,
  );
  out();
  out('| item | per month | how |');
  out('|---|---:|---|');
  for (const f of fixed) out(`| ${f.item} | ${usd(f.monthly)} | ${f.how} |`);
  out(`| **Total** | **${usd(fixedTotal)}** | |`);
  out();

  // 5. Always-on controllers.
  const ctrl = CONTROLLERS.map(controllerCost);
  out(
    '**An always-on controller of the recommended size** (per installation, on-demand, 730 h/month)',
  );
  out();
  const ec2Types = Object.keys(PRICES.ec2);
  out(
    `| controller | pods | CPU requests | memory requests | ${ec2Types.map((t) => `share of an ${t}`).join(' | ')} | EKS Fargate | source of the requests |`,
  );
  out(`|---|---:|---:|---:|${ec2Types.map(() => '---:').join('|')}|---:|---|`);
  for (const c of ctrl) {
    out(
      `| ${c.spec.name} | ${c.pods} | ${c.cpuM}m | ${c.memMi} Mi | ${ec2Types.map((t) => `${usd(c.node[t] as number)}/month`).join(' | ')} | ${usd(c.fargate)}/month | ${c.spec.note} |`,
    );
  }
  const m7g = PRICES.ec2['m7g.large'];
  out(
    `| a dedicated m7g.large (system node group of one) | – | 2 vCPU | 8 GiB | ${usd(m7g.hour * HOURS_PER_MONTH)}/month | | | an upper reference |`,
  );
  out();
  out(
    `Node share = the larger of the requests’ CPU and memory fraction of the node × its price (m7g.large $${m7g.hour}/h, ` +
      `m6i.large $${PRICES.ec2['m6i.large'].hour}/h). Fargate: each pod rounded up to a Fargate size after adding 256 MB ` +
      `($${PRICES.fargateVcpuHour}/vCPU-h, $${PRICES.fargateGbHour}/GB-h), i.e. 0.25 vCPU / 0.5 GB for every pod here. ` +
      'Requests are a floor: what the scheduler reserves, not what the controllers use on a busy cluster.',
  );
  out();

  // 6. Break-even and a fleet.
  const first = results[0] as SizeResult;
  const noop = warmCost(first, 'noop').cost.total;
  const change = warmCost(first, 'change').cost.total;
  const fleetDriftless = fixedTotal + FLEET_NOOPS * noop + FLEET_CHANGES * change;
  // The tick function and one worker invocation per cluster each minute; webhook + worker per push.
  const fleetInvocations = MODEL.sweepsPerMonth * (1 + FLEET.clusters) + 2 * FLEET_CHANGES;
  const seconds = MINUTES_PER_MONTH * 60;
  const xrayHigh =
    (Math.min(fleetInvocations, seconds) + 0.05 * Math.max(0, fleetInvocations - seconds)) *
    PRICES.xrayTrace;
  const xrayLow =
    (MODEL.sweepsPerMonth * 2 + 0.05 * Math.max(0, fleetInvocations - 2 * MODEL.sweepsPerMonth)) *
    PRICES.xrayTrace;
  out(
    `**Break-even** (Driftless: ${usd(fixedTotal)}/month fixed + ${usd(noop * 1e6)} per million no-op checks of ${first.objects}-object targets)`,
  );
  out();
  out(
    `| always-on option | per month | Driftless no-op checks/month for the same money | = targets at a 1-min interval | 100 apps × 3 clusters (${big(FLEET_NOOPS)} no-op checks + ${big(FLEET_CHANGES)} changes a month): controller | Driftless |`,
  );
  out('|---|---:|---:|---:|---:|---:|');
  const options: [string, number, number][] = [];
  for (const c of ctrl) {
    // Flux runs in every cluster; Argo CD can manage the three from one hub.
    const installs = c.spec.name.startsWith('Flux') ? FLEET.clusters : 1;
    options.push([`${c.spec.name}, share of m7g.large`, c.node['m7g.large'] as number, installs]);
    options.push([`${c.spec.name}, EKS Fargate`, c.fargate, installs]);
  }
  options.push(['dedicated m7g.large', m7g.hour * HOURS_PER_MONTH, 1]);
  for (const [name, monthly, installs] of options) {
    const reconciles = Math.max(0, monthly - fixedTotal) / noop;
    out(
      `| ${name} | ${usd(monthly)} | ${big(reconciles)} | ${big(reconciles / FLEET.checksPerTargetMonth)} | ` +
        `${usd(monthly * installs)}${installs > 1 ? ` (${installs} installs)` : ' (one hub)'} | ${usd(fleetDriftless)} |`,
    );
  }
  out();
  out(
    `The fleet: ${FLEET.apps} apps × ${FLEET.clusters} clusters = ${FLEET.apps * FLEET.clusters} targets, a drift check every minute, the default ` +
      `(${FLEET.apps * FLEET.clusters} × 30 × 24 × 60 = ${FLEET_NOOPS.toLocaleString('en-US')} no-op checks a month, priced at the share of a tick measured with ${first.noop.cold.targets} targets per cluster; the fleet has ${FLEET.apps}) plus ` +
      `${FLEET.pushesPerAppMonth} pushes per app a month (${FLEET_CHANGES.toLocaleString('en-US')} one-object changes); ` +
      `Driftless = ${usd(fixedTotal)} fixed + ${usd(FLEET_NOOPS * noop)} no-ops + ${usd(FLEET_CHANGES * change)} changes. ` +
      'Flux is installed in each of the 3 clusters; Argo CD is priced as one hub managing all 3 (its usual multi-cluster setup). ' +
      'Checks/month for the same money = (controller − Driftless fixed) / cost of a no-op check. ' +
      `Not in the Driftless column: X-Ray. The stack traces every function (tracing Active) with the default sampling rule, ` +
      `the first request each second and 5% of the rest; for the fleet's ${big(fleetInvocations)} invocations a month that is between ` +
      `${usd(xrayLow)} (reconciles bunched after each minute's sweep) and ${usd(xrayHigh)} (spread evenly) a month.`,
  );
  out();

  // 7. Scale.
  for (const l of scale(results)) out(l);
  out();

  // 8. Sensitivity.
  out('**Which assumptions move the answer** (warm medians re-priced; per million reconciles)');
  out();
  for (const l of sensitivity(results, fixedTotal)) out(l);
  return lines.join('\n');
}

/** The scale the issue asks for: 10,000 targets on 20 clusters, every minute. */
const SCALE = { clusters: 20, targetsPerCluster: 500, perClusterLimit: 50, workerTimeoutS: 120 };

/**
 * 10,000 targets on 20 clusters swept every minute, extrapolated from the
 * ticks measured here (one target alone, and N): a tick's fixed part and what
 * each target adds, against Lambda's, SQS's and DynamoDB's limits.
 */
function scale(results: SizeResult[]): string[] {
  const r = results[0] as SizeResult;
  const alone = medianTotals(r.single, false);
  const many = medianTotals(r.noop.warm, false);
  const n = many.targets;
  const perTarget = (a: number, b: number) => (n > 1 ? Math.max(0, (b - a) / (n - 1)) : b);
  const at = (a: number, b: number, p: number) => a + (p - 1) * perTarget(a, b);
  const P = SCALE.targetsPerCluster;
  const tickMs = at(alone.workerLambdaMs, many.workerLambdaMs, P);
  const rru = at(alone.rru, many.rru, P);
  const wru = at(alone.wru, many.wru, P);
  const kube = many.kube; // O(kinds): as many LISTs whatever the targets
  const concurrency = (SCALE.clusters * tickMs) / 60_000;
  const reconciles = SCALE.clusters * SCALE.perClusterLimit;
  const lines: string[] = [];
  const out = (line: string) => lines.push(line);
  out(
    `**Scale: ${(SCALE.clusters * P).toLocaleString('en-US')} targets on ${SCALE.clusters} clusters, every minute** ` +
      `(${r.objects}-object targets; a tick measured with 1 and with ${n} targets, ${P} extrapolated linearly from the difference)`,
  );
  out('');
  out('| quantity | one cluster’s tick | all clusters, per minute | limit | headroom |');
  out('|---|---:|---:|---:|---:|');
  out(
    `| worker time (Lambda-eq.) | ${fmtMs(tickMs)} (${fmtMs(alone.workerLambdaMs)} + ${perTarget(alone.workerLambdaMs, many.workerLambdaMs).toFixed(1)} ms/target) | ${fmtMs(SCALE.clusters * tickMs)} | worker timeout ${SCALE.workerTimeoutS} s per tick | ${num((SCALE.workerTimeoutS * 1000) / tickMs)}× |`,
  );
  out(
    `| concurrent worker invocations (average) | 1 | ${concurrency.toFixed(2)} | job queue maxConcurrency 10 (driftless:workerConcurrency), account 1000 | ${num(10 / Math.max(concurrency, 0.01))}× |`,
  );
  out(
    `| DynamoDB reads (one Query of the cluster’s partition) | ${num(rru)} RRU | ${num(SCALE.clusters * rru)} RRU | 3,000 RCU/s per partition (each cluster its own) | ${big(3000 / Math.max(rru, 0.01))}× |`,
  );
  out(
    `| DynamoDB writes (the sweep record) | ${num(wru)} WRU | ${num(SCALE.clusters * wru)} WRU | 1,000 WCU/s per partition | ${big(1000 / Math.max(wru, 0.01))}× |`,
  );
  out(
    `| SQS messages (one sweep job per cluster; at most ${SCALE.perClusterLimit} reconciles) | 1 + ≤ ${SCALE.perClusterLimit} | ≤ ${SCALE.clusters + reconciles} | FIFO 300 API calls/s per queue (3,000 messages/s in batches of 10) | ${big((300 * 60) / (SCALE.clusters + reconciles / 10))}× |`,
  );
  out(
    `| Kubernetes API requests | ${num(kube)} (one metadata LIST per kind, whatever the targets) | ${num(SCALE.clusters * kube)} | API Priority and Fairness: each cluster its own | – |`,
  );
  out('');
  out(
    'No cluster starves another: each cluster’s sweep is a message of its own FIFO group on the job queue, raced against the invocation’s deadline (a hanging API server ends in the sweep record’s error, the others go on); each queues at most driftless:sweepPerCluster reconciles a tick and starts elsewhere in its list the next, so a cluster with many drifted targets delays only its own. Worker time is extrapolated from this machine (loopback API server and Git, moto), with the model of the first table.',
  );
  return lines;
}

function assumptions(): string {
  const m7g = PRICES.ec2['m7g.large'];
  return [
    `- **Prices**: ${PRICES.asOf}. Lambda $${PRICES.lambdaGbSecond.x86_64}/GB-s x86_64, $${PRICES.lambdaGbSecond.arm64}/GB-s arm64, $0.20 per million requests; ` +
      'SQS FIFO $0.50 and standard $0.40 per million requests (each 64 KB chunk of payload is a request; every message here is < 1 KB); ' +
      'DynamoDB on-demand $0.625 per million write and $0.125 per million read request units (the November 2024 prices); ' +
      'EventBridge Scheduler $1.00 per million invocations; CloudWatch Logs ingestion $0.50/GB, custom metrics $0.30/metric-month, ' +
      `alarms $0.10, dashboards $3; Secrets Manager $0.40/secret-month; X-Ray $5 per million traces; m7g.large $${m7g.hour}/h, ` +
      `m6i.large $${PRICES.ec2['m6i.large'].hour}/h; EKS Fargate $${PRICES.fargateVcpuHour}/vCPU-h and $${PRICES.fargateGbHour}/GB-h. ` +
      'Free tiers ignored (they would make a small installation nearly free). EKS itself ($0.10/h per cluster) is the same for every option and left out.',
    `- **Lambda**: as infra/stack.ts deploys it: ${arch}, worker ${memoryMb} MB (driftless:workerMemoryMb), webhook and sweep ${WEBHOOK_MB} MB, ` +
      'tracing Active. The stack builds x86_64 functions only when the kubectl/helm layer is attached (driftless:renderTools), whose binaries ' +
      'are x86_64: 25% more per GB-s (`--arch x86_64`). 1024 MB for the worker is a fair size: it mostly waits on Git, DynamoDB and the API server, ' +
      'billed per GB-s whatever the memory, while its CPU-bound part (parsing YAML: ~0.8 s of CPU at 1000 objects in bench/drift.bench.ts) wants ' +
      'a good share of a vCPU (Lambda gives 1 vCPU at 1769 MB); the sensitivity table shows 512 and 1769 MB. ' +
      'One invocation per reconcile: the stack’s event source mapping on the job queue has batch size 1 (so the timeout bounds one target); ' +
      'the batch-of-10 rows show what batching would save (the request charge, the receive and the delete ÷ 10).',
    '- **Lambda-equivalent duration** is modelled from this machine (the formula is under the first table): the time ' +
      `spent waiting on moto (a Python server, slower than DynamoDB) is replaced by ${MODEL.dynamoMs} ms per DynamoDB and ${MODEL.sqsMs} ms per SQS request, ` +
      'the measured CPU time is stretched to Lambda’s CPU share, and round trips that loopback does not have (GitHub, EKS) are added. ' +
      'This machine’s other load (the line above the first table) inflates wall and CPU times; the counts do not change with it. ' +
      'Cold runs are reported apart and not priced: a warm worker serves thousands of reconciles per cold start. INIT (Lambda bills it since August 2025) is the `init` shown for cold runs.',
    '- **DynamoDB units** are the estimates DynamoTable computes from item sizes (moto returns fixed ConsumedCapacity): reads 4 KB per RRU ' +
      '(half for eventually consistent index queries), writes 1 KB per WRU plus one WRU per index entry written. UpdateItem is estimated from the ' +
      'key and the values written; DynamoDB bills the larger of the item before and after, which for the small target record (< 1 KB) is the same 1 WRU. ' +
      'The webhook’s Powertools idempotency record is estimated the same way by a client middleware.',
    '- **Not measured, estimated**: CloudWatch Logs bytes per invocation, the event source mapping’s idle polling, the number of custom metrics. ' +
      'Commit statuses and Git traffic go to GitHub: no AWS charge. Lambda outside a VPC, reaching EKS public endpoints: no NAT gateway ' +
      `(with private endpoints the worker runs in a VPC and needs a NAT gateway for GitHub: $${PRICES.natHour}/h ≈ $${(PRICES.natHour * HOURS_PER_MONTH).toFixed(0)}/month per AZ ` +
      `plus $${PRICES.natGb}/GB through it).`,
    '- **Controllers**: priced by their resource requests (what they reserve on a node), not their real usage; Argo CD’s application controller ' +
      'typically needs far more memory than 256 Mi once it caches several clusters. Shares of a node assume the node is otherwise fully used.',
  ].join('\n');
}

// ---------------------------------------------------------------------------

const README_HEADING = '## Cost per reconcile';
const READING_HEADING = '### Reading it';
const LATEST_HEADING = '### Latest run';

/**
 * Rewrites the run's part of bench/README.md's cost section: from its
 * "Latest run" heading to "Reading it" (kept: the run's interpretation, by
 * hand). The section's description above it is the README's own.
 */
async function writeReadmeSection(text: string): Promise<void> {
  const file = path.join(here, 'README.md');
  const readme = await readFile(file, 'utf8');
  const start = readme.indexOf(`\n${README_HEADING}\n`);
  if (start < 0) throw new Error(`bench/README.md has no "${README_HEADING}" section`);
  const latest = readme.indexOf(`\n${LATEST_HEADING}\n`, start);
  const reading = readme.indexOf(`\n${READING_HEADING}\n`, start);
  if (latest < 0 || reading < latest) {
    throw new Error(
      `bench/README.md's cost section needs "${LATEST_HEADING}" before "${READING_HEADING}"`,
    );
  }
  const run = `${LATEST_HEADING}\n\n${text}\n\n### Assumptions\n\n${assumptions()}\n`;
  await writeFile(file, `${readme.slice(0, latest + 1)}${run}${readme.slice(reading)}`);
}

async function main() {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '30,200' },
      reps: { type: 'string', default: '7' },
      targets: { type: 'string', default: '100' },
      memory: { type: 'string', default: '1024' },
      arch: { type: 'string', default: 'arm64' },
      out: { type: 'string' },
      readme: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const sizes = (values.sizes as string).split(',').map((s) => Number.parseInt(s, 10));
  const reps = Number.parseInt(values.reps as string, 10);
  const targets = Number.parseInt(values.targets as string, 10);
  if (!(targets >= 1)) throw new Error('--targets takes a positive integer');
  memoryMb = Number.parseInt(values.memory as string, 10);
  if (values.arch !== 'x86_64' && values.arch !== 'arm64') {
    throw new Error('--arch is x86_64 or arm64');
  }
  arch = values.arch;
  if (sizes.some((n) => !(n > 0)) || !(reps > 0) || !(memoryMb >= 128 && memoryMb <= 10_240)) {
    throw new Error('--sizes and --reps take positive integers, --memory 128–10240');
  }

  const started = performance.now();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-cost-'));
  log(`working directory ${dir}; starting moto, etcd + kube-apiserver and the Git server`);
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
      `up: moto ${env.moto.info.endpoint}, ${env.cluster.info.server}, git ${env.git.info.baseUrl}`,
    );
    const load0 = os.loadavg()[0] as number;
    const results: SizeResult[] = [];
    for (const objects of sizes) results.push(await measureSize(env, objects, reps, targets));
    await emptySweep(env); // warm-up
    const sweepStage = await emptySweep(env);
    const text = report(env, results, sweepStage, started, [load0, os.loadavg()[0] as number]);
    console.log(text);
    console.log(`\nAssumptions:\n${assumptions()}`);
    if (values.out) await writeFile(values.out, `${text}\n\n${assumptions()}\n`);
    if (values.readme) {
      await writeReadmeSection(text);
      log('bench/README.md: section "Cost per reconcile" written');
    }
  } finally {
    await stop();
  }
}

main().catch((e: unknown) => {
  console.error(`[cost] failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
