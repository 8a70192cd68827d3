// Local mode: the whole data plane in one process on the embedded adapters —
// a status API and a webhook receiver on one loopback HTTP server, the
// in-process queue, the worker, a sweep, and the commit status outbox with its
// consumer (the same coalescing, rate limits and retries as in AWS; without a
// GitHub client the statuses are logged) — against a kubeconfig context.
// Repositories on this machine (file:///…) are watched: a new commit on the
// followed branch is picked up within a second, like a push.

import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type ApiErrorBody, PRINCIPAL_HEADER } from '../api/contract.js';
import { handleApiRequest } from '../api/index.js';
import { AwsKmsDecrypter } from '../aws/kms.js';
import { DriftlessError } from '../errors.js';
import { OutboxReporter, type StatusPoster } from '../github/outbox.js';
import { handleWebhook } from '../github/webhook.js';
import { ClusterRouter } from '../kube/connector.js';
import { type Application, ClusterSchema, type Repository } from '../model/application.js';
import { shortSha } from '../model/revision.js';
import { systemClock } from '../ports/clock.js';
import type { BreakerPolicy } from '../ports/cluster-guard.js';
import type { SecretSource } from '../ports/secrets.js';
import type { ReconcileEvent } from '../reconcile/index.js';
import { CredentialsResolver } from '../source/credentials.js';
import type { DecryptionKeys } from '../source/decrypt.js';
import { IsomorphicGitSource, SourceCache } from '../source/index.js';
import { sweepTick } from '../sweep/index.js';
import { processMessage } from '../worker.js';
import { MemoryClusterGuard } from './cluster-guard.js';
import { MemoryLeaseManager } from './lease.js';
import { LocalStatusOutbox } from './outbox.js';
import { LocalJobQueue } from './queue.js';
import { defaultSecretsFile, LocalSecretSource } from './secrets.js';
import { MemoryStore } from './store.js';

/** Where `driftless dev` serves its API and webhook unless told otherwise. */
export const DEFAULT_DEV_HOST = '127.0.0.1';
export const DEFAULT_DEV_PORT = 7777;
/** How often local repositories are checked for new commits, and the sweep runs. */
export const LOCAL_WATCH_INTERVAL_MS = 1_000;
export const LOCAL_SWEEP_INTERVAL_MS = 5_000;
/** How long one reconcile in local mode may wait for a rollout before yielding. */
export const LOCAL_WAIT_BUDGET_MS = 30_000;

export interface LocalModeOptions {
  kubeconfig: string;
  context?: string;
  /** Name of the cluster registered for the kubeconfig. */
  clusterName?: string;
  host?: string;
  /** 0: any free port. */
  port?: number;
  apps?: Application[];
  /** Repository records (credentials by URL prefix) registered at start. */
  repositories?: Repository[];
  /** Secret for POST /webhook (GitHub-style HMAC). */
  webhookSecret?: string;
  /**
   * Platform admins (principal patterns); default the local user
   * (`local:<user>`). Callers name themselves with the `x-driftless-principal`
   * header (the CLI sends its configured identity), else act as the local user.
   */
  admins?: string[];
  /** How often local repositories are checked for new commits. */
  watchIntervalMs?: number;
  /** How often the sweep looks for due targets. */
  sweepIntervalMs?: number;
  /** How long one reconcile may wait for a rollout before yielding. */
  waitBudgetMs?: number;
  gitCacheDir?: string;
  onEvent?: (e: ReconcileEvent) => void;
  onLog?: (message: string) => void;
  /** Where the outbox posts commit statuses (a GitHubStatusClient); unset, they are logged. */
  statusPoster?: StatusPoster;
  /**
   * Secrets of private repositories' credentials (lib/local/secrets.ts); default
   * DRIFTLESS_SECRET_* and `secretsFile`.
   */
  secrets?: SecretSource;
  /** The local secrets file; default defaultSecretsFile() (~/.config/driftless/secrets.yaml). */
  secretsFile?: string;
  /** SOPS keys; default: age identities from `secrets`, KMS as this process's AWS identity. */
  decryption?: DecryptionKeys;
  /** The clusters' circuit breaker (threshold, cool-downs); default DEFAULT_BREAKER_POLICY. */
  breaker?: BreakerPolicy;
}

