// What a user configures about their Driftless installation, from CDK context
// (cdk.json, cdk.context.json or `-c key=value`). Parsed and validated here, so
// a mistake fails `cdk synth` with a message that names the key, not a failed
// CloudFormation deployment twenty minutes later.
//
//   driftless:clusters        EKS clusters the worker may reach: an array, the
//                             same as a JSON string, or the path of a JSON file
//                             (see ClusterAccessSchema)
//   driftless:alarmEmail      address (or list) subscribed to alarm notifications
//   driftless:sweepRateMinutes          how often the drift sweep runs (default 1)
//   driftless:workerConcurrency         worker's max concurrency on the job queue (default 10)
//   driftless:workerReservedConcurrency reserved concurrency of the worker (default none)
//   driftless:workerMemoryMb            worker memory (default 1024)
//   driftless:waitBudgetMs              health/hook wait per invocation (default 20000)
//   driftless:sweepPerCluster           jobs one sweep enqueues per cluster (default 50)
//   driftless:logRetentionDays          log retention (default 30)
//   driftless:logLevel                  POWERTOOLS_LOG_LEVEL (default INFO)
//   driftless:metricsNamespace          POWERTOOLS_METRICS_NAMESPACE (default Driftless)
//   driftless:maxQueueAgeSeconds        oldest-job alarm threshold (default 900)
//   driftless:githubAppId / driftless:githubInstallationId
//                             commit statuses as a GitHub App (the credentials
//                             secret then holds its PEM private key); without
//                             them the secret holds a token
//   driftless:githubApiUrl    REST API root for GitHub Enterprise Server
//   driftless:renderTools     attach the kubectl/helm layer (default false; see stack.ts)
//   driftless:adminPrincipals platform admins: IAM principal ARNs with `*` wildcards
//                             (an array or a comma-separated string); they alone
//                             manage clusters, projects and repository
//                             credentials. Default: every principal of the
//                             deploying account that IAM lets call the API.
//   driftless:sopsKmsKeys     KMS key ARNs the worker may Decrypt with for SOPS files
//                             (a list or comma-separated; README, "SOPS")
//   driftless:sopsRoles       role ARNs apps may name in spec.decryption.roleArn
//                             (sts:AssumeRole; the role's own policy grants kms:Decrypt)
//   driftless:apiPreviews     give the status API the clusters' access for diff
//                             previews (default false: only the worker can write to a cluster)
//   driftless:webhookReservedConcurrency  reserved concurrency of the webhook
//                             (default 10; "none" for no reservation)
//   driftless:workerGroupConcurrency  targets (message groups) one worker
//                             invocation reconciles at once, and so the job
//                             queues' batch size (default 4, at most 10)
//   driftless:alarms          which alarms: "essential" (default: those that
//                             pay for themselves, ESSENTIAL_ALARMS in
//                             monitoring.ts), "all", or "none"
//   driftless:dashboard       the CloudWatch dashboard ($3/month; default false)
//   driftless:metrics         the functions' custom metrics (Powertools EMF,
//                             $0.30 per metric a month; default: on with the dashboard)
//   driftless:tracing         X-Ray tracing of every function (default false)

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_WORKER_GROUP_CONCURRENCY } from '../functions/wiring/env.js';

/** EKS access policies Driftless may be given, narrowest first. */
export const ACCESS_POLICIES = [
  'AmazonEKSViewPolicy',
  'AmazonEKSEditPolicy',
  'AmazonEKSAdminPolicy',
  'AmazonEKSClusterAdminPolicy',
] as const;

const dns1123Label = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a Kubernetes namespace name (DNS-1123 label)')
  .max(63);

export const ClusterAccessSchema = z
  .object({
    /** The EKS cluster's name (as in `aws eks describe-cluster --name`). */
    name: z
      .string()
      .regex(/^[0-9A-Za-z][A-Za-z0-9_-]*$/, 'must be an EKS cluster name')
      .max(100),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region like eu-west-1'),
    /** What Driftless may do on the cluster. Edit applies workloads in the given namespaces. */
    accessPolicy: z.enum(ACCESS_POLICIES).default('AmazonEKSEditPolicy'),
    /** Namespace-scoped association when given; cluster-wide otherwise. */
    namespaces: z.array(dns1123Label).min(1).optional(),
    /** Kubernetes groups for the access entry, for RBAC you bind yourself (CRDs, namespaces, RBAC objects). */
    kubernetesGroups: z.array(z.string().min(1)).optional(),
    /**
     * A role in the cluster's account that Driftless assumes (cross-account).
     * The worker then gets sts:AssumeRole on it instead of an access entry;
     * that account maps the role to the cluster.
     */
    roleArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN')
      .optional(),
    /**
     * With driftless:apiPreviews on, give the status API the same access on
     * this cluster, for diff previews (default true; false leaves it out).
     */
    previews: z.boolean().default(true),
  })
  .strict();

