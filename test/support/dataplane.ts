// The deployed data plane, in-process: a table, the FIFO job queue, its
// dead-letter queue, the delayed queue, the commit status outbox (FIFO) and
// the webhook secret in moto, the environment the functions read, and the
// functions/ handlers themselves. One per test file (the handlers read their
// environment once, at import). With `github`, the outbox's consumer posts to
// that GitHub (the loopback one, test/support/github-server.ts) with a token
// kept in Secrets Manager; with `githubApp`, as that App (its private key in
// Secrets Manager), which also mints tokens for `githubApp` source credentials.
// Source credentials are secrets under the plane's own prefix (putSecret).

import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoCatalog } from '../../lib/aws/catalog/index.js';
import type { ClusterSweepRecord } from '../../lib/ports/store.js';
import { awsClientConfig } from './aws.js';
import { asFunction, recordAwsCalls } from './aws-calls.js';
import { createDriftlessTable } from './dynamo.js';
import { uniqueName } from './env.js';
import { drain, type HttpHandler, httpEvent, lambdaContext, type SqsHandler } from './lambda.js';

export interface DataPlane {
  sqs: SQSClient;
  tableName: string;
  queueUrl: string;
  delayUrl: string;
  dlqUrl: string;
  outboxUrl: string;
  webhookSecret: string;
  /** The prefix of source credentials' secrets (DRIFTLESS_SECRET_PREFIX), unique to the plane. */
  secretPrefix: string;
  /** Creates (or overwrites) the secret `<secretPrefix><name>` in Secrets Manager. */
  putSecret(name: string, value: string): Promise<void>;
  webhook: HttpHandler;
  worker: SqsHandler;
  /** The outbox function (imported on first use). */
  outbox: SqsHandler;
  api: HttpHandler;
  /** The sweep tick function: one sweep job per cluster for the tick (`scheduledTime`, ISO). */
  sweep: (
    event: unknown,
    context: unknown,
  ) => Promise<{ tick: number; clusters: number; heldBack: Record<string, string> }>;
  /**
   * One tick of the sweep at `at` (epoch ms; ticks are minutes): the tick
   * function, then the queues drained through the worker — each cluster's
   * sweep job and the reconciles it queued. Returns each cluster's record of
   * this tick as the table holds it (undefined: the cluster was not swept).
   */
  sweepAt(at: number, clusters?: string[]): Promise<Record<string, ClusterSweepRecord | undefined>>;
  /** Calls the status API function; the body parsed. */
  call(
    method: string,
    p: string,
    body?: unknown,
    query?: Record<string, string>,
    // biome-ignore lint/suspicious/noExplicitAny: tests read JSON responses ad hoc
  ): Promise<{ status: number; body: any }>;
}

