// The data-plane cost benchmark's wiring (bench/cost.bench.ts, and its cold
// worker in bench/cost-worker.ts): the production adapters of
// functions/wiring/config.ts — DynamoCatalog, DynamoLeaseManager, SqsJobQueue,
// IsomorphicGitSource, EksConnector — built against the AWS emulator, with a
// Meter on everything that is billed per request:
//   - DynamoDB: every request of the catalog and the lease manager reports its
//     capacity (ReturnConsumedCapacity TOTAL). moto answers with fixed numbers
//     (0.5 or 1 whatever the size), so the Meter keeps DynamoTable's estimate
//     from item sizes: on-demand read and write request units (RRU, WRU),
//     index writes included.
//   - SQS: a client middleware counts SendMessage(Batch), ReceiveMessage,
//     DeleteMessage(Batch) and ChangeMessageVisibility, each billed per 64 KB
//     chunk of payload.
//   - Other DynamoDB users (the webhook's Powertools idempotency store) get a
//     client middleware that estimates the same way from the request and
//     response items.

import { performance } from 'node:perf_hooks';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { DynamoCatalog } from '../lib/aws/catalog/index.js';
import {
  type CapacityEstimate,
  itemSize,
  readEstimate,
  writeEstimate,
} from '../lib/aws/dynamo/capacity.js';
import type { Item } from '../lib/aws/dynamo/items.js';
import { DynamoLeaseManager } from '../lib/aws/lease.js';
import { SqsJobQueue } from '../lib/aws/queue.js';
import type { WebhookDeps } from '../lib/github/webhook.js';
import type { KubeClient } from '../lib/kube/client.js';
import { ClusterRouter } from '../lib/kube/connector.js';
import type { Cluster } from '../lib/model/application.js';
import type { CommitStatusReporter } from '../lib/ports/report.js';
import { IsomorphicGitSource, SourceCache } from '../lib/source/index.js';
import type { JobOutcome, WorkerDeps } from '../lib/worker.js';

// ---------------------------------------------------------------------------
// The meter.

export interface DynamoOpCount {
  requests: number;
  /** Read request units (on-demand), by item size. */
  rru: number;
  /** Write request units (on-demand), by item size, index writes included. */
  wru: number;
  bytes: number;
}

export interface SqsOpCount {
  /** API calls. */
  calls: number;
  /** Billed requests: each call is one request per 64 KB chunk of its payload. */
  billed: number;
}

/** Time spent waiting on the AWS emulator (moto), to be replaced by in-region latencies. */
export interface AwsTime {
  dynamoRequests: number;
  dynamoMs: number;
  sqsRequests: number;
  sqsMs: number;
}

export interface MeterSnapshot {
  dynamo: Record<string, DynamoOpCount>;
  sqs: Record<string, SqsOpCount>;
  time: AwsTime;
}

function noTime(): AwsTime {
  return { dynamoRequests: 0, dynamoMs: 0, sqsRequests: 0, sqsMs: 0 };
}

const SQS_COUNTED = new Set([
  'SendMessageCommand',
  'SendMessageBatchCommand',
  'ReceiveMessageCommand',
  'DeleteMessageCommand',
  'DeleteMessageBatchCommand',
  'ChangeMessageVisibilityCommand',
  'ChangeMessageVisibilityBatchCommand',
]);

const CHUNK = 64 * 1024;

export class Meter {
  private dynamo = new Map<string, DynamoOpCount>();
  private sqs = new Map<string, SqsOpCount>();
  private time = noTime();

  /** DynamoTable's CapacityListener: keeps the size-based estimate. */
  readonly onCapacity = (op: string, _consumed: unknown, estimate: CapacityEstimate): void => {
    this.addDynamo(op, estimate);
  };

  addDynamo(op: string, estimate: CapacityEstimate): void {
    const c = this.dynamo.get(op) ?? { requests: 0, rru: 0, wru: 0, bytes: 0 };
    c.requests++;
    c.rru += estimate.readUnits;
    c.wru += estimate.writeUnits;
    c.bytes += estimate.bytes;
    this.dynamo.set(op, c);
  }

  addSqs(command: string, payloadBytes: number): void {
    const name = command.replace(/Command$/, '');
    const c = this.sqs.get(name) ?? { calls: 0, billed: 0 };
    c.calls++;
    c.billed += Math.max(1, Math.ceil(payloadBytes / CHUNK));
    this.sqs.set(name, c);
  }