export type ClusterAccess = z.infer<typeof ClusterAccessSchema>;

/** The retention periods CloudWatch Logs accepts. */
const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
];

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * The webhook's reserved concurrency: a flood of deliveries (signed or not)
 * is throttled at this many invocations instead of taking the account's
 * concurrency from the worker and the API.
 */
export const DEFAULT_WEBHOOK_RESERVED_CONCURRENCY = 10;
/** driftless:alarms: the essential alarms (infra/monitoring.ts), every alarm, or none. */
export const ALARM_SETS = ['essential', 'all', 'none'] as const;
export type AlarmSet = (typeof ALARM_SETS)[number];

const bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

export const DriftlessConfigSchema = z.object({
  clusters: z.array(ClusterAccessSchema).default([]),
  alarmEmails: z.array(z.email()).default([]),
  sweepRateMinutes: int(1, 1440).default(1),
  workerConcurrency: int(2, 1000).default(10),
  workerReservedConcurrency: int(1, 1000).optional(),
  workerMemoryMb: int(512, 10240).default(1024),
  waitBudgetMs: int(0, 600_000).default(20_000),
  sweepPerCluster: int(1, 10_000).default(50),
  logRetentionDays: int(1, 3653)
    .refine((d) => RETENTION_DAYS.includes(d), {
      message: `must be one of CloudWatch Logs' retention periods: ${RETENTION_DAYS.join(', ')}`,
    })
    .default(30),
  logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  metricsNamespace: z
    .string()
    .regex(/^[A-Za-z0-9._/#:-]{1,255}$/)
    .default('Driftless'),
  maxQueueAgeSeconds: int(60, 86_400).default(900),
  githubAppId: z.coerce.string().regex(/^\d+$/).optional(),
  githubInstallationId: int(1, Number.MAX_SAFE_INTEGER).optional(),
  githubApiUrl: z.url().optional(),
  renderTools: bool.default(false),
  adminPrincipals: z
    .array(
      z
        .string()
        .regex(
          /^(arn:[^:\s]+:(iam|sts)::[\d*]*:\S+|\*)$/,
          'must be an IAM principal ARN (wildcards allowed)',
        ),
    )
    .optional(),
  // SOPS (issue #13): what the worker may decrypt with.
  sopsKmsKeys: z
    .array(
      z.string().regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/.+$/, 'must be a KMS key ARN'),
    )
    .default([]),
  sopsRoles: z
    .array(z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN'))
    .default([]),
  apiPreviews: bool.default(false),
  webhookReservedConcurrency: z
    .union([int(1, 1000), z.literal('none')])
    .default(DEFAULT_WEBHOOK_RESERVED_CONCURRENCY),
  // A FIFO event source's batch is at most 10 messages.
  workerGroupConcurrency: int(1, 10).default(DEFAULT_WORKER_GROUP_CONCURRENCY),
  // At rest (issue #15): what costs money whatever the traffic is opt-in.
  alarms: z.enum(ALARM_SETS).default('essential'),
  dashboard: bool.default(false),
  /** Unset: on with the dashboard (which graphs them), off otherwise. */
  metrics: bool.optional(),
  tracing: bool.default(false),
});

export type DriftlessConfig = z.infer<typeof DriftlessConfigSchema>;

/** Context keys, `driftless:<key>`. */
const KEYS = [
  'clusters',
  'alarmEmail',
  'sweepRateMinutes',
  'workerConcurrency',
  'workerReservedConcurrency',
  'workerMemoryMb',
  'waitBudgetMs',
  'sweepPerCluster',
  'logRetentionDays',
  'logLevel',
  'metricsNamespace',
  'maxQueueAgeSeconds',
  'githubAppId',
  'githubInstallationId',
  'githubApiUrl',
  'renderTools',
  'adminPrincipals',
  'sopsKmsKeys',
  'sopsRoles',
  'apiPreviews',
  'webhookReservedConcurrency',
  'workerGroupConcurrency',
  'alarms',
  'dashboard',
  'metrics',
  'tracing',
] as const;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * The configuration from context values (`tryGetContext`). `baseDir` resolves
 * a clusters file path (the app's working directory).
 */
export function configFromContext(
  get: (key: string) => unknown,
  baseDir = process.cwd(),
): DriftlessConfig {
  const raw: Record<string, unknown> = {};
  for (const key of KEYS) {
    const value = get(`driftless:${key}`);
    if (value !== undefined && value !== null && value !== '') raw[key] = value;
  }
  const input: Record<string, unknown> = { ...raw };
  delete input.alarmEmail;
  if (raw.clusters !== undefined) input.clusters = clustersValue(raw.clusters, baseDir);
  for (const key of ['sopsKmsKeys', 'sopsRoles'] as const) {
    const v = raw[key];
    if (typeof v === 'string')
      input[key] = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
  }
  if (raw.alarmEmail !== undefined) {
    input.alarmEmails = Array.isArray(raw.alarmEmail)
      ? raw.alarmEmail
      : String(raw.alarmEmail)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  }
  if (typeof raw.adminPrincipals === 'string') {
    input.adminPrincipals = raw.adminPrincipals
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }
  const parsed = DriftlessConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => {
      const [first, ...rest] = i.path;
      const key = first === 'alarmEmails' ? 'alarmEmail' : String(first ?? '');
      const where = rest.length ? `${key}[${rest.join('].[')}]` : key;
      return `driftless:${where}: ${i.message}`;
    });
    throw new ConfigError(
      `invalid Driftless configuration (CDK context):\n  ${issues.join('\n  ')}`,
    );
  }
  const config = parsed.data;
  const seen = new Set<string>();
  for (const c of config.clusters) {
    const id = `${c.region}/${c.name}`;
    if (seen.has(id)) throw new ConfigError(`driftless:clusters: ${id} is listed twice`);
    seen.add(id);
    if (c.accessPolicy === 'AmazonEKSClusterAdminPolicy' && c.namespaces) {
      throw new ConfigError(
        `driftless:clusters: ${id}: AmazonEKSClusterAdminPolicy is cluster-wide; remove "namespaces" or choose AmazonEKSEditPolicy/AmazonEKSAdminPolicy`,
      );
    }
  }
  if (
    config.workerReservedConcurrency !== undefined &&
    config.workerReservedConcurrency < totalWorkerConcurrency(config)
  ) {
    throw new ConfigError(
      `driftless:workerReservedConcurrency (${config.workerReservedConcurrency}) is below the worker's event source concurrency (${totalWorkerConcurrency(config)}): the event sources would be throttled`,
    );
  }
  if (config.dashboard && config.metrics === false) {
    throw new ConfigError(
      'driftless:dashboard needs driftless:metrics: the dashboard graphs the custom metrics (leave driftless:metrics unset, or set it true)',
    );
  }
  if ((config.githubAppId === undefined) !== (config.githubInstallationId === undefined)) {
    throw new ConfigError(
      'driftless:githubAppId and driftless:githubInstallationId go together (a GitHub App needs both)',
    );
  }
  return config;
}

/** Whether the functions emit their custom metrics: as configured, else with the dashboard. */
export function metricsEnabled(config: DriftlessConfig): boolean {
  return config.metrics ?? config.dashboard;
}

/** Maximum concurrency of the worker's event source on the delayed (health check) queue. */
export function delayedQueueConcurrency(config: DriftlessConfig): number {
  return Math.max(2, Math.ceil(config.workerConcurrency / 2));
}

export function totalWorkerConcurrency(config: DriftlessConfig): number {
  return config.workerConcurrency + delayedQueueConcurrency(config);
}

function clustersValue(value: unknown, baseDir: string): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (text.startsWith('[')) return parseJson(text, 'driftless:clusters');
  const file = path.resolve(baseDir, text);
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(
      `driftless:clusters: cannot read ${file} (${(e as Error).message}); give a JSON array or the path of a JSON file`,
    );
  }
  return parseJson(content, file);
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${where}: not valid JSON (${(e as Error).message})`);
  }
}
