// The CDK stack, synthesized in-process (bundling skipped: the functions' code
// is bundled by `cdk synth` in test/integration/infra-synth.test.ts) and
// checked with aws-cdk-lib/assertions and cdk-nag's AwsSolutions pack.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, type CfnElement, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AT_REST_BUDGET,
  AT_REST_PRICES,
  type atRestCost,
  stackAtRest as costOf,
  ESM_IDLE_POLLERS,
  formatAtRest,
  MINUTES_PER_MONTH,
} from '../../bench/at-rest.js';
import { configFromEnv } from '../../functions/wiring/config.js';
import { DEFAULT_WORKER_GROUP_CONCURRENCY, ENV } from '../../functions/wiring/env.js';
import {
  ConfigError,
  configFromContext,
  DEFAULT_WEBHOOK_RESERVED_CONCURRENCY,
  type DriftlessConfig,
  metricsEnabled,
} from '../../infra/config.js';
import {
  BUNDLING,
  DriftlessStack,
  LEASE_MARGIN_SECONDS,
  MAX_RECEIVE_COUNT,
  OUTBOX_MAX_RECEIVE_COUNT,
  sourceSecretPrefix,
} from '../../infra/stack.js';
import { createTableInput, TABLE_DEFINITION } from '../../lib/aws/dynamo/schema.js';
import { MAX_RETRY_LIMIT } from '../../lib/model/application.js';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
/** The secrets the worker may read: those under the stack's prefix, and no other. */
const SOURCE_SECRETS = `arn:AWS::Partition:secretsmanager:${REGION}:${ACCOUNT}:secret:driftless/Driftless/*`;

function synth(
  config: Partial<DriftlessConfig> = {},
  env: { account?: string; region?: string } | null = { account: ACCOUNT, region: REGION },
) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new DriftlessStack(app, 'Driftless', {
    config,
    ...(env ? { env } : {}),
  });
  return { app, stack, template: Template.fromStack(stack) };
}

type Json = Record<string, unknown>;
type Statement = {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Condition?: Json;
  Principal?: unknown;
};

const asList = <T>(v: T | T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/** A resource reference as text: {"Fn::GetAtt": ["X", "Arn"]} → X.Arn, {Ref: X} → X, joins joined. */
function ref(v: unknown): string {
  if (typeof v === 'string') return v;
  const o = v as Json;
  if (o['Fn::GetAtt']) return (o['Fn::GetAtt'] as string[]).join('.');
  if (o.Ref) return String(o.Ref);
  if (o['Fn::Join']) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map(ref).join(sep);
  }
  return JSON.stringify(v);
}

/** Every policy statement in the template: identity policies, inline role policies, resource policies. */
function allStatements(template: Template): { owner: string; statement: Statement }[] {
  const out: { owner: string; statement: Statement }[] = [];
  for (const [id, r] of Object.entries(template.toJSON().Resources as Record<string, Json>)) {
    const props = (r.Properties ?? {}) as Json;
    const docs: unknown[] = [];
    if (props.PolicyDocument) docs.push(props.PolicyDocument);
    for (const p of asList(props.Policies as Json[] | undefined)) docs.push(p.PolicyDocument);
    for (const doc of docs) {
      for (const statement of asList((doc as Json).Statement as Statement[])) {
        out.push({ owner: id, statement });
      }
    }
  }
  return out;
}

/** role logical id → ["action resource [condition]"] of its identity policies. */
function permissions(template: Template): Map<string, Set<string>> {
  const byRole = new Map<string, Set<string>>();
  const policies = template.findResources('AWS::IAM::Policy');
  for (const policy of Object.values(policies)) {
    const props = policy.Properties as Json;
    for (const role of asList(props.Roles as unknown[])) {
      const set = byRole.get(ref(role)) ?? new Set<string>();
      byRole.set(ref(role), set);
      for (const s of asList((props.PolicyDocument as Json).Statement as Statement[])) {
        expect(s.Effect).toBe('Allow');
        const condition = s.Condition ? ` if ${JSON.stringify(s.Condition)}` : '';
        for (const a of asList(s.Action))
          for (const r of asList(s.Resource)) set.add(`${a} ${ref(r)}${condition}`);
      }
    }
  }
  return byRole;
}

function id(stack: DriftlessStack, c: IConstruct): string {
  return stack.getLogicalId(c.node.defaultChild as CfnElement);
}