export async function startDataPlane(
  prefix: string,
  opts: {
    dynamoEndpoint?: string;
    waitBudgetMs?: number;
    /** The GitHub the outbox posts to: its API URL, a token it accepts, the repositories' host. */
    github?: { apiUrl: string; token: string; webHost: string };
    /** A GitHub App instead of a token: its id, installation and PEM private key. */
    githubApp?: {
      apiUrl: string;
      appId: number;
      installationId: number;
      privateKey: string;
      webHost: string;
    };
    /** The functions' Powertools log level (default ERROR: quiet tests). */
    logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
    /**
     * The webhook secret's stored value from the generated secret (the plane's
     * `webhookSecret`); unset, that secret as a plain string.
     */
    webhookSecretValue?: (secret: string) => string;
  } = {},
): Promise<DataPlane> {
  const aws = awsClientConfig();
  const sqs = new SQSClient(aws);
  const { tableName } = await createDriftlessTable(prefix);
  const createQueue = async (name: string, attributes: Record<string, string>) =>
    (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes })))
      .QueueUrl as string;
  const fifo = { FifoQueue: 'true', VisibilityTimeout: '60' };
  const queueUrl = await createQueue(`${uniqueName('jobs')}.fifo`, fifo);
  const dlqUrl = await createQueue(`${uniqueName('dlq')}.fifo`, fifo);
  const delayUrl = await createQueue(uniqueName('delayed'), { VisibilityTimeout: '60' });
  const outboxUrl = await createQueue(`${uniqueName('outbox')}.fifo`, fifo);
  const webhookSecret = `${prefix}-${randomUUID()}`;
  const secretId = uniqueName('webhook-secret');
  const sm = new SecretsManagerClient(aws);
  await sm.send(
    new CreateSecretCommand({
      Name: secretId,
      SecretString: opts.webhookSecretValue?.(webhookSecret) ?? webhookSecret,
    }),
  );
  const secretPrefix = `driftless/${uniqueName(prefix)}/`;
  const github: Record<string, string> = {};
  if (opts.githubApp) {
    const keySecretId = uniqueName('github-app-key');
    await sm.send(
      new CreateSecretCommand({ Name: keySecretId, SecretString: opts.githubApp.privateKey }),
    );
    Object.assign(github, {
      DRIFTLESS_GITHUB_APP_ID: String(opts.githubApp.appId),
      DRIFTLESS_GITHUB_INSTALLATION_ID: String(opts.githubApp.installationId),
      DRIFTLESS_GITHUB_PRIVATE_KEY_SECRET_ID: keySecretId,
      DRIFTLESS_GITHUB_API_URL: opts.githubApp.apiUrl,
      DRIFTLESS_GITHUB_WEB_HOST: opts.githubApp.webHost,
    });
  }
  if (opts.github) {
    const tokenSecretId = uniqueName('github-token');
    await sm.send(
      new CreateSecretCommand({ Name: tokenSecretId, SecretString: opts.github.token }),
    );
    Object.assign(github, {
      DRIFTLESS_GITHUB_TOKEN_SECRET_ID: tokenSecretId,
      DRIFTLESS_GITHUB_API_URL: opts.github.apiUrl,
      DRIFTLESS_GITHUB_WEB_HOST: opts.github.webHost,
    });
  }
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: aws.endpoint,
    ...(opts.dynamoEndpoint ? { AWS_ENDPOINT_URL_DYNAMODB: opts.dynamoEndpoint } : {}),
    AWS_REGION: aws.region,
    AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
    DRIFTLESS_TABLE: tableName,
    DRIFTLESS_QUEUE_URL: queueUrl,
    DRIFTLESS_DELAY_QUEUE_URL: delayUrl,
    DRIFTLESS_DLQ_URL: dlqUrl,
    DRIFTLESS_OUTBOX_QUEUE_URL: outboxUrl,
    ...github,
    DRIFTLESS_WEBHOOK_SECRET_ID: secretId,
    DRIFTLESS_SECRET_PREFIX: secretPrefix,
    DRIFTLESS_WAIT_BUDGET_MS: String(opts.waitBudgetMs ?? 30_000),
    // The platform admin the tests call the API as (the matrix test adds its own principals).
    DRIFTLESS_ADMIN_PRINCIPALS: 'arn:aws:iam::123456789012:user/ops',
    DRIFTLESS_GIT_CACHE: await mkdtemp(path.join(os.tmpdir(), `driftless-${prefix}-git-`)),
    POWERTOOLS_LOG_LEVEL: opts.logLevel ?? 'ERROR',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  // Every AWS call the handlers make is recorded, as the function that made it
  // (the least-privilege evaluation, test/e2e/iam.test.ts).
  recordAwsCalls();
  const api = asFunction(
    'api',
    (await import('../../functions/api.js')).handler as unknown as HttpHandler,
  );
  let outbox: SqsHandler | undefined;
  const sweep = asFunction(
    'sweep',
    (await import('../../functions/sweep.js')).handler as unknown as DataPlane['sweep'],
  );
  const worker = asFunction(
    'worker',
    (await import('../../functions/worker.js')).handler as unknown as SqsHandler,
  );
  const catalog = new DynamoCatalog({
    client: new DynamoDBClient({ ...awsClientConfig(), endpoint: opts.dynamoEndpoint }),
    tableName,
  });
  return {
    sqs,
    tableName,
    queueUrl,
    delayUrl,
    dlqUrl,
    outboxUrl,
    webhookSecret,
    secretPrefix,
    putSecret: async (name, value) => {
      const Name = `${secretPrefix}${name}`;
      try {
        await sm.send(new CreateSecretCommand({ Name, SecretString: value }));
      } catch (e) {
        if ((e as { name?: string }).name !== 'ResourceExistsException') throw e;
        await sm.send(new PutSecretValueCommand({ SecretId: Name, SecretString: value }));
      }
    },
    outbox: async (event, context) => {
      outbox ??= asFunction(
        'outbox',
        (await import('../../functions/outbox.js')).handler as unknown as SqsHandler,
      );
      return outbox(event, context);
    },
    webhook: asFunction(
      'webhook',
      (await import('../../functions/webhook.js')).handler as unknown as HttpHandler,
    ),
    worker,
    api,
    sweep,
    sweepAt: async (at, only) => {
      const tick = await sweep(
        { scheduledTime: new Date(at).toISOString() },
        lambdaContext('driftless-sweep'),
      );
      await drain(sqs, [queueUrl, delayUrl], worker, { quietMs: 500 });
      const names = only ?? (await catalog.listClusters(1000)).items.map((c) => c.metadata.name);
      const out: Record<string, ClusterSweepRecord | undefined> = {};
      for (const name of names) {
        const record = (await catalog.clusterSweepState(name)).record;
        out[name] = record?.tickAt === tick.tick ? record : undefined;
      }
      return out;
    },
    call: async (method, p, body, query) => {
      const res = await api(
        httpEvent(method, p, {
          body: body === undefined ? undefined : JSON.stringify(body),
          query,
          iamUser: 'arn:aws:iam::123456789012:user/ops',
        }),
        lambdaContext('driftless-api'),
      );
      return { status: res.statusCode as number, body: res.body ? JSON.parse(res.body) : null };
    },
  };
}