export interface LocalMode {
  url: string;
  store: MemoryStore;
  queue: LocalJobQueue;
  /** The commit status outbox (its decisions say what was posted). */
  outbox: LocalStatusOutbox;
  stop(): Promise<void>;
}

export async function startLocalMode(opts: LocalModeOptions): Promise<LocalMode> {
  const store = new MemoryStore();
  const leases = new MemoryLeaseManager(store);
  const guard = new MemoryClusterGuard(systemClock, opts.breaker);
  const queue = new LocalJobQueue();
  const clusters = new ClusterRouter();
  const git = new IsomorphicGitSource({
    allowLocalRepositories: true,
    cacheRoot: opts.gitCacheDir ?? path.join(os.tmpdir(), 'driftless-dev-git'),
  });
  const log = opts.onLog ?? (() => {});
  const poster: StatusPoster = opts.statusPoster ?? {
    installation: 'local',
    post: async (s) => {
      log(`commit status ${s.context} ${shortSha(s.commit)}: ${s.state} (${s.description})`);
      return { kind: 'posted' };
    },
  };
  const outboxLog = {
    info: (m: string) => log(m),
    warn: (m: string, ...fields: Record<string, unknown>[]) =>
      log(fields.length ? `${m} ${JSON.stringify(Object.assign({}, ...fields))}` : m),
  };
  const outbox = new LocalStatusOutbox({ poster, logger: outboxLog });
  const reporter = new OutboxReporter(outbox, { logger: outboxLog });
  const clusterName = opts.clusterName ?? 'local';
  await store.putCluster(
    ClusterSchema.parse({
      apiVersion: 'driftless.dev/v1',
      kind: 'Cluster',
      metadata: { name: clusterName },
      spec: { kubeconfig: { path: opts.kubeconfig, context: opts.context } },
    }),
  );
  for (const r of opts.repositories ?? []) await store.putRepository(r);
  for (const app of opts.apps ?? []) await store.putApplication(app);

  // Private repositories: credentials by reference, from the local secrets.
  // The same local secrets hold SOPS age keys (spec.decryption.secretRef).
  const localSecrets =
    opts.secrets ?? new LocalSecretSource({ file: opts.secretsFile ?? defaultSecretsFile() });
  const credentials = new CredentialsResolver({
    secrets: localSecrets,
    repositories: store,
    // The memory store is read for free: a Repository applied counts at once.
    repositoryTtlMs: 0,
  });
  const engine = {
    leases,
    git,
    clusters,
    renderer: new SourceCache({
      decryption: opts.decryption ?? { secrets: localSecrets, kms: new AwsKmsDecrypter() },
    }),
    reporter,
    credentialsFor: credentials.credentialsFor,
    onEvent: opts.onEvent,
  };
  const workerDeps = { ...engine, catalog: store, queue, guard };
  queue.start((job, attempt) =>
    processMessage(workerDeps, job, attempt, {
      waitBudgetMs: opts.waitBudgetMs ?? LOCAL_WAIT_BUDGET_MS,
    }),
  );

  // Local repositories: look for new commits on the followed revision.
  const seen = new Map<string, string>();
  const watch = async () => {
    const page = await store.listApplications(500);
    for (const app of page.items) {
      const { repoURL, revision } = app.spec.source;
      if (!repoURL.startsWith('file:') || app.spec.suspended) continue;
      let commit: string;
      try {
        commit = await git.resolve(repoURL, revision);
      } catch (e) {
        log(`cannot read ${repoURL}: ${e instanceof DriftlessError ? e.describe() : String(e)}`);
        continue;
      }
      const key = `${app.metadata.name}|${repoURL}|${revision}`;
      if (seen.get(key) === commit) continue;
      const first = !seen.has(key);
      seen.set(key, commit);
      if (!first) log(`${app.metadata.name}: new commit ${shortSha(commit)} on ${revision}`);
      await queue.enqueue(
        app.spec.destinations.map((d) => ({
          dedupId: `local:${app.metadata.name}#${d.cluster}:${commit}`,
          job: {
            app: app.metadata.name,
            cluster: d.cluster,
            trigger: 'local' as const,
            enqueuedAt: new Date().toISOString(),
          },
        })),
      );
    }
  };
  const timers: NodeJS.Timeout[] = [];
  let stopping = false;
  const every = (ms: number, fn: () => Promise<unknown>) => {
    let running = false;
    const t = setInterval(() => {
      if (running || stopping) return;
      running = true;
      fn()
        .catch((e) => log(`background task failed: ${e instanceof Error ? e.message : String(e)}`))
        .finally(() => {
          running = false;
        });
    }, ms);
    timers.push(t);
  };
  every(opts.watchIntervalMs ?? LOCAL_WATCH_INTERVAL_MS, watch);
  every(opts.sweepIntervalMs ?? LOCAL_SWEEP_INTERVAL_MS, () =>
    sweepTick(
      { catalog: store, queue, guard },
      { periodMs: opts.sweepIntervalMs ?? LOCAL_SWEEP_INTERVAL_MS },
    ),
  );

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > 6 * 1024 * 1024) {
        res.writeHead(413).end();
        return;
      }
      chunks.push(c as Buffer);
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      const out =
        url.pathname === '/webhook' && req.method === 'POST'
          ? await handleWebhook(
              {
                catalog: store,
                queue,
                reporter,
                secrets: async () => (opts.webhookSecret ? [opts.webhookSecret] : []),
              },
              { headers: req.headers as Record<string, string>, body },
            )
          : await handleApiRequest(
              {
                catalog: store,
                queue,
                deadLetters: queue,
                engine,
                guard,
                admins: opts.admins ?? [localPrincipal()],
              },
              {
                method: req.method ?? 'GET',
                path: url.pathname,
                query: Object.fromEntries(url.searchParams),
                body: body || undefined,
                principal: headerValue(req.headers[PRINCIPAL_HEADER]) ?? localPrincipal(),
              },
            );
      res.writeHead(out.status, { 'content-type': 'application/json' });
      res.end(out.body === null ? '' : JSON.stringify(out.body));
    } catch (e) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          code: 'Internal',
          message: e instanceof Error ? e.message : String(e),
        } satisfies ApiErrorBody),
      );
    }
  });
  server.listen(opts.port ?? DEFAULT_DEV_PORT, opts.host ?? DEFAULT_DEV_HOST);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([e]) => {
      const err = e as NodeJS.ErrnoException;
      throw new DriftlessError(
        'InvalidSpec',
        err.code === 'EADDRINUSE'
          ? `port ${opts.port ?? DEFAULT_DEV_PORT} is in use (is another driftless dev running?); choose one with --port`
          : err.message,
      );
    }),
  ]);
  const { port } = server.address() as AddressInfo;
  await watch();
  return {
    url: `http://${opts.host ?? DEFAULT_DEV_HOST}:${port}`,
    store,
    queue,
    outbox,
    stop: async () => {
      stopping = true;
      for (const t of timers) clearInterval(t);
      queue.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await queue.idle();
      await outbox.idle();
      outbox.stop();
      clusters.close();
    },
  };
}

/** Who acts in local mode: the machine's user (recorded as an operation's initiator). */
function localPrincipal(): string {
  try {
    return `local:${os.userInfo().username}`;
  } catch {
    return 'local:unknown';
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  const one = Array.isArray(v) ? v[0] : v;
  return one?.trim() || undefined;
}