describe('configuration from context', () => {
  const ctx = (values: Record<string, unknown>) => (key: string) => values[key];

  it('has defaults that deploy without any context', () => {
    const c = configFromContext(ctx({}));
    expect(c).toMatchObject({
      clusters: [],
      alarmEmails: [],
      sweepRateMinutes: 1,
      workerConcurrency: 10,
      waitBudgetMs: 20_000,
      logRetentionDays: 30,
      metricsNamespace: 'Driftless',
      renderTools: false,
      apiPreviews: false,
      webhookReservedConcurrency: DEFAULT_WEBHOOK_RESERVED_CONCURRENCY,
      workerGroupConcurrency: DEFAULT_WORKER_GROUP_CONCURRENCY,
      alarms: 'essential',
      dashboard: false,
      tracing: false,
    });
    expect(c.metrics).toBeUndefined();
  });

  it('hands the worker its group concurrency through the environment, refusing a bad value by name', () => {
    const base = { [ENV.table]: 't', [ENV.queueUrl]: 'q', [ENV.delayQueueUrl]: 'd' };
    expect(configFromEnv(base).workerGroupConcurrency).toBe(DEFAULT_WORKER_GROUP_CONCURRENCY);
    expect(
      configFromEnv({ ...base, [ENV.workerGroupConcurrency]: '7' }).workerGroupConcurrency,
    ).toBe(7);
    for (const bad of ['0', '2.5', 'four'])
      expect(() => configFromEnv({ ...base, [ENV.workerGroupConcurrency]: bad })).toThrow(
        `environment variable DRIFTLESS_WORKER_GROUP_CONCURRENCY must be a positive integer, got "${bad}"`,
      );
  });

  it('reads the worker group concurrency and the at-rest opt-ins, naming a bad key', () => {
    const c = configFromContext(
      ctx({
        'driftless:workerGroupConcurrency': '8',
        'driftless:alarms': 'all',
        'driftless:dashboard': 'true',
        'driftless:tracing': true,
      }),
    );
    expect(c).toMatchObject({
      workerGroupConcurrency: 8,
      alarms: 'all',
      dashboard: true,
      tracing: true,
    });
    expect(metricsEnabled(c)).toBe(true); // the dashboard graphs them
    expect(metricsEnabled(configFromContext(ctx({})))).toBe(false);
    expect(metricsEnabled(configFromContext(ctx({ 'driftless:metrics': 'true' })))).toBe(true);
    expect(() => configFromContext(ctx({ 'driftless:workerGroupConcurrency': '11' }))).toThrow(
      /driftless:workerGroupConcurrency: .*10/,
    );
    expect(() => configFromContext(ctx({ 'driftless:alarms': 'some' }))).toThrow(
      /driftless:alarms: /,
    );
    expect(() =>
      configFromContext(ctx({ 'driftless:dashboard': 'true', 'driftless:metrics': 'false' })),
    ).toThrow(/driftless:dashboard needs driftless:metrics/);
  });

  it('reads apiPreviews and the webhook reserved concurrency ("none" for no reservation)', () => {
    expect(
      configFromContext(
        ctx({ 'driftless:apiPreviews': 'true', 'driftless:webhookReservedConcurrency': '25' }),
      ),
    ).toMatchObject({ apiPreviews: true, webhookReservedConcurrency: 25 });
    expect(
      configFromContext(ctx({ 'driftless:webhookReservedConcurrency': 'none' }))
        .webhookReservedConcurrency,
    ).toBe('none');
    expect(() => configFromContext(ctx({ 'driftless:webhookReservedConcurrency': 0 }))).toThrow(
      /driftless:webhookReservedConcurrency/,
    );
  });

  it('reads clusters as an array, a JSON string (from -c) or a JSON file', () => {
    const clusters = [{ name: 'prod', region: 'eu-west-1', namespaces: ['web'] }];
    const fromArray = configFromContext(ctx({ 'driftless:clusters': clusters }));
    expect(fromArray.clusters).toEqual([
      {
        name: 'prod',
        region: 'eu-west-1',
        namespaces: ['web'],
        accessPolicy: 'AmazonEKSEditPolicy',
        previews: true,
      },
    ]);
    const fromString = configFromContext(
      ctx({ 'driftless:clusters': JSON.stringify(clusters), 'driftless:workerConcurrency': '4' }),
    );
    expect(fromString.clusters).toEqual(fromArray.clusters);
    expect(fromString.workerConcurrency).toBe(4);
    const dir = mkdtempSync(path.join(tmpdir(), 'driftless-config-'));
    try {
      writeFileSync(path.join(dir, 'clusters.json'), JSON.stringify(clusters));
      const fromFile = configFromContext(ctx({ 'driftless:clusters': 'clusters.json' }), dir);
      expect(fromFile.clusters).toEqual(fromArray.clusters);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads alarm emails as a list or comma-separated', () => {
    expect(
      configFromContext(ctx({ 'driftless:alarmEmail': 'a@example.com, b@example.com' }))
        .alarmEmails,
    ).toEqual(['a@example.com', 'b@example.com']);
  });

  it.each([
    [{ 'driftless:clusters': [{ name: 'prod', region: 'Ireland' }] }, /clusters\[0\]\.\[region\]/],
    [
      { 'driftless:clusters': [{ name: 'prod', region: 'eu-west-1', accesPolicy: 'x' }] },
      /clusters\[0\].*[Uu]nrecognized key/,
    ],
    [
      {
        'driftless:clusters': [
          { name: 'prod', region: 'eu-west-1' },
          { name: 'prod', region: 'eu-west-1' },
        ],
      },
      /listed twice/,
    ],
    [
      {
        'driftless:clusters': [
          {
            name: 'prod',
            region: 'eu-west-1',
            accessPolicy: 'AmazonEKSClusterAdminPolicy',
            namespaces: ['web'],
          },
        ],
      },
      /cluster-wide/,
    ],
    [{ 'driftless:clusters': '[{' }, /not valid JSON/],
    [{ 'driftless:clusters': 'missing.json' }, /cannot read/],
    [{ 'driftless:logRetentionDays': 31 }, /logRetentionDays: must be one of/],
    [{ 'driftless:alarmEmail': 'not-an-email' }, /alarmEmail/],
    [{ 'driftless:githubAppId': '123' }, /go together/],
    [{ 'driftless:workerReservedConcurrency': 5 }, /below the worker's event source concurrency/],
  ])('rejects %j', (values, message) => {
    expect(() => configFromContext(ctx(values))).toThrow(ConfigError);
    expect(() => configFromContext(ctx(values))).toThrow(message);
  });
});

describe('DriftlessStack', { timeout: 60_000 }, () => {
  let stack: DriftlessStack;
  let template: Template;

  beforeAll(() => {
    ({ stack, template } = synth({
      clusters: [
        {
          name: 'prod',
          region: REGION,
          accessPolicy: 'AmazonEKSEditPolicy',
          namespaces: ['web', 'api'],
          previews: true,
        },
        { name: 'ops', region: REGION, accessPolicy: 'AmazonEKSViewPolicy', previews: false },
      ],
      alarmEmails: ['ops@example.com'],
      apiPreviews: true,
      // Every opt-in on, to check what each creates (the default is below).
      alarms: 'all',
      dashboard: true,
      tracing: true,
    }));
    // The first synth in a process loads CDK's CloudFormation validator (WebAssembly).
  }, 120_000);

  it('has a FIFO job queue with a FIFO dead-letter queue, and a delayed queue with its own', () => {
    const worker = template.findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('reconcile worker') },
    });
    const workerTimeout = Number(
      (Object.values(worker)[0]?.Properties as Json | undefined)?.Timeout,
    );
    expect(workerTimeout).toBe(120);
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      ContentBasedDeduplication: false,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      VisibilityTimeout: 6 * workerTimeout,
      SqsManagedSseEnabled: true,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [id(stack, stack.jobDeadLetterQueue), 'Arn'] },
        maxReceiveCount: MAX_RECEIVE_COUNT,
      },
    });
    expect(
      template.toJSON().Resources[id(stack, stack.jobDeadLetterQueue)].Properties,
    ).toMatchObject({ FifoQueue: true, MessageRetentionPeriod: 14 * 86400 });
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: Match.absent(),
      VisibilityTimeout: 6 * workerTimeout,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [id(stack, stack.delayDeadLetterQueue), 'Arn'] },
        maxReceiveCount: MAX_RECEIVE_COUNT,
      },
    });
    // The worker dead-letters at the start of the attempt after the last one (limit + 2);
    // SQS's redrive comes one receive later, never before the worker's own.
    expect(MAX_RECEIVE_COUNT).toBe(MAX_RETRY_LIMIT + 2);
    // The commit status outbox: FIFO per context, its own FIFO dead-letter queue.
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      ContentBasedDeduplication: false,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      SqsManagedSseEnabled: true,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [id(stack, stack.outboxDeadLetterQueue), 'Arn'] },
        maxReceiveCount: OUTBOX_MAX_RECEIVE_COUNT,
      },
    });
    expect(
      template.toJSON().Resources[id(stack, stack.outboxDeadLetterQueue)].Properties,
    ).toMatchObject({ FifoQueue: true });
    // Every queue refuses plain HTTP.
    template.resourceCountIs('AWS::SQS::QueuePolicy', 6);
  });

  it('gives the outbox function its queue: batches of ten, two invocations, partial batch responses', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: id(stack, stack.functions.outbox) },
      EventSourceArn: { 'Fn::GetAtt': [id(stack, stack.outboxQueue), 'Arn'] },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
  });

  it('gives the worker both queues as event sources with partial batch responses', () => {
    const worker = id(stack, stack.functions.worker);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: worker },
      EventSourceArn: { 'Fn::GetAtt': [id(stack, stack.jobQueue), 'Arn'] },
      // DEFAULT_WORKER_GROUP_CONCURRENCY targets a batch, reconciled at once.
      BatchSize: 4,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: worker },
      EventSourceArn: { 'Fn::GetAtt': [id(stack, stack.delayQueue), 'Arn'] },
      BatchSize: 4,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    // And the outbox function's one.
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 3);
  });

  it('builds the table from lib/aws/dynamo/schema.ts, retained, with PITR, TTL and deletion protection', () => {
    const expected = createTableInput('ignored');
    const tables = template.findResources('AWS::DynamoDB::Table');
    expect(Object.keys(tables)).toHaveLength(1);
    const table = Object.values(tables)[0] as Json;
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    const p = table.Properties as Json;
    expect(p.BillingMode).toBe('PAY_PER_REQUEST');
    expect(p.DeletionProtectionEnabled).toBe(true);
    expect(p.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(p.TimeToLiveSpecification).toEqual({
      AttributeName: TABLE_DEFINITION.timeToLiveAttribute,
      Enabled: true,
    });
    expect(p.KeySchema).toEqual(expected.KeySchema);
    const byName = <T extends { AttributeName?: string; IndexName?: string }>(a: T[]) =>
      [...a].sort((x, y) =>
        String(x.AttributeName ?? x.IndexName).localeCompare(
          String(y.AttributeName ?? y.IndexName),
        ),
      );
    expect(byName(p.AttributeDefinitions as { AttributeName: string }[])).toEqual(
      byName(expected.AttributeDefinitions ?? []),
    );
    const gsis = (p.GlobalSecondaryIndexes as Json[]).map((g) => ({
      IndexName: g.IndexName as string,
      KeySchema: g.KeySchema,
      Projection: {
        ProjectionType: (g.Projection as Json).ProjectionType,
        NonKeyAttributes: [...((g.Projection as Json).NonKeyAttributes as string[])].sort(),
      },
    }));
    expect(byName(gsis)).toEqual(
      byName(
        (expected.GlobalSecondaryIndexes ?? []).map((g) => ({
          IndexName: g.IndexName as string,
          KeySchema: g.KeySchema,
          Projection: {
            ProjectionType: g.Projection?.ProjectionType,
            NonKeyAttributes: [...(g.Projection?.NonKeyAttributes ?? [])].sort(),
          },
        })),
      ),
    );
  });

  it('runs every function on Node.js 22, arm64, traced, with its own log group and Powertools settings', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(5);
    for (const [name, fn] of Object.entries(stack.functions)) {
      const p = functions[id(stack, fn)]?.Properties as Json;
      expect(p.Runtime).toBe('nodejs22.x');
      expect(p.Architectures).toEqual(['arm64']);
      expect(p.Handler).toBe('index.handler');
      expect(p.TracingConfig).toEqual({ Mode: 'Active' });
      expect(p.Layers).toBeUndefined();
      const logGroup = ((p.LoggingConfig as Json).LogGroup as Json).Ref as string;
      expect(template.toJSON().Resources[logGroup].Properties.RetentionInDays).toBe(30);
      const env = (p.Environment as Json).Variables as Record<string, unknown>;
      expect(env).toMatchObject({
        DRIFTLESS_TABLE: { Ref: id(stack, stack.table) },
        DRIFTLESS_QUEUE_URL: { Ref: id(stack, stack.jobQueue) },
        DRIFTLESS_DELAY_QUEUE_URL: { Ref: id(stack, stack.delayQueue) },
        POWERTOOLS_SERVICE_NAME: `driftless-${name}`,
        POWERTOOLS_METRICS_NAMESPACE: 'Driftless',
        POWERTOOLS_LOG_LEVEL: 'INFO',
      });
      expect(env.DRIFTLESS_KUBECTL).toBeUndefined();
    }
    const env = (name: keyof typeof stack.functions) =>
      (functions[id(stack, stack.functions[name])]?.Properties as Json | undefined)
        ?.Environment as Json;
    const outboxUrl = { Ref: id(stack, stack.outboxQueue) };
    expect(env('worker').Variables).toMatchObject({
      DRIFTLESS_DLQ_URL: { Ref: id(stack, stack.jobDeadLetterQueue) },
      DRIFTLESS_WAIT_BUDGET_MS: '20000',
      DRIFTLESS_OUTBOX_QUEUE_URL: outboxUrl,
      DRIFTLESS_STATUS_URL: { 'Fn::GetAtt': [id(stack, stack.httpApi), 'ApiEndpoint'] },
    });
    // The worker's lease outlives its timeout: a live worker is never taken over.
    const workerProps = functions[id(stack, stack.functions.worker)]?.Properties as Json;
    const leaseTtl = Number((env('worker').Variables as Json).DRIFTLESS_LEASE_TTL_MS);
    expect(leaseTtl).toBe(((workerProps.Timeout as number) + LEASE_MARGIN_SECONDS) * 1000);
    // The status API lists and redrives the job queue's dead letters.
    expect(env('api').Variables).toMatchObject({
      DRIFTLESS_DLQ_URL: { Ref: id(stack, stack.jobDeadLetterQueue) },
    });
    expect(env('webhook').Variables).toMatchObject({
      DRIFTLESS_WEBHOOK_SECRET_ID: { Ref: id(stack, stack.webhookSecret) },
      DRIFTLESS_OUTBOX_QUEUE_URL: outboxUrl,
      DRIFTLESS_STATUS_URL: { 'Fn::GetAtt': [id(stack, stack.httpApi), 'ApiEndpoint'] },
    });
    // Only the outbox function talks to GitHub.
    expect(env('outbox').Variables).toMatchObject({
      DRIFTLESS_GITHUB_TOKEN_SECRET_ID: { Ref: id(stack, stack.githubSecret) },
      DRIFTLESS_OUTBOX_QUEUE_URL: outboxUrl,
    });
    for (const name of ['worker', 'webhook', 'api', 'sweep'] as const) {
      expect(Object.keys(env(name).Variables as Json).filter((k) => k.includes('GITHUB'))).toEqual(
        [],
      );
    }
    // Previews report no commit statuses; the sweep reads no secrets. The API
    // knows the source secrets' name prefix (to name them in errors), reads none.
    for (const name of ['api', 'sweep'] as const) {
      expect(
        Object.keys(env(name).Variables as Json).filter(
          (k) => k.includes('SECRET') && k !== 'DRIFTLESS_SECRET_PREFIX',
        ),
      ).toEqual([]);
    }
    // Source credentials: secret names under driftless/<stack>/ (README, "Private repositories").
    expect(sourceSecretPrefix('Driftless')).toBe('driftless/Driftless/');
    expect(env('worker').Variables).toMatchObject({
      DRIFTLESS_SECRET_PREFIX: 'driftless/Driftless/',
    });
    expect(env('api').Variables).toMatchObject({ DRIFTLESS_SECRET_PREFIX: 'driftless/Driftless/' });
    // The worker runs the clusters' sweeps.
    expect(env('worker').Variables).toMatchObject({ DRIFTLESS_SWEEP_PER_CLUSTER: '50' });
  });

  it('bundles ESM with esbuild locally, minified, SDK included, client-node left out, never with Docker', () => {
    expect(BUNDLING).toMatchObject({
      format: 'esm',
      target: 'node22',
      minify: true,
      sourceMap: false,
      bundleAwsSDK: true,
      // Only local mode reads kubeconfig files; lib/kube imports client-node at run time.
      externalModules: ['@kubernetes/client-node'],
      forceDockerBundling: false,
    });
    expect(BUNDLING.banner).toMatch(/createRequire.*import\.meta\.url/);
  });

  it('serves the webhook on a Function URL and the status API with IAM auth on every route', () => {
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      TargetFunctionArn: { 'Fn::GetAtt': [id(stack, stack.functions.webhook), 'Arn'] },
    });
    template.resourceCountIs('AWS::Lambda::Url', 1);
    const routes = template.findResources('AWS::ApiGatewayV2::Route');
    expect(Object.keys(routes).length).toBeGreaterThan(0);
    for (const route of Object.values(routes)) {
      expect((route.Properties as Json).AuthorizationType).toBe('AWS_IAM');
    }
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$default' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
      DefaultRouteSettings: { ThrottlingBurstLimit: 100, ThrottlingRateLimit: 50 },
    });
  });

  it('schedules the sweep with EventBridge Scheduler and a role that can only invoke it', () => {
    const schedules = template.findResources('AWS::Scheduler::Schedule');
    const schedule = Object.values(schedules)[0]?.Properties as Json;
    expect(Object.keys(schedules)).toHaveLength(1);
    expect(schedule.ScheduleExpression).toBe('rate(1 minute)');
    const target = schedule.Target as Json;
    expect(target.Arn).toEqual({ 'Fn::GetAtt': [id(stack, stack.functions.sweep), 'Arn'] });
    const role = (target.RoleArn as Json)['Fn::GetAtt'] as string[];
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
          }),
        ],
      },
    });
    expect(permissions(template).get(role[0] as string)).toEqual(
      new Set([`lambda:InvokeFunction ${id(stack, stack.functions.sweep)}.Arn`]),
    );
    // A missed sweep is not run late: neither the scheduler nor Lambda's async invoke retries it.
    expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: id(stack, stack.functions.sweep) },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
    expect(synth({ sweepRateMinutes: 5 }).template.toJSON().Resources).toSatisfy(
      (resources: Record<string, Json>) =>
        Object.values(resources).some(
          (r) => (r.Properties as Json | undefined)?.ScheduleExpression === 'rate(5 minutes)',
        ),
    );
  });

  it('creates the secrets, with the webhook secret generated', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 2);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description: Match.stringLikeRegexp('webhook secret'),
      GenerateSecretString: Match.objectLike({ ExcludePunctuation: true }),
    });
  });

  it('creates access entries per cluster and principal, namespace-scoped where namespaces are given', () => {
    const worker = id(stack, stack.roles.worker);
    const api = id(stack, stack.roles.api);
    const entries = Object.values(template.findResources('AWS::EKS::AccessEntry')).map(
      (r) => r.Properties as Json,
    );
    const summary = entries.map((e) => ({
      cluster: e.ClusterName,
      principal: ref(e.PrincipalArn),
      type: e.Type,
      policies: e.AccessPolicies,
    }));
    const policy = (name: string) => ({
      'Fn::Join': [
        '',
        ['arn:', { Ref: 'AWS::Partition' }, `:eks::aws:cluster-access-policy/${name}`],
      ],
    });
    const prodAccess = [
      {
        PolicyArn: policy('AmazonEKSEditPolicy'),
        AccessScope: { Type: 'namespace', Namespaces: ['web', 'api'] },
      },
    ];
    expect(summary).toEqual(
      expect.arrayContaining([
        { cluster: 'prod', principal: `${worker}.Arn`, type: 'STANDARD', policies: prodAccess },
        { cluster: 'prod', principal: `${api}.Arn`, type: 'STANDARD', policies: prodAccess },
        {
          cluster: 'ops',
          principal: `${worker}.Arn`,
          type: 'STANDARD',
          policies: [
            { PolicyArn: policy('AmazonEKSViewPolicy'), AccessScope: { Type: 'cluster' } },
          ],
        },
      ]),
    );
    // previews: false → no access for the API on `ops`.
    expect(summary).toHaveLength(3);
  });

  it('allows eks:DescribeCluster on exactly the configured clusters', () => {
    const describe = allStatements(template).filter(({ statement }) =>
      asList(statement.Action).some((a) => a.startsWith('eks:')),
    );
    for (const { statement } of describe) {
      expect(asList(statement.Action)).toEqual(['eks:DescribeCluster']);
    }
    const perms = permissions(template);
    const arn = (name: string) => `arn:AWS::Partition:eks:${REGION}:${ACCOUNT}:cluster/${name}`;
    const eksOf = (role: string) =>
      [...(perms.get(role) ?? [])].filter((p) => p.startsWith('eks:')).sort();
    expect(eksOf(id(stack, stack.roles.worker))).toEqual(
      [`eks:DescribeCluster ${arn('ops')}`, `eks:DescribeCluster ${arn('prod')}`].sort(),
    );
    expect(eksOf(id(stack, stack.roles.api))).toEqual([`eks:DescribeCluster ${arn('prod')}`]);
    expect(eksOf(id(stack, stack.roles.webhook))).toEqual([]);
    expect(eksOf(id(stack, stack.roles.sweep))).toEqual([]);
  });

  it('gives each function exactly the permissions its code path needs', () => {
    const perms = permissions(template);
    const table = `${id(stack, stack.table)}.Arn`;
    const jobQueue = `${id(stack, stack.jobQueue)}.Arn`;
    const delayQueue = `${id(stack, stack.delayQueue)}.Arn`;
    const jobDlq = `${id(stack, stack.jobDeadLetterQueue)}.Arn`;
    const outboxQueue = `${id(stack, stack.outboxQueue)}.Arn`;
    const webhookSecret = id(stack, stack.webhookSecret);
    const githubSecret = id(stack, stack.githubSecret);
    const partitions = (...p: string[]) =>
      ` if ${JSON.stringify({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': p } })}`;
    const base = (name: keyof typeof stack.functions) => {
      const logs = stack.node.findChild(`${name[0]?.toUpperCase()}${name.slice(1)}Logs`);
      return [
        `logs:CreateLogStream ${id(stack, logs)}.Arn`,
        `logs:PutLogEvents ${id(stack, logs)}.Arn`,
        'xray:PutTraceSegments *',
        'xray:PutTelemetryRecords *',
      ];
    };
    const consume = (queue: string) =>
      [
        'sqs:ReceiveMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:GetQueueUrl',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
      ].map((a) => `${a} ${queue}`);
    const describeCluster = (name: string) =>
      `eks:DescribeCluster arn:AWS::Partition:eks:${REGION}:${ACCOUNT}:cluster/${name}`;

    const expected: Record<keyof typeof stack.functions, string[]> = {
      webhook: [
        ...base('webhook'),
        `dynamodb:Query ${table}/index/list`,
        `dynamodb:GetItem ${table}${partitions('APP#*')}`,
        `dynamodb:UpdateItem ${table}${partitions('TARGET#*')}`,
        ...['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'].map(
          (a) => `dynamodb:${a} ${table}${partitions('IDEMPOTENCY')}`,
        ),
        `sqs:SendMessage ${jobQueue}`,
        `sqs:SendMessage ${outboxQueue}`,
        `secretsmanager:GetSecretValue ${webhookSecret}`,
      ],
      sweep: [
        ...base('sweep'),
        `dynamodb:Query ${table}/index/list`,
        `dynamodb:GetItem ${table}${partitions('GUARD#*')}`,
        `sqs:SendMessage ${jobQueue}`,
      ],
      api: [
        ...base('api'),
        `dynamodb:GetItem ${table}`,
        `dynamodb:Query ${table}`,
        // Writes: specs, Repository records, targets and their sweep items; not guards or idempotency records.
        ...['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem'].map(
          (a) =>
            `dynamodb:${a} ${table}${partitions('APP#*', 'CLUSTER#*', 'PROJECT#*', 'REPOSITORY#*', 'TARGET#*', 'SWEEP#*')}`,
        ),
        `dynamodb:Query ${table}/index/list`,
        `sqs:SendMessage ${jobQueue}`,
        ...['ReceiveMessage', 'ChangeMessageVisibility', 'DeleteMessage'].map(
          (a) => `sqs:${a} ${jobDlq}`,
        ),
        describeCluster('prod'),
      ],
      worker: [
        ...base('worker'),
        `dynamodb:GetItem ${table}`,
        `dynamodb:Query ${table}`,
        `dynamodb:Query ${table}/index/list${partitions('REPOSITORIES')}`,
        `dynamodb:PutItem ${table}${partitions('GUARD#*')}`,
        ...['PutItem', 'UpdateItem', 'DeleteItem'].map(
          (a) => `dynamodb:${a} ${table}${partitions('TARGET#*')}`,
        ),
        // The clusters' sweeps: the sweep record and the targets' views, never a spec.
        ...['PutItem', 'UpdateItem'].map((a) => `dynamodb:${a} ${table}${partitions('SWEEP#*')}`),
        `sqs:SendMessage ${delayQueue}`,
        `sqs:SendMessage ${jobDlq}`,
        // A cluster's sweep queues reconcile jobs.
        `sqs:SendMessage ${jobQueue}`,
        `sqs:SendMessage ${outboxQueue}`,
        // Source credentials: only secrets under the stack's prefix.
        `secretsmanager:GetSecretValue ${SOURCE_SECRETS}`,
        ...consume(jobQueue),
        ...consume(delayQueue),
        describeCluster('prod'),
        describeCluster('ops'),
      ],
      outbox: [
        ...base('outbox'),
        `secretsmanager:GetSecretValue ${githubSecret}`,
        ...consume(outboxQueue),
      ],
    };
    for (const [name, role] of Object.entries(stack.roles)) {
      const actual = [...(perms.get(id(stack, role)) ?? [])].sort();
      expect(actual, name).toEqual(expected[name as keyof typeof expected].sort());
      // Lambda assumes the role; no managed policies (AWSLambdaBasicExecutionRole allows every log group).
      const r = template.toJSON().Resources[id(stack, role)].Properties as Json;
      expect(r.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('has no wildcard actions in any policy, and "*" resources only for X-Ray', () => {
    const statements = allStatements(template);
    expect(statements.length).toBeGreaterThan(20);
    for (const { owner, statement } of statements) {
      if (statement.Effect !== 'Allow') continue; // TLS-only denials are `sqs:*`/`sns:*` Deny
      for (const action of asList(statement.Action)) {
        expect(action, `${owner}: ${action}`).not.toContain('*');
        expect(action, owner).toMatch(/^[a-z0-9-]+:[A-Za-z0-9]+$/);
      }
      const resources = asList(statement.Resource).map(ref);
      // The one prefix wildcard: the worker's source credentials (driftless/<stack>/*).
      if (resources.length === 1 && resources[0] === SOURCE_SECRETS) {
        expect(asList(statement.Action)).toEqual(['secretsmanager:GetSecretValue']);
        expect(owner).toBe(id(stack, stack.roles.worker.node.findChild('DefaultPolicy')));
        continue;
      }
      if (resources.some((r) => r === '*' || r.endsWith(':*') || r.endsWith('/*'))) {
        expect(
          asList(statement.Action).every((a) => a.startsWith('xray:')),
          owner,
        ).toBe(true);
      }
    }
  });

  it('alarms on dead letters, job age, errors and throttles, notifying the SNS topic', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => a.Properties as Json,
    );
    const topic = stack.alarmTopic;
    const topicRef = { Ref: id(stack, topic as IConstruct) };
    // The stack's one topic.
    expect(Object.keys(template.findResources('AWS::SNS::Topic'))).toEqual([topicRef.Ref]);
    for (const a of alarms) expect(a.AlarmActions).toEqual([topicRef]);
    const find = (metric: string, dimension: Json) =>
      alarms.filter(
        (a) =>
          a.MetricName === metric &&
          JSON.stringify(a.Dimensions).includes(JSON.stringify(dimension)),
      );
    for (const dlq of [stack.jobDeadLetterQueue, stack.delayDeadLetterQueue]) {
      const [alarm] = find('ApproximateNumberOfMessagesVisible', {
        'Fn::GetAtt': [id(stack, dlq), 'QueueName'],
      });
      expect(alarm).toMatchObject({
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Statistic: 'Maximum',
      });
    }
    expect(
      find('ApproximateAgeOfOldestMessage', {
        'Fn::GetAtt': [id(stack, stack.jobQueue), 'QueueName'],
      })[0],
    ).toMatchObject({ Threshold: 900 });
    for (const fn of Object.values(stack.functions)) {
      expect(find('Errors', { Ref: id(stack, fn) })).toHaveLength(1);
      expect(find('Throttles', { Ref: id(stack, fn) })).toHaveLength(1);
    }
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
  });

  it('has a dashboard of the worker metrics (worker.ts names) and the queues', () => {
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard?.Properties);
    for (const metric of [
      'Reconciles',
      'DriftDetected',
      'ReconcileDuration',
      'JobsSkipped',
      'DeadLettered',
    ]) {
      expect(body).toContain(`\\"${metric}\\"`);
    }
    expect(body).toContain('service=\\\\\\"driftless-worker\\\\\\" Errors');
    expect(body).toContain('ApproximateAgeOfOldestMessage');
  });

  it('outputs what the CLI reads', () => {
    for (const name of [
      'WebhookUrl',
      'ApiEndpoint',
      'TableName',
      'QueueUrl',
      'DelayQueueUrl',
      'DeadLetterQueueUrl',
      'DelayDeadLetterQueueUrl',
      'WebhookSecretArn',
      'GitHubCredentialsSecretArn',
    ]) {
      template.hasOutput(name, {});
    }
  });

  it("passes cdk-nag's AwsSolutions checks, every acknowledgement with a reason", () => {
    const report = new AwsSolutionsChecks(stack, { verbose: true }).validateScope(stack);
    expect(
      report.violations.map((v) => `${v.ruleName}: ${v.violatingResources[0]?.constructPath}`),
    ).toEqual([]);
    expect(report.success).toBe(true);
    const reasons: string[] = [];
    for (const c of stack.node.findAll()) {
      for (const entry of c.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [rule, reason] of Object.entries(entry.data as Record<string, unknown>)) {
          reasons.push(rule);
          expect(
            String((reason as { reason?: string }).reason ?? reason).length,
            rule,
          ).toBeGreaterThan(40);
        }
      }
    }
    expect(reasons.length).toBeGreaterThan(0);
  });
});