  addTime(service: 'dynamo' | 'sqs', ms: number): void {
    if (service === 'dynamo') {
      this.time.dynamoRequests++;
      this.time.dynamoMs += ms;
    } else {
      this.time.sqsRequests++;
      this.time.sqsMs += ms;
    }
  }

  reset(): void {
    this.dynamo = new Map();
    this.sqs = new Map();
    this.time = noTime();
  }

  snapshot(): MeterSnapshot {
    return {
      dynamo: Object.fromEntries([...this.dynamo].map(([k, v]) => [k, { ...v }])),
      sqs: Object.fromEntries([...this.sqs].map(([k, v]) => [k, { ...v }])),
      time: { ...this.time },
    };
  }
}

/** Adds `b` into `a` (both snapshots of a Meter). */
export function addSnapshots(a: MeterSnapshot, b: MeterSnapshot): MeterSnapshot {
  const out: MeterSnapshot = { dynamo: {}, sqs: {}, time: noTime() };
  for (const s of [a, b]) {
    out.time.dynamoRequests += s.time.dynamoRequests;
    out.time.dynamoMs += s.time.dynamoMs;
    out.time.sqsRequests += s.time.sqsRequests;
    out.time.sqsMs += s.time.sqsMs;
    for (const [op, c] of Object.entries(s.dynamo)) {
      const t = out.dynamo[op] ?? { requests: 0, rru: 0, wru: 0, bytes: 0 };
      out.dynamo[op] = {
        requests: t.requests + c.requests,
        rru: t.rru + c.rru,
        wru: t.wru + c.wru,
        bytes: t.bytes + c.bytes,
      };
    }
    for (const [op, c] of Object.entries(s.sqs)) {
      const t = out.sqs[op] ?? { calls: 0, billed: 0 };
      out.sqs[op] = { calls: t.calls + c.calls, billed: t.billed + c.billed };
    }
  }
  return out;
}

/** Payload bytes of an SQS request, as SQS bills them (message bodies and attributes). */
function sqsPayloadBytes(input: Record<string, unknown>, output: Record<string, unknown>): number {
  const body = (s: unknown) => (typeof s === 'string' ? Buffer.byteLength(s, 'utf8') : 0);
  if (typeof input.MessageBody === 'string') return body(input.MessageBody);
  if (Array.isArray(input.Entries)) {
    return (input.Entries as { MessageBody?: string }[]).reduce(
      (n, e) => n + body(e.MessageBody),
      0,
    );
  }
  if (Array.isArray(output.Messages)) {
    return (output.Messages as { Body?: string }[]).reduce((n, m) => n + body(m.Body), 0);
  }
  return 0;
}

/** Counts the billed SQS requests a client sends (one per call; no retries on loopback). */
export function meterSqs(client: SQSClient, meter: Meter): SQSClient {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const t0 = performance.now();
      const result = await next(args);
      meter.addTime('sqs', performance.now() - t0);
      if (SQS_COUNTED.has(context.commandName ?? '')) {
        meter.addSqs(
          context.commandName as string,
          sqsPayloadBytes(
            args.input as Record<string, unknown>,
            (result.output ?? {}) as unknown as Record<string, unknown>,
          ),
        );
      }
      return result;
    },
    { step: 'initialize', name: 'driftlessCostMeter' },
  );
  return client;
}

/**
 * Estimates the capacity of DynamoDB requests made by code that does not
 * report it (Powertools idempotency), the way DynamoTable estimates its own.
 */
export function meterDynamo(client: DynamoDBClient, meter: Meter, prefix: string): DynamoDBClient {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      let result: Awaited<ReturnType<typeof next>> | undefined;
      let failed: unknown;
      const t0 = performance.now();
      try {
        result = await next(args);
      } catch (e) {
        failed = e;
      }
      meter.addTime('dynamo', performance.now() - t0);
      const output = (result?.output ?? {}) as Record<string, unknown>;
      const op = `${prefix}${(context.commandName ?? '').replace(/Command$/, '')}`;
      switch (context.commandName) {
        case 'PutItemCommand':
          meter.addDynamo(op, writeEstimate(itemSize((input.Item ?? {}) as Item)));
          break;
        case 'UpdateItemCommand':
          meter.addDynamo(
            op,
            writeEstimate(
              itemSize({
                ...((input.Key ?? {}) as Item),
                ...((input.ExpressionAttributeValues ?? {}) as Item),
              }),
            ),
          );
          break;
        case 'DeleteItemCommand':
          meter.addDynamo(op, writeEstimate(itemSize((input.Key ?? {}) as Item)));
          break;
        case 'GetItemCommand':
          meter.addDynamo(
            op,
            readEstimate(output.Item ? [output.Item as Item] : [], !!input.ConsistentRead),
          );
          break;
        default:
          meter.addDynamo(op, { readUnits: 0, writeUnits: 0, bytes: 0 });
      }
      if (failed) throw failed;
      return result as Awaited<ReturnType<typeof next>>;
    },
    { step: 'initialize', name: 'driftlessCostMeter' },
  );
  return client;
}

