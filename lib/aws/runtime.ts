// Configuration and observability shared by every Lambda. The adapters each
// one needs behind the engine's ports are assembled in lib/aws/plane/, one
// module per function: a module's static imports are what esbuild bundles and
// what Node initializes at a cold start, so the sweep does not load git or
// the EKS client, and the webhook does not load the engine. Nothing here
// knows about Lambda.

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { DriftlessError } from '../errors.js';
import type { GitHubAuth } from '../github/status.js';
import type { TargetId } from '../ports.js';

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
  /** How long one invocation may wait on health or hooks; unset, the reconcile's default. */
  waitBudgetMs?: number;
  /** Most jobs per cluster per sweep; unset, the sweep's default. */
  sweepPerClusterLimit?: number;
  gitCacheDir?: string;
}

function required(env: Record<string, string | undefined>, name: string): string {
  const v = env[name];
  if (!v) throw new DriftlessError('InvalidSpec', `environment variable ${name} is not set`);
  return v;
}

/** An environment variable as a number; unset, undefined, so the library's default applies. */
function optionalNumber(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
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
    waitBudgetMs: optionalNumber(env.DRIFTLESS_WAIT_BUDGET_MS),
    sweepPerClusterLimit: optionalNumber(env.DRIFTLESS_SWEEP_PER_CLUSTER),
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

/** The status API's page for one target, linked from commit statuses. */
export function statusUrlFor(config: DataPlaneConfig): (t: TargetId) => string | undefined {
  return (t) =>
    config.statusBaseUrl
      ? `${config.statusBaseUrl.replace(/\/+$/, '')}/apps/${t.app}?cluster=${t.cluster}`
      : undefined;
}
