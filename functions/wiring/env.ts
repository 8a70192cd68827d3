// The environment variables the functions read: one list, imported by the
// wiring (functions/wiring/config.ts) and by the CDK stack (infra/), so a
// name is spelled once. Keep its imports light: infra loads this file.

import { TOOL_ENV_VARS } from '../../lib/source/render-tools.js';

export const ENV = {
  table: 'DRIFTLESS_TABLE',
  queueUrl: 'DRIFTLESS_QUEUE_URL',
  delayQueueUrl: 'DRIFTLESS_DELAY_QUEUE_URL',
  deadLetterQueueUrl: 'DRIFTLESS_DLQ_URL',
  outboxQueueUrl: 'DRIFTLESS_OUTBOX_QUEUE_URL',
  webhookSecretId: 'DRIFTLESS_WEBHOOK_SECRET_ID',
  githubAppId: 'DRIFTLESS_GITHUB_APP_ID',
  githubInstallationId: 'DRIFTLESS_GITHUB_INSTALLATION_ID',
  githubPrivateKeySecretId: 'DRIFTLESS_GITHUB_PRIVATE_KEY_SECRET_ID',
  githubTokenSecretId: 'DRIFTLESS_GITHUB_TOKEN_SECRET_ID',
  githubApiUrl: 'DRIFTLESS_GITHUB_API_URL',
  githubWebHost: 'DRIFTLESS_GITHUB_WEB_HOST',
  statusUrl: 'DRIFTLESS_STATUS_URL',
  waitBudgetMs: 'DRIFTLESS_WAIT_BUDGET_MS',
  leaseTtlMs: 'DRIFTLESS_LEASE_TTL_MS',
  adminPrincipals: 'DRIFTLESS_ADMIN_PRINCIPALS',
  sweepPerCluster: 'DRIFTLESS_SWEEP_PER_CLUSTER',
  /** Message groups (targets) one worker invocation reconciles at once. */
  workerGroupConcurrency: 'DRIFTLESS_WORKER_GROUP_CONCURRENCY',
  gitCache: 'DRIFTLESS_GIT_CACHE',
  /** Prefix of the secrets source credentials name (`driftless/<stack>/`); the worker may read only these. */
  secretPrefix: 'DRIFTLESS_SECRET_PREFIX',
  // The SDK's own endpoint variables, read for the KMS client that is not an SDK client.
  awsEndpointUrl: 'AWS_ENDPOINT_URL',
  awsEndpointUrlKms: 'AWS_ENDPOINT_URL_KMS',
  /** 'false': the status API has no cluster access (infra's driftless:apiPreviews), so no diff previews. */
  apiPreviews: 'DRIFTLESS_API_PREVIEWS',
  kubectl: TOOL_ENV_VARS.kubectl,
  helm: TOOL_ENV_VARS.helm,
  powertoolsServiceName: 'POWERTOOLS_SERVICE_NAME',
  powertoolsMetricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  powertoolsLogLevel: 'POWERTOOLS_LOG_LEVEL',
  powertoolsMetricsDisabled: 'POWERTOOLS_METRICS_DISABLED',
  powertoolsTraceEnabled: 'POWERTOOLS_TRACE_ENABLED',
} as const;

/** Defaults of settings the wiring itself owns (the library's own defaults apply to the rest). */
export const ENV_DEFAULTS = {
  metricsNamespace: 'Driftless',
} as const;

/**
 * Message groups (targets) of one batch the worker reconciles at once, and so
 * the job queue's batch size (infra: driftless:workerGroupConcurrency). Four:
 * a cluster's default admission slots (Cluster spec.concurrency), so one
 * invocation can fill one cluster's slots and no more (more would only be
 * deferred by the guard); and four reconciles — each a checkout, a render and
 * the LIST results of its kinds — fit the worker's default 1024 MB with room,
 * while the work is I/O-bound (API server, DynamoDB, Git), so its 0.6 vCPU is
 * not the limit.
 */
export const DEFAULT_WORKER_GROUP_CONCURRENCY = 4;