/** Times every request of a client whose capacity is reported by its callback. */
export function timeDynamo(client: DynamoDBClient, meter: Meter): DynamoDBClient {
  client.middlewareStack.add(
    (next) => async (args) => {
      const t0 = performance.now();
      try {
        return await next(args);
      } finally {
        meter.addTime('dynamo', performance.now() - t0);
      }
    },
    { step: 'initialize', name: 'driftlessCostTimer' },
  );
  return client;
}

// ---------------------------------------------------------------------------
// The data plane, as functions/wiring/config.ts createDataPlane assembles it.

export interface AwsEndpoint {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface PlaneConfig {
  aws: AwsEndpoint;
  tableName: string;
  queueUrl: string;
  delayQueueUrl: string;
  gitCacheDir: string;
}

export interface MeteredPlane {
  meter: Meter;
  dynamo: DynamoDBClient;
  sqs: SQSClient;
  catalog: DynamoCatalog;
  leases: DynamoLeaseManager;
  queue: SqsJobQueue;
  git: IsomorphicGitSource;
  clusters: ClusterRouter;
  workerDeps: WorkerDeps;
  webhookDeps: (secret: string) => WebhookDeps;
  /** The cluster's KubeClient (a kubeconfig cluster), for its request counts. */
  kubeClient: (cluster: Cluster) => Promise<KubeClient>;
  close: () => void;
}

export function clientConfig(aws: AwsEndpoint): DynamoDBClientConfig & SQSClientConfig {
  return {
    endpoint: aws.endpoint,
    region: aws.region,
    credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
    maxAttempts: 1,
  };
}

/** Commit statuses go to GitHub (free, outside AWS): not reported here. */
const silentReporter: CommitStatusReporter = { report: async () => {} };

export function meteredPlane(config: PlaneConfig, meter = new Meter()): MeteredPlane {
  const dynamo = timeDynamo(new DynamoDBClient(clientConfig(config.aws)), meter);
  const sqs = meterSqs(new SQSClient(clientConfig(config.aws)), meter);
  const catalog = new DynamoCatalog({
    client: dynamo,
    tableName: config.tableName,
    onConsumedCapacity: meter.onCapacity,
  });
  const leases = new DynamoLeaseManager({
    client: dynamo,
    tableName: config.tableName,
    onConsumedCapacity: meter.onCapacity,
  });
  const queue = new SqsJobQueue({
    client: sqs,
    queueUrl: config.queueUrl,
    delayedQueueUrl: config.delayQueueUrl,
  });
  const git = new IsomorphicGitSource({ cacheRoot: config.gitCacheDir });
  // As functions/wiring/config.ts builds it: EKS clusters through DescribeCluster and
  // a presigned token; a cluster declared with a kubeconfig (this one) through
  // the kubeconfig connector the ClusterRouter keeps for those.
  const clusters = new ClusterRouter();
  const workerDeps: WorkerDeps = {
    catalog,
    leases,
    queue,
    git,
    renderer: new SourceCache(),
    clusters,
    reporter: silentReporter,
  };
  return {
    meter,
    dynamo,
    sqs,
    catalog,
    leases,
    queue,
    git,
    clusters,
    workerDeps,
    webhookDeps: (secret) => ({
      catalog,
      queue,
      reporter: silentReporter,
      secrets: async () => [secret],
    }),
    kubeClient: async (cluster) => (await clusters.connect(cluster)) as KubeClient,
    close: () => {
      clusters.close();
      dynamo.destroy();
      sqs.destroy();
    },
  };
}

/** One line for a worker outcome (the benchmark checks it and prints it). */
export function describeOutcome(outcome: JobOutcome): string {
  switch (outcome.kind) {
    case 'done':
      return `done ${outcome.status?.operation?.phase ?? ''}`.trim();
    case 'skipped':
    case 'deferred':
      return `${outcome.kind}: ${outcome.reason}`;
    case 'swept':
      return 'swept';
    default:
      return `${outcome.kind}: ${outcome.error.describe()}`;
  }
}
