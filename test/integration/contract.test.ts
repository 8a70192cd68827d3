// One contract for each port with two adapters — the Store/Catalog, the
// LeaseManager and the JobQueue — run against the AWS adapters (DynamoDB and
// SQS on moto) and the local ones (lib/local/). The cases live in
// test/support/contract/; adapter-specific behaviour (capacity, item sizes,
// batching, races through moto) stays in test/integration/aws-*.test.ts.

import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { describe } from 'vitest';
import { DynamoCatalog } from '../../lib/aws/catalog/index.js';
import { DynamoLeaseManager } from '../../lib/aws/lease.js';
import { parseJob, SqsJobQueue } from '../../lib/aws/queue.js';
import { MemoryLeaseManager } from '../../lib/local/lease.js';
import { LocalJobQueue } from '../../lib/local/queue.js';
import { MemoryStore } from '../../lib/local/store.js';
import { isClusterSweep, type ReconcileJob } from '../../lib/ports/queue.js';
import { awsClientConfig } from '../support/aws.js';
import { catalogContract } from '../support/contract/catalog.js';
import type { MakeQueue, MakeStore } from '../support/contract/fixtures.js';
import { leaseContract } from '../support/contract/lease.js';
import { queueContract } from '../support/contract/queue.js';
import { createDriftlessTable, manualClock } from '../support/dynamo.js';
import { uniqueName } from '../support/env.js';

const awsStore: MakeStore = async (opts = {}) => {
  const { client, tableName } = await createDriftlessTable('contract');
  const clock = manualClock();
  return {
    catalog: new DynamoCatalog({ client, tableName, clock, historyLimit: opts.historyLimit }),
    leases: new DynamoLeaseManager({ client, tableName, clock }),
    clock,
  };
};

const localStore: MakeStore = async (opts = {}) => {
  const clock = manualClock();
  const catalog = new MemoryStore({ historyLimit: opts.historyLimit });
  return { catalog, leases: new MemoryLeaseManager(catalog, clock), clock };
};

const sqs = new SQSClient(awsClientConfig());

async function receive(url: string, waitSeconds: number): Promise<ReconcileJob[]> {
  const out: ReconcileJob[] = [];
  for (;;) {
    const res = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: waitSeconds,
        VisibilityTimeout: 60,
      }),
    );
    const messages = res.Messages ?? [];
    if (!messages.length) return out;
    out.push(...messages.map((m) => parseJob(m.Body ?? '')));
    // Deleted as a consumer does, so the next message of each group comes.
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
}

const awsQueue: MakeQueue = async () => {
  const name = uniqueName('contract-jobs');
  const queueUrl = (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: `${name}.fifo`,
        Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' },
      }),
    )
  ).QueueUrl as string;
  const delayedQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-delayed` })))
    .QueueUrl as string;
  return {
    queue: new SqsJobQueue({ client: sqs, queueUrl, delayedQueueUrl }),
    received: () => receive(queueUrl, 1),
    receivedDelayed: (waitMs) => receive(delayedQueueUrl, Math.ceil(waitMs / 1000)),
  };
};

const localQueue: MakeQueue = async () => {
  const queue = new LocalJobQueue();
  const delivered: ReconcileJob[] = [];
  queue.start(async (job) => {
    if (isClusterSweep(job)) throw new Error(`unexpected cluster sweep of ${job.cluster}`);
    delivered.push(job);
    return { kind: 'done' };
  });
  const take = async () => {
    await queue.idle();
    return delivered.splice(0);
  };
  return { queue, received: take, receivedDelayed: take };
};

describe.each([
  { adapters: 'AWS (DynamoDB, SQS on moto)', store: awsStore, queue: awsQueue },
  {
    adapters: 'local (memory store and lease, in-process queue)',
    store: localStore,
    queue: localQueue,
  },
])('ports contract: $adapters', ({ store, queue }) => {
  describe('Catalog', () => catalogContract(store));
  describe('LeaseManager', () => leaseContract(store));
  describe('JobQueue', () => queueContract(queue));
});
