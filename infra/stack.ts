// Driftless in one stack: the table, the job queues, the commit status outbox,
// the five Lambda functions,
// the webhook endpoint, the status API, the sweep schedule, secrets, EKS
// access entries, alarms and (opt-in) a dashboard. Every role is written out by hand:
// each function may do exactly what its code path does, on exactly its
// resources (the comments name the lib/ calls each permission is for).

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubectlV34Layer } from '@aws-cdk/lambda-layer-kubectl-v34';
import {
  Annotations,
  ArnFormat,
  Aws,
  CfnCondition,
  CfnOutput,
  Duration,
  Fn,
  RemovalPolicy,
  Stack,
  type StackProps,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { ENV } from '../functions/wiring/env.js';
import {
  GUARD_PARTITION_PREFIX,
  IDEMPOTENCY_PARTITION,
  LIST_INDEX,
  LIST_REPOSITORIES,
  SWEEP_PARTITION_PREFIX,
  TABLE_DEFINITION,
  type TableDefinition,
} from '../lib/aws/dynamo/schema.js';
import { MAX_RETRY_LIMIT } from '../lib/model/application.js';
import {
  type ClusterAccess,
  type DriftlessConfig,
  DriftlessConfigSchema,
  delayedQueueConcurrency,
  metricsEnabled,
} from './config.js';
import { DriftlessMonitoring } from './monitoring.js';

/** The repository root: functions/*.ts are bundled from here. */
/**
 * The name prefix of the secrets that hold source credentials (README,
 * "Private repositories"): `source.credentials: acme-git` is the secret
 * `driftless/<stack>/acme-git`. The worker may read these and no other.
 */
export function sourceSecretPrefix(stackName: string): string {
  return `driftless/${stackName}/`;
}

export const PROJECT_ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

export type FunctionName = 'webhook' | 'worker' | 'sweep' | 'api' | 'outbox';

/**
 * Receives of a commit status before SQS dead-letters it: rate limits and
 * GitHub outages are waited out through the message's visibility (GitHub's
 * Retry-After, backoff up to 15 minutes), so this is hours of trying.
 */
export const OUTBOX_MAX_RECEIVE_COUNT = 30;
/** The outbox function: a batch of ten posts, two at a time, each at most 10 s. */
const OUTBOX_TIMEOUT_SECONDS = 60;
/** Outbox invocations at once (the event source's minimum): with two posts each, four writes per installation at most. */
const OUTBOX_CONCURRENCY = 2;

/**
 * SQS receives before SQS itself dead-letters a job. The worker dead-letters a
 * job itself (marking the target Degraded) once the app's retry limit is
 * passed — after a failed attempt, or at the start of the attempt after the
 * last one when that one never reported (lib/worker.ts) — and a job whose
 * lease is held is sent again rather than received again, so receives count
 * attempts. The queue's redrive is the backstop for a message the worker
 * cannot even read: one receive beyond the worker's own last chance.
 */
export const MAX_RECEIVE_COUNT = MAX_RETRY_LIMIT + 2;

/** The target lease outlives the worker's timeout by this much, so a live worker never loses it. */
export const LEASE_MARGIN_SECONDS = 60;

/** Worker time beyond the wait budget: fetch, render, diff and apply of one target. */
const WORKER_WORK_SECONDS = 100;

/** ESM bundles for Node 22; `require` for the CommonJS dependencies esbuild wraps. */
export const BUNDLING: nodejs.BundlingOptions = {
  format: nodejs.OutputFormat.ESM,
  target: 'node22',
  platform: 'node',
  mainFields: ['module', 'main'],
  minify: true,
  sourceMap: false,
  banner:
    "import{createRequire as __driftlessRequire}from'node:module';const require=__driftlessRequire(import.meta.url);",
  // The SDK is bundled too: the versions in package-lock.json are the ones tested.
  bundleAwsSDK: true,
  // client-node reads kubeconfig files, which only local mode has; lib/kube
  // imports it at run time, so leaving it out cuts the bundles' start-up.
  externalModules: ['@kubernetes/client-node'],
  forceDockerBundling: false,
  // The Kubernetes schemas the validator ships (lib/validate/schemas/) beside
  // the bundle, where lib/validate/schemas.ts reads them (import.meta.url).
  commandHooks: {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (inputDir: string, outputDir: string) => [
      `mkdir -p "${outputDir}/schemas"`,
      `cp "${inputDir}"/lib/validate/schemas/*.json.gz "${outputDir}/schemas/"`,
    ],
  },
  charset: nodejs.Charset.UTF8,
  logLevel: nodejs.LogLevel.WARNING,
};

export interface DriftlessStackProps extends StackProps {
  config?: Partial<DriftlessConfig>;
  /** The table definition (lib/aws/dynamo/schema.ts); tests may pass another. */
  table?: TableDefinition;
}

export class DriftlessStack extends Stack {
  readonly config: DriftlessConfig;
  readonly table: dynamodb.Table;
  readonly jobQueue: sqs.Queue;
  readonly jobDeadLetterQueue: sqs.Queue;
  readonly delayQueue: sqs.Queue;
  readonly delayDeadLetterQueue: sqs.Queue;
  readonly outboxQueue: sqs.Queue;
  readonly outboxDeadLetterQueue: sqs.Queue;
  readonly functions: Record<FunctionName, lambda.Function>;
  readonly roles: Record<FunctionName, iam.Role>;
  readonly webhookSecret: secretsmanager.Secret;
  readonly githubSecret: secretsmanager.Secret;
  readonly httpApi: apigw.HttpApi;
  readonly webhookUrl: lambda.FunctionUrl;
  readonly alarmTopic?: sns.Topic;

  constructor(scope: Construct, id: string, props: DriftlessStackProps = {}) {
    super(scope, id, props);
    const config = DriftlessConfigSchema.parse(props.config ?? {});
    this.config = config;
    const tableDef = props.table ?? TABLE_DEFINITION;

    // ---------------------------------------------------------------------
    // Data: one table, from the data plane's own definition.

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: keyAttribute(tableDef.partitionKey),
      sortKey: keyAttribute(tableDef.sortKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: tableDef.timeToLiveAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of tableDef.globalSecondaryIndexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: keyAttribute(index.partitionKey),
        sortKey: keyAttribute(index.sortKey),
        projectionType: dynamodb.ProjectionType.INCLUDE,
        nonKeyAttributes: [...index.nonKeyAttributes],
      });
    }

    // ---------------------------------------------------------------------
    // Queues. The worker's timeout bounds one batch (its targets reconciled
    // at once, lib/message-groups.ts), and the queues' visibility timeout is 6× that, as SQS
    // advises for Lambda event sources: a batch whose invocation is throttled
    // is retried by the event source while its messages stay in flight, and a
    // shorter timeout would let them come back (and count a receive towards
    // the dead-letter limit) before they were ever processed. The long
    // default only matters when a worker dies: retries set their own backoff
    // with ChangeMessageVisibility (lib/aws/messages.ts), and successes are
    // deleted.

    const workerTimeout = Duration.seconds(
      Math.max(120, Math.ceil(config.waitBudgetMs / 1000) + WORKER_WORK_SECONDS),
    );
    const visibilityTimeout = Duration.seconds(workerTimeout.toSeconds() * 6);
    const queueDefaults = {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    } as const;

    this.jobDeadLetterQueue = new sqs.Queue(this, 'JobDeadLetterQueue', {
      ...queueDefaults,
      fifo: true,
      retentionPeriod: Duration.days(14),
    });
    this.jobQueue = new sqs.Queue(this, 'JobQueue', {
      ...queueDefaults,
      fifo: true,
      // Deduplication ids come from the trigger (delivery id, sweep window).
      contentBasedDeduplication: false,
      // High-throughput FIFO: groups are targets (app#cluster), and a sweep
      // or a push to a repo followed by many targets fans out across them.
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      visibilityTimeout,
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.jobDeadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    this.delayDeadLetterQueue = new sqs.Queue(this, 'DelayDeadLetterQueue', {
      ...queueDefaults,
      retentionPeriod: Duration.days(14),
    });
    // Health re-checks: a FIFO queue cannot delay one message (lib/aws/queue.ts).
    this.delayQueue = new sqs.Queue(this, 'DelayQueue', {
      ...queueDefaults,
      visibilityTimeout,
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.delayDeadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });

    // The commit status outbox: FIFO, one group per repository+commit+context
    // (lib/aws/outbox.ts), so a context's reports arrive in order and a retry
    // holds back the newer ones behind it; deduplicated by the body's hash.
    this.outboxDeadLetterQueue = new sqs.Queue(this, 'OutboxDeadLetterQueue', {
      ...queueDefaults,
      fifo: true,
      retentionPeriod: Duration.days(14),
    });
    this.outboxQueue = new sqs.Queue(this, 'OutboxQueue', {
      ...queueDefaults,
      fifo: true,
      contentBasedDeduplication: false,
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      visibilityTimeout: Duration.seconds(OUTBOX_TIMEOUT_SECONDS * 6),
      retentionPeriod: Duration.days(1),
      deadLetterQueue: {
        queue: this.outboxDeadLetterQueue,
        maxReceiveCount: OUTBOX_MAX_RECEIVE_COUNT,
      },
    });

    // ---------------------------------------------------------------------
    // Secrets: values are set by the user (README, "Deploy").

    this.webhookSecret = new secretsmanager.Secret(this, 'WebhookSecret', {
      description:
        'Driftless: GitHub webhook secret (generated; give GitHub this value, or put your own). During a rotation: {"secrets": ["new", "old"]}; per repository: {"repositories": {"owner/name": ["new", "old"]}, "default": "..."} (README).',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    const githubApp = config.githubAppId !== undefined;
    this.githubSecret = new secretsmanager.Secret(this, 'GitHubCredentials', {
      description: githubApp
        ? `Driftless: PEM private key of GitHub App ${config.githubAppId} (placeholder until you put it)`
        : 'Driftless: GitHub token with commit statuses: write (placeholder until you put it)',
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
    });
    for (const secret of [this.webhookSecret, this.githubSecret]) {
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'Rotation needs the other side changed too (the GitHub webhook or App configuration), which Secrets Manager cannot do; the webhook accepts a current and a previous secret (per repository too) so a manual rotation has no gap.',
      });
    }

    // ---------------------------------------------------------------------
    // Functions.

    const renderTools = config.renderTools ? new KubectlV34Layer(this, 'KubectlLayer') : undefined;
    const common: Record<string, string> = {
      [ENV.table]: this.table.tableName,
      // configFromEnv requires both queue URLs in every function.
      [ENV.queueUrl]: this.jobQueue.queueUrl,
      [ENV.delayQueueUrl]: this.delayQueue.queueUrl,
      [ENV.powertoolsMetricsNamespace]: config.metricsNamespace,
      [ENV.powertoolsLogLevel]: config.logLevel,
      // Opt-in at rest (driftless:metrics, driftless:tracing): the sweep emits
      // its metrics and a trace every minute even when nothing is due.
      ...(metricsEnabled(config) ? {} : { [ENV.powertoolsMetricsDisabled]: 'true' }),
      ...(config.tracing ? {} : { [ENV.powertoolsTraceEnabled]: 'false' }),
    };
    const github: Record<string, string> = {
      ...(githubApp
        ? {
            [ENV.githubAppId]: String(config.githubAppId),
            [ENV.githubInstallationId]: String(config.githubInstallationId),
            [ENV.githubPrivateKeySecretId]: this.githubSecret.secretArn,
          }
        : { [ENV.githubTokenSecretId]: this.githubSecret.secretArn }),
      ...(config.githubApiUrl ? { [ENV.githubApiUrl]: config.githubApiUrl } : {}),
    };
    const tools: Record<string, string> = renderTools
      ? { [ENV.kubectl]: '/opt/kubectl/kubectl', [ENV.helm]: '/opt/helm/helm' }
      : {};

    const make = (
      name: FunctionName,
      opts: {
        description: string;
        memorySize: number;
        timeout: Duration;
        environment?: Record<string, string>;
        clusterAccess?: boolean;
        reservedConcurrentExecutions?: number;
      },
    ) => {
      const id = capitalize(name);
      const role = new iam.Role(this, `${id}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Driftless ${name} function`,
      });
      const logGroup = new logs.LogGroup(this, `${id}Logs`, {
        retention: config.logRetentionDays as logs.RetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      // Explicit log permissions on the function's own log group (instead of
      // AWSLambdaBasicExecutionRole, which allows every log group).
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn],
        }),
      );
      // The kubectl layer's binaries are x86_64 only.
      const layered = !!renderTools && !!opts.clusterAccess;
      const fn = new nodejs.NodejsFunction(this, `${id}Function`, {
        entry: path.join(PROJECT_ROOT, 'functions', `${name}.ts`),
        handler: 'handler',
        projectRoot: PROJECT_ROOT,
        depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: layered ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64,
        description: opts.description,
        memorySize: opts.memorySize,
        timeout: opts.timeout,
        role,
        logGroup,
        tracing: config.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
        reservedConcurrentExecutions: opts.reservedConcurrentExecutions,
        layers: layered && renderTools ? [renderTools] : undefined,
        environment: {
          ...common,
          [ENV.powertoolsServiceName]: `driftless-${name}`,
          ...opts.environment,
          ...(layered ? tools : {}),
        },
        bundling: BUNDLING,
      });
      Validations.of(fn).acknowledge({
        id: 'AwsSolutions-L1',
        reason:
          'Node.js 22 is the runtime Driftless is built and tested on (package.json engines, the test toolchain); Lambda supports it until 2027. Moving to a newer runtime goes together with the toolchain.',
      });
      if (config.tracing)
        Validations.of(role).acknowledge({
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            'X-Ray (tracing: Active) has no resource-level permissions: xray:PutTraceSegments and xray:PutTelemetryRecords are allowed on "*" only.',
        });
      return { fn, role };
    };

    const outboxUrl = { [ENV.outboxQueueUrl]: this.outboxQueue.queueUrl };
    const secretPrefix = sourceSecretPrefix(this.stackName);
    const webhook = make('webhook', {
      description: 'Driftless: GitHub webhook (HMAC verified) → wanted revision → job queue',
      memorySize: 512,
      // GitHub gives up on a delivery after 10 s; the webhook calls no GitHub API.
      timeout: Duration.seconds(30),
      // Capped, so a flood of (unsigned) bodies is throttled here and cannot
      // take the account's concurrency from the worker and the API.
      reservedConcurrentExecutions:
        config.webhookReservedConcurrency === 'none'
          ? undefined
          : config.webhookReservedConcurrency,
      environment: { [ENV.webhookSecretId]: this.webhookSecret.secretArn, ...outboxUrl },
    });
    const worker = make('worker', {
      description: 'Driftless: reconcile worker (job queue and delayed health checks)',
      memorySize: config.workerMemoryMb,
      timeout: workerTimeout,
      clusterAccess: true,
      reservedConcurrentExecutions: config.workerReservedConcurrency,
      environment: {
        [ENV.deadLetterQueueUrl]: this.jobDeadLetterQueue.queueUrl,
        [ENV.waitBudgetMs]: String(config.waitBudgetMs),
        [ENV.workerGroupConcurrency]: String(config.workerGroupConcurrency),
        // Derived from the timeout: a lease shorter than an invocation could be
        // taken over while its holder still works.
        [ENV.leaseTtlMs]: String((workerTimeout.toSeconds() + LEASE_MARGIN_SECONDS) * 1000),
        [ENV.gitCache]: '/tmp/driftless-git',
        [ENV.secretPrefix]: secretPrefix,
        // The worker runs the clusters' sweeps (lib/sweep/cluster.ts).
        [ENV.sweepPerCluster]: String(config.sweepPerCluster),
        // {"type":"githubApp"} credentials: the worker mints installation tokens.
        ...(githubApp ? github : {}),
        ...outboxUrl,
      },
    });
    const sweep = make('sweep', {
      description: 'Driftless: drift sweep tick (one sweep job per cluster → job queue)',
      // CPU scales with memory: 512 MB keeps a cold start of the 3 MB bundle short.
      memorySize: 512,
      timeout: Duration.seconds(60),
    });
    // The scheduler invokes the sweep asynchronously: Lambda's own async
    // retries (two by default, for up to six hours) would run a missed sweep
    // late, beside the next one. Neither retries; the next tick comes within the rate.
    sweep.fn.configureAsyncInvoke({
      retryAttempts: 0,
      maxEventAge: Duration.seconds(60 * config.sweepRateMinutes),
    });
    const api = make('api', {
      description: 'Driftless: status API (apps, clusters, history, diff previews, sync)',
      memorySize: 1024,
      // An HTTP API waits at most 30 s for its integration.
      timeout: Duration.seconds(29),
      // Cluster access (and the render tools) only for diff previews.
      clusterAccess: config.apiPreviews,
      environment: {
        [ENV.gitCache]: '/tmp/driftless-git',
        [ENV.deadLetterQueueUrl]: this.jobDeadLetterQueue.queueUrl,
        // Who administers Driftless (clusters, projects, credentials): the
        // configured principals, else any principal of this account.
        [ENV.adminPrincipals]: (
          config.adminPrincipals ?? [
            `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:*`,
            `arn:${Aws.PARTITION}:sts::${Aws.ACCOUNT_ID}:assumed-role/*`,
          ]
        ).join(','),
        // Names the secret a preview of a private repository would need; the
        // API's role may not read it (only the worker reads source credentials).
        [ENV.secretPrefix]: secretPrefix,
        [ENV.apiPreviews]: String(config.apiPreviews),
      },
    });
    const outbox = make('outbox', {
      description: 'Driftless: commit status outbox → GitHub (coalesced, rate-limited, retried)',
      memorySize: 512,
      timeout: Duration.seconds(OUTBOX_TIMEOUT_SECONDS),
      environment: { ...github, ...outboxUrl },
    });
    this.functions = {
      webhook: webhook.fn,
      worker: worker.fn,
      sweep: sweep.fn,
      api: api.fn,
      outbox: outbox.fn,
    };
    this.roles = {
      webhook: webhook.role,
      worker: worker.role,
      sweep: sweep.role,
      api: api.role,
      outbox: outbox.role,
    };

    // ---------------------------------------------------------------------
    // Permissions, per code path. DynamoDB item writes are confined to the
    // partitions a function owns with dynamodb:LeadingKeys.

    const tableArn = this.table.tableArn;
    const indexArn = (name: string) => `${tableArn}/index/${name}`;
    const onlyPartitions = (...patterns: string[]) => ({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': patterns },
    });

    // webhook: lib/github/webhook.ts → catalog.targetsForRepo (Query `list`),
    // catalog.getApplication (GetItem APP#…, the apps' paths), catalog.recordWantedRevision
    // (UpdateItem TARGET#…), queue.enqueue (SendMessage[Batch] to the job queue),
    // the webhook secret, pending statuses to the outbox (SendMessage[Batch]; no
    // GitHub credentials); Powertools idempotency records (pk=IDEMPOTENCY):
    // Get/Put/Update/DeleteItem.
    allow(webhook.role, 'RouteByRepository', ['dynamodb:Query'], [indexArn(LIST_INDEX)]);
    allow(webhook.role, 'ReadAppPaths', ['dynamodb:GetItem'], [tableArn], {
      ...onlyPartitions('APP#*'),
    });
    allow(webhook.role, 'RecordWantedRevision', ['dynamodb:UpdateItem'], [tableArn], {
      ...onlyPartitions('TARGET#*'),
    });
    allow(
      webhook.role,
      'Idempotency',
      ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      [tableArn],
      onlyPartitions(IDEMPOTENCY_PARTITION),
    );
    allow(webhook.role, 'Enqueue', ['sqs:SendMessage'], [this.jobQueue.queueArn]);
    allow(webhook.role, 'ReportToOutbox', ['sqs:SendMessage'], [this.outboxQueue.queueArn]);
    allow(
      webhook.role,
      'WebhookSecret',
      ['secretsmanager:GetSecretValue'],
      [this.webhookSecret.secretArn],
    );

    // sweep: lib/sweep/index.ts → catalog.listClusters (Query `list`),
    // queue.enqueueSweeps (one job per cluster); the clusters' guards (GetItem
    // GUARD#…) to leave clusters with an open breaker or a 429's pause alone.
    // The cluster sweeps themselves run in the worker.
    allow(sweep.role, 'ListClusters', ['dynamodb:Query'], [indexArn(LIST_INDEX)]);
    allow(
      sweep.role,
      'ClusterGuards',
      ['dynamodb:GetItem'],
      [tableArn],
      onlyPartitions(`${GUARD_PARTITION_PREFIX}*`),
    );
    allow(sweep.role, 'Enqueue', ['sqs:SendMessage'], [this.jobQueue.queueArn]);

    // api: lib/api/ → reads the whole catalog (the clusters' guards too, for
    // their state); writes specs, Repository records and target records
    // (deleting a target batch-deletes its status and history), a target's
    // item in its cluster's sweep partition (spec-derived: interval,
    // suspension, sources), and nothing else — not the clusters' guards (the worker's) nor the webhook's
    // idempotency records; the `list` index for listings, queue.enqueue for
    // sync; diff previews read the catalog and the cluster and write nothing
    // (no lease).
    allow(api.role, 'ReadCatalog', ['dynamodb:GetItem', 'dynamodb:Query'], [tableArn]);
    allow(
      api.role,
      'WriteCatalog',
      ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'],
      [tableArn],
      onlyPartitions(
        'APP#*',
        'CLUSTER#*',
        'PROJECT#*',
        'REPOSITORY#*',
        'TARGET#*',
        `${SWEEP_PARTITION_PREFIX}*`,
      ),
    );
    allow(api.role, 'Listings', ['dynamodb:Query'], [indexArn(LIST_INDEX)]);
    allow(api.role, 'Enqueue', ['sqs:SendMessage'], [this.jobQueue.queueArn]);
    // GET /deadletters and POST /deadletters/redrive (lib/aws/deadletters.ts):
    // receive, make visible again (listing), delete once sent back to the job queue.
    allow(
      api.role,
      'DeadLetters',
      ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage'],
      [this.jobDeadLetterQueue.queueArn],
    );

    // worker: lib/worker.ts + lib/reconcile/ → reads specs, clusters, status
    // (GetItem, Query); writes only its targets' partitions: lease (UpdateItem),
    // status (UpdateItem, PutItem), history (PutItem, DeleteItem of the oldest);
    // and the clusters' sweep partitions (lib/sweep/cluster.ts: the sweep
    // record, PutItem; a check's view of a target, UpdateItem). Delayed health checks; dead-lettering; retries via
    // ChangeMessageVisibility (granted with the event sources below); commit
    // statuses to the outbox (no GitHub credentials).
    allow(worker.role, 'ReadCatalog', ['dynamodb:GetItem', 'dynamodb:Query'], [tableArn]);
    // The Repository records (lib/source/credentials.ts: an app that names no
    // credentials gets the longest matching urlPrefix's), listed from the
    // `list` index's REPOSITORIES partition and no other listing.
    allow(
      worker.role,
      'ListRepositories',
      ['dynamodb:Query'],
      [indexArn(LIST_INDEX)],
      onlyPartitions(LIST_REPOSITORIES),
    );
    // The clusters' guards (lib/aws/cluster-guard.ts): slots, breaker, backoff.
    allow(
      worker.role,
      'ClusterGuards',
      ['dynamodb:PutItem'],
      [tableArn],
      onlyPartitions(`${GUARD_PARTITION_PREFIX}*`),
    );
    allow(
      worker.role,
      'WriteTargets',
      ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      [tableArn],
      onlyPartitions('TARGET#*'),
    );
    allow(
      worker.role,
      'WriteSweeps',
      ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
      [tableArn],
      onlyPartitions(`${SWEEP_PARTITION_PREFIX}*`),
    );
    allow(
      worker.role,
      'EnqueueHealthCheckAndDeadLetter',
      ['sqs:SendMessage'],
      [this.delayQueue.queueArn, this.jobDeadLetterQueue.queueArn],
    );
    // A cluster's sweep (lib/sweep/cluster.ts) queues reconcile jobs for the targets that changed.
    allow(worker.role, 'EnqueueFromSweep', ['sqs:SendMessage'], [this.jobQueue.queueArn]);
    allow(worker.role, 'ReportToOutbox', ['sqs:SendMessage'], [this.outboxQueue.queueArn]);
    // SOPS (lib/source/decrypt.ts): kms:Decrypt on the keys the user lists
    // (driftless:sopsKmsKeys) and sts:AssumeRole on the roles apps may name
    // in spec.decryption.roleArn (driftless:sopsRoles); nothing by default.
    // Only the worker decrypts: the API's diff previews of such apps are refused by KMS.
    if (config.sopsKmsKeys.length > 0) {
      allow(worker.role, 'SopsKmsDecrypt', ['kms:Decrypt'], config.sopsKmsKeys);
    }
    if (config.sopsRoles.length > 0) {
      allow(worker.role, 'SopsAssumeRole', ['sts:AssumeRole'], config.sopsRoles);
    }
    // Source credentials (lib/source/credentials.ts): secrets under the stack's
    // prefix only (the ARN's random suffix is what the trailing * matches);
    // with a GitHub App, its private key too, to mint installation tokens.
    // The webhook and the API read none of them.
    const sourceSecrets = this.formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${secretPrefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    allow(worker.role, 'SourceCredentials', ['secretsmanager:GetSecretValue'], [sourceSecrets]);
    // cdk-nag names the resource as it renders it: tokens as <AWS::…>.
    const nag = (v: string, token: string) => (Token.isUnresolved(v) ? `<AWS::${token}>` : v);
    Validations.of(worker.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:${nag(this.region, 'Region')}:${nag(this.account, 'AccountId')}:secret:${secretPrefix}*]`,
      reason:
        "Source credentials are secrets the user creates under the stack's name prefix (README, Private repositories); the * is the prefix's rest and the ARN's random suffix, and no other secret matches.",
    });
    if (githubApp) {
      allow(
        worker.role,
        'GitHubAppKey',
        ['secretsmanager:GetSecretValue'],
        [this.githubSecret.secretArn],
      );
    }

    // outbox: lib/github/outbox.ts + status.ts → the GitHub credentials; its
    // queue's messages (receive, delete, ChangeMessageVisibility for
    // Retry-After and backoff: granted with the event source below).
    allow(
      outbox.role,
      'CommitStatusCredentials',
      ['secretsmanager:GetSecretValue'],
      [this.githubSecret.secretArn],
    );

    // Event sources: batches of driftless:workerGroupConcurrency messages;
    // the worker runs a batch's message groups (targets) at once, each
    // group's messages in order (lib/message-groups.ts), so a slow target
    // holds up only its own later jobs. Each reconcile gets the invocation's
    // deadline and yields before it.
    worker.fn.addEventSource(
      new SqsEventSource(this.jobQueue, {
        batchSize: config.workerGroupConcurrency,
        reportBatchItemFailures: true,
        maxConcurrency: config.workerConcurrency,
      }),
    );
    worker.fn.addEventSource(
      new SqsEventSource(this.delayQueue, {
        batchSize: config.workerGroupConcurrency,
        maxBatchingWindow: Duration.seconds(0),
        reportBatchItemFailures: true,
        maxConcurrency: delayedQueueConcurrency(config),
      }),
    );

    // The outbox: batches of ten (coalesced per context), two invocations at
    // most (with its two posts at a time: four writes per installation).
    outbox.fn.addEventSource(
      new SqsEventSource(this.outboxQueue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: OUTBOX_CONCURRENCY,
      }),
    );

    // ---------------------------------------------------------------------
    // Endpoints.

    // Webhook: a Function URL with auth NONE. The HMAC signature is the
    // authentication (verified before parsing, lib/github/webhook.ts); GitHub
    // cannot sign requests with SigV4, and an API Gateway in front would add
    // cost and a 10 MB limit for nothing.
    this.webhookUrl = webhook.fn.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.BUFFERED,
    });

    // Status API: HTTP API, IAM (SigV4) authorization on every route.
    const apiAccessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.httpApi = new apigw.HttpApi(this, 'StatusApi', {
      description: 'Driftless status API (IAM authorization)',
      defaultIntegration: new HttpLambdaIntegration('ApiIntegration', api.fn, {
        payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0,
      }),
      defaultAuthorizer: new HttpIamAuthorizer(),
      createDefaultStage: false,
    });
    this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: 50, burstLimit: 100 },
      accessLogSettings: { destination: new apigw.LogGroupLogDestination(apiAccessLogs) },
    });
    const statusUrl = this.httpApi.apiEndpoint;
    worker.fn.addEnvironment(ENV.statusUrl, statusUrl);
    webhook.fn.addEnvironment(ENV.statusUrl, statusUrl);

    // Sweep schedule: EventBridge Scheduler with its own role, which may
    // invoke the sweep function (unqualified) and nothing else. A missed sweep
    // is not retried: the next one comes within the rate.
    const scheduleRole = new iam.Role(this, 'SweepScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
      description: 'Driftless: EventBridge Scheduler invokes the sweep',
    });
    allow(scheduleRole, 'InvokeSweep', ['lambda:InvokeFunction'], [sweep.fn.functionArn]);
    const rate = config.sweepRateMinutes;
    const schedule = new scheduler.CfnSchedule(this, 'SweepSchedule', {
      description: 'Driftless drift sweep tick: one sweep job per cluster',
      scheduleExpression: `rate(${rate} ${rate === 1 ? 'minute' : 'minutes'})`,
      flexibleTimeWindow: { mode: 'OFF' },
      state: 'ENABLED',
      target: {
        arn: sweep.fn.functionArn,
        roleArn: scheduleRole.roleArn,
        // The tick is the time it was scheduled for, not when the invocation ran.
        input: JSON.stringify({ scheduledTime: '<aws.scheduler.scheduled-time>' }),
        retryPolicy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 60 * rate },
      },
    });
    schedule.node.addDependency(scheduleRole);

    // ---------------------------------------------------------------------
    // Clusters.

    // Only the worker writes to clusters; the status API gets the same access
    // (a server-side dry run is authorized like the write) only with
    // driftless:apiPreviews on, and not on a cluster with `previews: false`.
    for (const [i, cluster] of config.clusters.entries()) {
      const previews = config.apiPreviews && cluster.previews;
      const principals: iam.Role[] = [worker.role, ...(previews ? [api.role] : [])];
      this.grantCluster(`Cluster${i}`, cluster, principals);
    }

    // ---------------------------------------------------------------------
    // Alarms and dashboard.

    if (config.alarmEmails.length) {
      this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
        displayName: 'Driftless alarms',
        enforceSSL: true,
      });
      for (const email of config.alarmEmails) {
        this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(email));
      }
      Validations.of(this.alarmTopic).acknowledge({
        id: 'AwsSolutions-SNS2',
        reason:
          'Alarm notifications carry alarm names and states only; CloudWatch alarms cannot publish to a topic encrypted with the AWS managed SNS key, and a customer managed key would cost money at rest for no protected data.',
      });
    }
    new DriftlessMonitoring(this, 'Monitoring', {
      functions: this.functions,
      jobQueue: this.jobQueue,
      delayQueue: this.delayQueue,
      deadLetterQueues: [this.jobDeadLetterQueue, this.delayDeadLetterQueue],
      outboxDeadLetterQueue: this.outboxDeadLetterQueue,
      metricsNamespace: config.metricsNamespace,
      maxQueueAgeSeconds: config.maxQueueAgeSeconds,
      topic: this.alarmTopic,
      alarms: config.alarms,
      dashboard: config.dashboard,
    });

    // ---------------------------------------------------------------------
    // Outputs (the CLI reads them).

    const out = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    out(
      'WebhookUrl',
      this.webhookUrl.url,
      'GitHub webhook payload URL (content type application/json)',
    );
    out('ApiEndpoint', this.httpApi.apiEndpoint, 'Status API (SigV4, service execute-api)');
    out('TableName', this.table.tableName, 'DynamoDB table');
    out('QueueUrl', this.jobQueue.queueUrl, 'Job queue (FIFO)');
    out('DelayQueueUrl', this.delayQueue.queueUrl, 'Delayed health-check queue');
    out('DeadLetterQueueUrl', this.jobDeadLetterQueue.queueUrl, 'Dead-letter queue of jobs');
    out(
      'DelayDeadLetterQueueUrl',
      this.delayDeadLetterQueue.queueUrl,
      'Dead-letter queue of health checks',
    );
    out('OutboxQueueUrl', this.outboxQueue.queueUrl, 'Commit status outbox (FIFO)');
    out(
      'OutboxDeadLetterQueueUrl',
      this.outboxDeadLetterQueue.queueUrl,
      'Dead-letter queue of commit statuses',
    );
    out('WebhookSecretArn', this.webhookSecret.secretArn, 'GitHub webhook secret');
    out(
      'GitHubCredentialsSecretArn',
      this.githubSecret.secretArn,
      githubApp ? 'GitHub App private key (PEM)' : 'GitHub token for commit statuses',
    );
    out('WorkerRoleArn', worker.role.roleArn, 'Worker role (EKS access entries)');
    out('ApiRoleArn', api.role.roleArn, 'Status API role (EKS access entries for previews)');
  }

  /**
   * EKS access for one cluster: an access entry per principal with the
   * configured policy (namespace-scoped when namespaces are given), and
   * eks:DescribeCluster on exactly that cluster. A cluster reached through a
   * role in its own account needs sts:AssumeRole on that role instead.
   */
  private grantCluster(id: string, cluster: ClusterAccess, principals: iam.Role[]) {
    if (cluster.roleArn) {
      for (const role of principals) {
        allow(role, `${id}AssumeRole`, ['sts:AssumeRole'], [cluster.roleArn]);
      }
      return;
    }
    const clusterArn = `arn:${Aws.PARTITION}:eks:${cluster.region}:${this.account}:cluster/${cluster.name}`;
    for (const role of principals) {
      allow(role, `${id}Describe`, ['eks:DescribeCluster'], [clusterArn]);
    }
    // An access entry is a resource of the cluster's region: this stack can
    // create it only when it is deployed there.
    let condition: CfnCondition | undefined;
    if (Token.isUnresolved(this.region)) {
      condition = new CfnCondition(this, `${id}InStackRegion`, {
        expression: Fn.conditionEquals(Aws.REGION, cluster.region),
      });
    } else if (this.region !== cluster.region) {
      Annotations.of(this).addWarningV2(
        'driftless:cluster-region',
        `EKS cluster ${cluster.name} is in ${cluster.region}, not in this stack's region ${this.region}: create its access entries there (principals: the WorkerRoleArn and ApiRoleArn outputs)`,
      );
      return;
    }
    const policyArn = `arn:${Aws.PARTITION}:eks::aws:cluster-access-policy/${cluster.accessPolicy}`;
    for (const role of principals) {
      const entry = new eks.CfnAccessEntry(this, `${id}${role.node.id}Access`, {
        clusterName: cluster.name,
        principalArn: role.roleArn,
        type: 'STANDARD',
        kubernetesGroups: cluster.kubernetesGroups,
        accessPolicies: [
          {
            policyArn,
            accessScope: cluster.namespaces
              ? { type: 'namespace', namespaces: cluster.namespaces }
              : { type: 'cluster' },
          },
        ],
      });
      if (condition) entry.cfnOptions.condition = condition;
    }
  }
}

function allow(
  role: iam.Role,
  sid: string,
  actions: string[],
  resources: string[],
  conditions?: Record<string, unknown>,
) {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: sid.replace(/[^A-Za-z0-9]/g, ''),
      actions,
      resources,
      conditions,
    }),
  );
}

function keyAttribute(k: { name: string; type: 'S' | 'N' }): dynamodb.Attribute {
  return {
    name: k.name,
    type: k.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
  };
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
