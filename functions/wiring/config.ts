// Configuration and observability shared by every Lambda. The adapters each
// one needs behind the engine's ports are assembled beside it in
// functions/wiring/, one module per function: a module's static imports are
// what esbuild bundles and what Node initializes at a cold start, so the sweep
// does not load git or the EKS client, and the webhook does not load the
// engine.

import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { DriftlessError } from '../../lib/errors.js';
import type { GitHubAuth } from '../../lib/github/status.js';
import type { TargetId } from '../../lib/model/target.js';
import { DEFAULT_WORKER_GROUP_CONCURRENCY, ENV, ENV_DEFAULTS } from './env.js';

export interface DataPlaneConfig {
  tableName: string;
  queueUrl: string;
  delayQueueUrl: string;
  deadLetterQueueUrl?: string;
  /** The commit status outbox (FIFO); unset, no commit statuses are reported. */
  outboxQueueUrl?: string;
  /** Secrets Manager id of the webhook secret (a string, or a document: lib/model/webhook-secrets.ts). */
  webhookSecretId?: string;
  /** How the outbox's consumer authenticates to GitHub (none: it drops what it receives). */
  githubAuth?: GitHubAuth;
  githubApiUrl?: string;
  /** Host of the repository URLs that GitHub serves; unset, derived from the API URL. */
  githubWebHost?: string;
  /** Base URL of the status API, for links from commit statuses. */
  statusBaseUrl?: string;
  /** How long one invocation may wait on health or hooks; unset, the reconcile's default. */
  waitBudgetMs?: number;
  /** The target lease's TTL: longer than the worker's timeout (set by the stack from it). */
  leaseTtlMs?: number;
  /** Platform admins' principal patterns (comma-separated in the environment). */
  adminPrincipals: string[];
  /** Message groups of a batch the worker runs at once (DEFAULT_WORKER_GROUP_CONCURRENCY). */
  workerGroupConcurrency: number;
  /** Most jobs per cluster per sweep; unset, the sweep's default. */
  sweepPerClusterLimit?: number;
  gitCacheDir?: string;
  /** Prepended to the secret names of source credentials (`driftless/<stack>/`). */
  secretPrefix?: string;
  /** KMS endpoint for SOPS data keys (an emulator); unset, the key region's (the SDK's AWS_ENDPOINT_URL_KMS or AWS_ENDPOINT_URL when set). */
  kmsEndpoint?: string;
  /** False when the stack gave the status API no cluster access (no diff previews); unset, true. */
  apiPreviews?: boolean;
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

/** An environment variable that must be a positive integer when set. */
function positiveInt(env: Record<string, string | undefined>, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new DriftlessError(
      'InvalidSpec',
      `environment variable ${name} must be a positive integer, got "${v}"`,
    );
  return n;
}

export function configFromEnv(env: Record<string, string | undefined>): DataPlaneConfig {
  return {
    tableName: required(env, ENV.table),
    queueUrl: required(env, ENV.queueUrl),
    delayQueueUrl: required(env, ENV.delayQueueUrl),
    deadLetterQueueUrl: env[ENV.deadLetterQueueUrl],
    outboxQueueUrl: env[ENV.outboxQueueUrl],
    webhookSecretId: env[ENV.webhookSecretId],
    githubAuth: githubAuthFromEnv(env),
    githubApiUrl: env[ENV.githubApiUrl],
    githubWebHost: env[ENV.githubWebHost],
    statusBaseUrl: env[ENV.statusUrl],
    waitBudgetMs: optionalNumber(env[ENV.waitBudgetMs]),
    leaseTtlMs: optionalNumber(env[ENV.leaseTtlMs]),
    adminPrincipals: (env[ENV.adminPrincipals] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    workerGroupConcurrency:
      positiveInt(env, ENV.workerGroupConcurrency) ?? DEFAULT_WORKER_GROUP_CONCURRENCY,
    sweepPerClusterLimit: optionalNumber(env[ENV.sweepPerCluster]),
    gitCacheDir: env[ENV.gitCache],
    secretPrefix: env[ENV.secretPrefix],
    kmsEndpoint: env[ENV.awsEndpointUrlKms] || env[ENV.awsEndpointUrl] || undefined,
    apiPreviews: env[ENV.apiPreviews] === undefined ? undefined : env[ENV.apiPreviews] === 'true',
  };
}

function githubAuthFromEnv(env: Record<string, string | undefined>): GitHubAuth | undefined {
  const appId = env[ENV.githubAppId];
  if (appId) {
    return {
      kind: 'app',
      appId,
      installationId: Number(required(env, ENV.githubInstallationId)),
      privateKeySecretId: required(env, ENV.githubPrivateKeySecretId),
    };
  }
  const tokenSecretId = env[ENV.githubTokenSecretId];
  if (tokenSecretId) return { kind: 'token', tokenSecretId };
  return undefined;
}

/** Powertools logger, metrics and tracer for one function. */
export function observability(service: string) {
  const serviceName = process.env[ENV.powertoolsServiceName] ?? `driftless-${service}`;
  return {
    logger: new Logger({ serviceName }),
    metrics: new Metrics({
      serviceName,
      namespace: process.env[ENV.powertoolsMetricsNamespace] ?? ENV_DEFAULTS.metricsNamespace,
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
