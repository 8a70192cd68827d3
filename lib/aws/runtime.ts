// The production data plane, assembled from configuration: the adapters each
// Lambda needs behind the engine's ports. Functions read their environment
// into a DataPlaneConfig and call into this; nothing here knows about Lambda.

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { ApiDeps } from '../api.js';
import { DriftlessError } from '../errors.js';
import { type GitHubAuth, GitHubCommitStatusReporter } from '../github/status.js';
import { DEFAULT_MAX_BODY_BYTES, type WebhookDeps } from '../github/webhook.js';
import { EksConnector } from '../kube/eks.js';
import type { CommitStatusReporter, TargetId } from '../ports.js';
import type { ReconcileEvent } from '../reconcile.js';
import { IsomorphicGitSource } from '../source/index.js';
import type { WorkerDeps } from '../worker.js';
import { DynamoCatalog } from './catalog.js';
import { DynamoLeaseManager } from './lease.js';
import { MessageControl } from './messages.js';
import { SqsJobQueue } from './queue.js';
import { SecretsManagerSource } from './secrets.js';

export interface DataPlaneConfig {
  tableName: string;
  queueUrl: string;
  delayQueueUrl: string;
  deadLetterQueueUrl?: string;
  /** Secrets Manager id of the webhook secret (a string, or JSON {"secrets": [...]} during rotation). */
  webhookSecretId?: string;
  /** How commit statuses authenticate to GitHub (none: statuses are not reported). */
  githubAuth?: GitHubAuth;
  githubApiUrl?: string;
  /** Base URL of the status API, for links from commit statuses. */
  statusBaseUrl?: string;
  /** How long one invocation may wait on health or hooks. */
  waitBudgetMs: number;
  sweepPerClusterLimit: number;
  gitCacheDir?: string;
}

function required(env: Record<string, string | undefined>, name: string): string {
  const v = env[name];
  if (!v) throw new DriftlessError('InvalidSpec', `environment variable ${name} is not set`);
  return v;
}

export function configFromEnv(env: Record<string, string | undefined>): DataPlaneConfig {
  return {
    tableName: required(env, 'DRIFTLESS_TABLE'),
    queueUrl: required(env, 'DRIFTLESS_QUEUE_URL'),
    delayQueueUrl: required(env, 'DRIFTLESS_DELAY_QUEUE_URL'),
    deadLetterQueueUrl: env.DRIFTLESS_DLQ_URL,
    webhookSecretId: env.DRIFTLESS_WEBHOOK_SECRET_ID,
    githubAuth: githubAuthFromEnv(env),
    githubApiUrl: env.DRIFTLESS_GITHUB_API_URL,
    statusBaseUrl: env.DRIFTLESS_STATUS_URL,
    waitBudgetMs: Number(env.DRIFTLESS_WAIT_BUDGET_MS ?? 20_000),
    sweepPerClusterLimit: Number(env.DRIFTLESS_SWEEP_PER_CLUSTER ?? 50),
    gitCacheDir: env.DRIFTLESS_GIT_CACHE,
  };
}

function githubAuthFromEnv(env: Record<string, string | undefined>): GitHubAuth | undefined {
  if (env.DRIFTLESS_GITHUB_APP_ID) {
    return {
      kind: 'app',
      appId: env.DRIFTLESS_GITHUB_APP_ID,
      installationId: Number(required(env, 'DRIFTLESS_GITHUB_INSTALLATION_ID')),
      privateKeySecretId: required(env, 'DRIFTLESS_GITHUB_PRIVATE_KEY_SECRET_ID'),
    };
  }
  if (env.DRIFTLESS_GITHUB_TOKEN_SECRET_ID)
    return { kind: 'token', tokenSecretId: env.DRIFTLESS_GITHUB_TOKEN_SECRET_ID };
  return undefined;
}

/** Powertools logger, metrics and tracer for one function. */
export function observability(service: string) {
  const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? `driftless-${service}`;
  return {
    logger: new Logger({ serviceName }),
    metrics: new Metrics({
      serviceName,
      namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Driftless',
    }),
    tracer: new Tracer({ serviceName }),
  };
}

export function createDataPlane(config: DataPlaneConfig) {
  // Endpoints come from the SDK's own configuration (AWS_REGION, AWS_ENDPOINT_URL).
  const dynamo = new DynamoDBClient({});
  const sqs = new SQSClient({});
  const secrets = new SecretsManagerSource({});
  const catalog = new DynamoCatalog({ client: dynamo, tableName: config.tableName });
  const leases = new DynamoLeaseManager({ client: dynamo, tableName: config.tableName });
  const queue = new SqsJobQueue({
    client: sqs,
    queueUrl: config.queueUrl,
    delayedQueueUrl: config.delayQueueUrl,
  });
  const messages = new MessageControl(
    sqs,
    [config.queueUrl, config.delayQueueUrl],
    config.deadLetterQueueUrl,
  );
  const git = new IsomorphicGitSource({ cacheRoot: config.gitCacheDir });
  const clusters = new EksConnector({});
  const reporter: CommitStatusReporter = config.githubAuth
    ? new GitHubCommitStatusReporter({
        auth: config.githubAuth,
        secrets,
        apiBaseUrl: config.githubApiUrl,
      })
    : { report: async () => {} };
  const statusUrl = (t: TargetId) =>
    config.statusBaseUrl
      ? `${config.statusBaseUrl.replace(/\/+$/, '')}/apps/${t.app}?cluster=${t.cluster}`
      : undefined;
  const webhookSecrets = async (): Promise<string[]> => {
    if (!config.webhookSecretId) return [];
    const raw = await secrets.getSecretString(config.webhookSecretId);
    try {
      const parsed = JSON.parse(raw) as { secrets?: unknown };
      if (Array.isArray(parsed.secrets))
        return parsed.secrets.filter((s): s is string => typeof s === 'string');
    } catch {
      // a plain string secret
    }
    return [raw];
  };
  return {
    catalog,
    leases,
    queue,
    messages,
    git,
    clusters,
    reporter,
    webhookSecrets,
    maxWebhookBytes: DEFAULT_MAX_BODY_BYTES,
    webhookDeps: (): WebhookDeps => ({
      catalog,
      queue,
      reporter,
      secrets: webhookSecrets,
      statusUrl,
    }),
    workerDeps: (onEvent?: (e: ReconcileEvent) => void): WorkerDeps => ({
      store: catalog,
      catalog,
      leases,
      queue,
      git,
      clusters,
      reporter,
      statusUrl,
      onEvent,
    }),
    apiDeps: (): ApiDeps => ({
      catalog,
      queue,
      engine: { leases, git, clusters, reporter, statusUrl },
    }),
  };
}

export type DataPlane = ReturnType<typeof createDataPlane>;