describe('DriftlessStack variants', { timeout: 60_000 }, () => {
  it('attaches the kubectl/helm layer to the worker and API (x86_64: the layer has no arm64 binaries)', () => {
    const { stack, template } = synth({ renderTools: true, apiPreviews: true });
    const functions = template.findResources('AWS::Lambda::Function');
    for (const name of ['worker', 'api'] as const) {
      const p = functions[id(stack, stack.functions[name])]?.Properties as Json;
      expect(p.Architectures).toEqual(['x86_64']);
      expect(asList(p.Layers)).toHaveLength(1);
      expect((p.Environment as Json).Variables).toMatchObject({
        DRIFTLESS_KUBECTL: '/opt/kubectl/kubectl',
        DRIFTLESS_HELM: '/opt/helm/helm',
      });
    }
    for (const name of ['webhook', 'sweep'] as const) {
      const p = functions[id(stack, stack.functions[name])]?.Properties as Json;
      expect(p.Architectures).toEqual(['arm64']);
      expect(p.Layers).toBeUndefined();
    }
    template.resourceCountIs('AWS::Lambda::LayerVersion', 1);
  });

  it('sets only environment variables the wiring reads, by its names (functions/wiring/env.ts)', () => {
    // Every option that adds a variable on: render tools, previews, a GitHub App, metrics, tracing.
    const { stack, template } = synth({
      renderTools: true,
      apiPreviews: true,
      githubAppId: '42',
      githubInstallationId: 7,
      metrics: true,
      tracing: true,
    });
    const functions = template.findResources('AWS::Lambda::Function');
    const known: readonly string[] = Object.values(ENV);
    const set = Object.entries(stack.functions).flatMap(([name, fn]) => {
      const p = functions[id(stack, fn)]?.Properties as Json;
      return Object.keys((p.Environment as Json).Variables as Json).map((v) => `${name}: ${v}`);
    });
    expect(set.length).toBeGreaterThan(20);
    expect(set.filter((e) => !known.includes(e.split(': ')[1] as string))).toEqual([]);
  });

  it('uses a GitHub App when configured', () => {
    const { stack, template } = synth({ githubAppId: '42', githubInstallationId: 7 });
    const p = template.toJSON().Resources[id(stack, stack.functions.outbox)].Properties as Json;
    expect((p.Environment as Json).Variables).toMatchObject({
      DRIFTLESS_GITHUB_APP_ID: '42',
      DRIFTLESS_GITHUB_INSTALLATION_ID: '7',
      DRIFTLESS_GITHUB_PRIVATE_KEY_SECRET_ID: { Ref: id(stack, stack.githubSecret) },
    });
    expect(
      ((p.Environment as Json).Variables as Json).DRIFTLESS_GITHUB_TOKEN_SECRET_ID,
    ).toBeUndefined();
    // {"type":"githubApp"} source credentials: the worker mints installation
    // tokens with the App's key; the webhook and the API still read no GitHub secret.
    const worker = template.toJSON().Resources[id(stack, stack.functions.worker)]
      .Properties as Json;
    expect((worker.Environment as Json).Variables).toMatchObject({
      DRIFTLESS_GITHUB_APP_ID: '42',
      DRIFTLESS_GITHUB_PRIVATE_KEY_SECRET_ID: { Ref: id(stack, stack.githubSecret) },
    });
    const perms = permissions(template);
    const readsKey = (role: keyof typeof stack.roles) =>
      [...(perms.get(id(stack, stack.roles[role])) ?? [])].includes(
        `secretsmanager:GetSecretValue ${id(stack, stack.githubSecret)}`,
      );
    expect(readsKey('worker')).toBe(true);
    expect(readsKey('outbox')).toBe(true);
    expect(readsKey('webhook')).toBe(false);
    expect(readsKey('api')).toBe(false);
  });

  it('by default: only the essential alarms, no dashboard, no custom metrics, no tracing', () => {
    const { stack, template } = synth({ alarmEmails: ['ops@example.com'] });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => a.Properties as Json,
    );
    // ESSENTIAL_ALARMS: the sweep's errors, notifying the topic.
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: id(stack, stack.functions.sweep) } }],
      AlarmActions: [{ Ref: id(stack, stack.alarmTopic as IConstruct) }],
    });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    const functions = template.findResources('AWS::Lambda::Function');
    for (const fn of Object.values(stack.functions)) {
      const p = functions[id(stack, fn)]?.Properties as Json;
      expect(p.TracingConfig).toBeUndefined();
      expect((p.Environment as Json).Variables).toMatchObject({
        POWERTOOLS_METRICS_DISABLED: 'true',
        POWERTOOLS_TRACE_ENABLED: 'false',
      });
    }
    const worker = functions[id(stack, stack.functions.worker)]?.Properties as Json;
    expect((worker.Environment as Json).Variables).toMatchObject({
      DRIFTLESS_WORKER_GROUP_CONCURRENCY: String(DEFAULT_WORKER_GROUP_CONCURRENCY),
    });
    // Without tracing, no X-Ray permission (and so no "*" resource) anywhere.
    for (const { statement } of allStatements(template)) {
      expect(asList(statement.Action).some((a) => a.startsWith('xray:'))).toBe(false);
    }
    expect(synth({ alarms: 'none' }).template.findResources('AWS::CloudWatch::Alarm')).toEqual({});
  });

  it('batches the job queues by driftless:workerGroupConcurrency and tells the worker', () => {
    const { stack, template } = synth({ workerGroupConcurrency: 1 });
    for (const queue of [stack.jobQueue, stack.delayQueue]) {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [id(stack, queue), 'Arn'] },
        BatchSize: 1,
      });
    }
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DRIFTLESS_WORKER_GROUP_CONCURRENCY: '1' }) },
    });
  });

  it('has no alarm actions without an alarm email', () => {
    const { stack, template } = synth({});
    expect(stack.alarmTopic).toBeUndefined();
    template.resourceCountIs('AWS::SNS::Topic', 0);
    for (const a of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect((a.Properties as Json).AlarmActions).toBeUndefined();
    }
    template.resourceCountIs('AWS::EKS::AccessEntry', 0);
  });

  it('sets the worker timeout (and so the visibility timeout) from the wait budget', () => {
    const { stack, template } = synth({ waitBudgetMs: 200_000, workerReservedConcurrency: 20 });
    const p = template.toJSON().Resources[id(stack, stack.functions.worker)].Properties as Json;
    expect(p.Timeout).toBe(300);
    expect(p.ReservedConcurrentExecutions).toBe(20);
    template.hasResourceProperties('AWS::SQS::Queue', { FifoQueue: true, VisibilityTimeout: 1800 });
  });

  it('assumes a cluster role instead of an access entry for a cross-account cluster', () => {
    const roleArn = 'arn:aws:iam::210987654321:role/driftless';
    const { stack, template } = synth({
      clusters: [
        {
          name: 'far',
          region: REGION,
          roleArn,
          accessPolicy: 'AmazonEKSEditPolicy',
          previews: true,
        },
      ],
      apiPreviews: true,
    });
    template.resourceCountIs('AWS::EKS::AccessEntry', 0);
    const perms = permissions(template);
    for (const role of [stack.roles.worker, stack.roles.api]) {
      const set = [...(perms.get(id(stack, role)) ?? [])];
      expect(set).toContain(`sts:AssumeRole ${roleArn}`);
      expect(set.filter((p) => p.startsWith('eks:'))).toEqual([]);
    }
  });

  it('grants the worker kms:Decrypt on the listed SOPS keys and sts:AssumeRole on the listed roles, and nothing by default', () => {
    const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const tenantRole = 'arn:aws:iam::123456789012:role/tenant-a-sops';
    const { stack, template } = synth({ sopsKmsKeys: [keyArn], sopsRoles: [tenantRole] });
    const perms = permissions(template);
    const worker = [...(perms.get(id(stack, stack.roles.worker)) ?? [])];
    expect(worker).toContain(`kms:Decrypt ${keyArn}`);
    expect(worker).toContain(`sts:AssumeRole ${tenantRole}`);
    const api = [...(perms.get(id(stack, stack.roles.api)) ?? [])];
    expect(api.filter((p) => p.startsWith('kms:') || p.includes(tenantRole))).toEqual([]);
    const plain = synth({});
    const none = [
      ...(permissions(plain.template).get(id(plain.stack, plain.stack.roles.worker)) ?? []),
    ];
    expect(none.filter((p) => p.startsWith('kms:'))).toEqual([]);
  });

  it('reads SOPS keys and roles from a comma-separated context value and refuses a non-ARN', () => {
    const ctx = (values: Record<string, unknown>) => (key: string) => values[key];
    const c = configFromContext(
      ctx({
        'driftless:sopsKmsKeys':
          'arn:aws:kms:eu-west-1:123456789012:key/a, arn:aws:kms:eu-west-1:123456789012:key/b',
      }),
    );
    expect(c.sopsKmsKeys).toHaveLength(2);
    expect(() => configFromContext(ctx({ 'driftless:sopsRoles': 'tenant-a' }))).toThrow(
      /driftless:sopsRoles\[0\]: must be an IAM role ARN/,
    );
  });

  it('skips (with a warning) access entries of a cluster in another region', () => {
    const { stack, template } = synth({
      clusters: [
        { name: 'us', region: 'us-east-1', accessPolicy: 'AmazonEKSEditPolicy', previews: true },
      ],
    });
    template.resourceCountIs('AWS::EKS::AccessEntry', 0);
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('us-east-1'));
    const perms = [...(permissions(template).get(id(stack, stack.roles.worker)) ?? [])];
    expect(perms).toContain(
      `eks:DescribeCluster arn:AWS::Partition:eks:us-east-1:${ACCOUNT}:cluster/us`,
    );
  });

  it('creates access entries on a condition when the stack is environment-agnostic', () => {
    const { template } = synth(
      {
        clusters: [
          { name: 'prod', region: REGION, accessPolicy: 'AmazonEKSEditPolicy', previews: false },
        ],
      },
      null,
    );
    const conditions = template.toJSON().Conditions as Record<string, Json>;
    const [name, condition] =
      Object.entries(conditions).find(([k]) => k.includes('InStackRegion')) ?? [];
    expect(condition).toEqual({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, REGION] });
    const entries = Object.values(template.findResources('AWS::EKS::AccessEntry'));
    expect(entries).toHaveLength(1);
    expect(entries[0]?.Condition).toBe(name);
  });
});

describe('least privilege of the webhook and the status API', { timeout: 60_000 }, () => {
  const clusters: DriftlessConfig['clusters'] = [
    { name: 'prod', region: REGION, accessPolicy: 'AmazonEKSEditPolicy', previews: true },
    {
      name: 'far',
      region: REGION,
      roleArn: 'arn:aws:iam::210987654321:role/driftless',
      accessPolicy: 'AmazonEKSEditPolicy',
      previews: true,
    },
  ];
  const clusterActions = (perms: Set<string> | undefined) =>
    [...(perms ?? [])].filter((p) => /^(eks|sts):/.test(p));

  it('gives the status API no cluster access (no access entry, DescribeCluster or AssumeRole) unless apiPreviews', () => {
    const { stack, template } = synth({ clusters, renderTools: true });
    const api = id(stack, stack.roles.api);
    expect(clusterActions(permissions(template).get(api))).toEqual([]);
    const principals = Object.values(template.findResources('AWS::EKS::AccessEntry')).map((r) =>
      ref((r.Properties as Json).PrincipalArn),
    );
    expect(principals).toEqual([`${id(stack, stack.roles.worker)}.Arn`]);
    expect(clusterActions(permissions(template).get(id(stack, stack.roles.worker)))).toHaveLength(
      2,
    );
    const fn = template.toJSON().Resources[id(stack, stack.functions.api)].Properties as Json;
    expect(((fn.Environment as Json).Variables as Json).DRIFTLESS_API_PREVIEWS).toBe('false');
    // No render tools either: previews are the only reason the API renders.
    expect(fn.Layers).toBeUndefined();

    const on = synth({ clusters, apiPreviews: true });
    const onApi = id(on.stack, on.stack.roles.api);
    expect(clusterActions(permissions(on.template).get(onApi)).sort()).toEqual(
      [
        `eks:DescribeCluster arn:AWS::Partition:eks:${REGION}:${ACCOUNT}:cluster/prod`,
        'sts:AssumeRole arn:aws:iam::210987654321:role/driftless',
      ].sort(),
    );
    const onFn = on.template.toJSON().Resources[id(on.stack, on.stack.functions.api)]
      .Properties as Json;
    expect(((onFn.Environment as Json).Variables as Json).DRIFTLESS_API_PREVIEWS).toBe('true');
  });

  it('lets the webhook role read its webhook secret and no other secret, key or cluster, in every variant', () => {
    for (const config of [
      {},
      { clusters, apiPreviews: true, renderTools: true },
      { githubAppId: '42', githubInstallationId: 7 },
    ] satisfies Partial<DriftlessConfig>[]) {
      const { stack, template } = synth(config);
      const webhook = id(stack, stack.roles.webhook);
      const perms = [...(permissions(template).get(webhook) ?? [])];
      const secretReads = perms.filter((p) => p.startsWith('secretsmanager:'));
      expect(secretReads, JSON.stringify(config)).toEqual([
        `secretsmanager:GetSecretValue ${id(stack, stack.webhookSecret)}`,
      ]);
      expect(perms.filter((p) => /^(kms|ssm|sts|eks|s3):/.test(p))).toEqual([]);
      // Every other secret of the stack (GitHub credentials, source credentials) is out of reach.
      const others = Object.keys(template.findResources('AWS::SecretsManager::Secret')).filter(
        (k) => k !== id(stack, stack.webhookSecret),
      );
      expect(others.length).toBeGreaterThan(0);
      for (const other of others) expect(perms.some((p) => p.includes(other))).toBe(false);
    }
  });

  it('caps the webhook\'s reserved concurrency (a named default), or leaves it unreserved with "none"', () => {
    const reserved = (config: Partial<DriftlessConfig>) => {
      const { stack, template } = synth(config);
      return (template.toJSON().Resources[id(stack, stack.functions.webhook)].Properties as Json)
        .ReservedConcurrentExecutions;
    };
    expect(reserved({})).toBe(DEFAULT_WEBHOOK_RESERVED_CONCURRENCY);
    expect(reserved({ webhookReservedConcurrency: 3 })).toBe(3);
    expect(reserved({ webhookReservedConcurrency: 'none' })).toBeUndefined();
  });
});

// The at-rest cost of the synthesized stack (bench/at-rest.ts over the
// CloudFormation template): the default stays within the budget of issue
// #15, and each opt-in adds what it says.

const line = (cost: ReturnType<typeof atRestCost>, item: RegExp) =>
  cost.lines.find((l) => item.test(l.item));

describe('the stack at rest', { timeout: 120_000 }, () => {
  const base = costOf();

  it(`costs at most $${AT_REST_BUDGET} a month by default`, () => {
    console.log(formatAtRest(base, 'Default stack at rest'));
    expect(base.total).toBeLessThanOrEqual(AT_REST_BUDGET);
    // What it is made of: the two secrets, three idle event source mappings, one alarm.
    expect(line(base, /^Secrets Manager$/)?.monthly).toBeCloseTo(2 * AT_REST_PRICES.secretMonth);
    expect(base.lines.filter((l) => l.item.startsWith('SQS idle polling'))).toHaveLength(3);
    expect(line(base, /^CloudWatch alarms$/)?.monthly).toBeCloseTo(AT_REST_PRICES.alarmMetricMonth);
    expect(line(base, /dashboards/)).toBeUndefined();
    expect(line(base, /^Custom metrics/)).toBeUndefined();
    expect(line(base, /^X-Ray/)).toBeUndefined();
  });

  it('counts the idle long polls of each event source mapping', () => {
    const polls = ESM_IDLE_POLLERS.withMaxConcurrency * 3 * MINUTES_PER_MONTH;
    const fifo = base.lines.filter((l) => /SQS idle polling/.test(l.item) && /FIFO/.test(l.how));
    expect(fifo).toHaveLength(2); // the job queue and the outbox
    for (const l of fifo) expect(l.monthly).toBeCloseTo(polls * AT_REST_PRICES.sqsFifoRequest);
  });

  it('adds the dashboard and its metrics, every alarm, and tracing only when asked', () => {
    const full = costOf({ alarms: 'all', dashboard: true, tracing: true });
    console.log(formatAtRest(full, 'Every opt-in on'));
    expect(line(full, /dashboards/)?.monthly).toBe(AT_REST_PRICES.dashboardMonth);
    // The sweep tick's two metrics (clusters queued, held back), emitted every minute.
    expect(line(full, /^Custom metrics/)?.monthly).toBeCloseTo(
      2 * AT_REST_PRICES.customMetricMonth,
    );
    expect(line(full, /^X-Ray/)?.monthly).toBeCloseTo(MINUTES_PER_MONTH * AT_REST_PRICES.xrayTrace);
    // 3 dead-letter queues, the oldest job, errors and throttles of 5 functions.
    expect(line(full, /^CloudWatch alarms$/)?.monthly).toBeCloseTo(
      14 * AT_REST_PRICES.alarmMetricMonth,
    );
    expect(full.total).toBeGreaterThan(base.total + 3);
    const none = costOf({ alarms: 'none' });
    expect(line(none, /^CloudWatch alarms$/)).toBeUndefined();
  });

  it('prices a slower sweep schedule by its rate', () => {
    const five = costOf({ sweepRateMinutes: 5 });
    const every = line(base, /^Schedule/)?.monthly ?? 0;
    expect(line(five, /^Schedule/)?.monthly).toBeCloseTo(every / 5);
  });
});
