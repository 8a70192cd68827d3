// The recorder of AWS calls: a hook in lib/aws/call-hooks.ts's list that
// captures, per function, each call's IAM action, the resource it touches and
// the condition keys it carries, while the deployed handlers run against moto.
// Which function made a call is the handler the test invoked
// (test/support/dataplane.ts runs each under `asFunction`). Resources are
// recorded by what they are to the stack — the table, the job queue, the
// webhook secret, source credential `acme-git` — from the environment the
// functions were given, so test/support/iam.ts can put the template's ARN in
// their place. Calls go to an in-process list and, one JSON line each, to a
// file per worker process under the run's directory (global setup's
// `awsCallLog`), so every e2e file's calls can be read after it ran.

import { AsyncLocalStorage } from 'node:async_hooks';
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { expect, inject } from 'vitest';
import { ENV } from '../../functions/wiring/env.js';
import { type AwsCall, awsCallHooks } from '../../lib/aws/call-hooks.js';
import { TABLE_DEFINITION } from '../../lib/aws/dynamo/schema.js';

export type FunctionName = 'webhook' | 'worker' | 'sweep' | 'api' | 'outbox';

/** A resource as the stack knows it (test/support/iam.ts maps it to the template's ARN). */
export type StackResource =
  | { kind: 'table'; index?: string }
  | { kind: 'queue'; queue: 'jobs' | 'delay' | 'deadLetter' | 'outbox' }
  | { kind: 'secret'; secret: 'webhook' | 'github' }
  | { kind: 'sourceSecret'; name: string }
  /** Named by its ARN already (KMS keys, roles, EKS clusters): as in the stack's configuration. */
  | { kind: 'arn'; arn: string }
  /** Nothing of the stack: evaluated as is, so it can only be allowed by a wildcard. */
  | { kind: 'unknown'; id: string };

export interface RecordedCall {
  /** The handler that made it; undefined outside any (a harness bug the evaluation reports). */
  fn?: FunctionName;
  /** The IAM action: a batch operation is authorized as its item action (SendMessageBatch → sqs:SendMessage). */
  action: string;
  /** The API operation as sent. */
  operation: string;
  resource: StackResource;
  /** The condition keys the request carries that the stack's policies use. */
  context: Record<string, string | string[]>;
  /** Where it was recorded (the test file), for the report. */
  file?: string;
  /** The plane posted commit statuses as a GitHub App (the stack then grants the worker the App's key). */
  githubApp?: boolean;
}

/** Batch and other operations that IAM authorizes as another action. */
const IAM_ACTION: Record<string, string> = {
  'sqs:SendMessageBatch': 'sqs:SendMessage',
  'sqs:DeleteMessageBatch': 'sqs:DeleteMessage',
  'sqs:ChangeMessageVisibilityBatch': 'sqs:ChangeMessageVisibility',
};

const current = new AsyncLocalStorage<FunctionName>();
const calls: RecordedCall[] = [];
let installed = false;
let logFile: string | undefined;

/** Runs a handler as `fn`: the calls it makes, however deep, are recorded as that function's. */
export function asFunction<A extends unknown[], R>(
  fn: FunctionName,
  handler: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return (...args) => current.run(fn, () => handler(...args));
}

/** Adds the recorder to the hooks (once per process). */
export function recordAwsCalls(): void {
  if (installed) return;
  installed = true;
  let dir: string | undefined;
  try {
    dir = inject('awsCallLog');
  } catch {
    dir = undefined; // not under vitest's integration project: in-process only
  }
  if (dir) {
    mkdirSync(dir, { recursive: true });
    logFile = path.join(dir, `${process.pid}-${threadId}.jsonl`);
  }
  awsCallHooks.push((call) => {
    for (const c of describeCall(call, process.env, current.getStore())) {
      const recorded = {
        ...c,
        file: expect.getState().testPath,
        githubApp: Boolean(process.env[ENV.githubAppId]),
      };
      calls.push(recorded);
      if (logFile) appendFileSync(logFile, `${JSON.stringify(recorded)}\n`);
    }
  });
}

/** The calls recorded in this process since `since` (an index from `recordedCount`). */
export function recordedCalls(since = 0): RecordedCall[] {
  return calls.slice(since);
}

export function recordedCount(): number {
  return calls.length;
}

/** The IAM view of one SDK call: one record per table of a batch. */
export function describeCall(
  call: AwsCall,
  env: Record<string, string | undefined>,
  fn: FunctionName | undefined,
): RecordedCall[] {
  const op = `${call.service}:${call.operation}`;
  const action = IAM_ACTION[op] ?? op;
  const input = call.input as Record<string, unknown>;
  const base = { fn, action, operation: call.operation };
  switch (call.service) {
    case 'dynamodb': {
      if (call.operation === 'BatchWriteItem' || call.operation === 'BatchGetItem') {
        const items = input.RequestItems as Record<string, unknown[] | { Keys: unknown[] }>;
        return Object.entries(items).map(([table, reqs]) => {
          const keys = (Array.isArray(reqs) ? reqs : reqs.Keys).map(
            (r) =>
              ((r as Record<string, { Item?: Item; Key?: Item } | undefined>).PutRequest?.Item ??
                (r as Record<string, { Key?: Item } | undefined>).DeleteRequest?.Key ??
                (r as Item)) as Item,
          );
          return {
            ...base,
            resource: tableResource(table, undefined, env),
            context: { 'dynamodb:LeadingKeys': unique(keys.map(partitionOf)) },
          };
        });
      }
      const index = input.IndexName as string | undefined;
      const leading =
        call.operation === 'Query'
          ? queryPartition(input, index)
          : partitionOf((input.Key ?? input.Item) as Item | undefined);
      return [
        {
          ...base,
          resource: tableResource(input.TableName as string, index, env),
          context: leading === undefined ? {} : { 'dynamodb:LeadingKeys': [leading] },
        },
      ];
    }
    case 'sqs':
      return [{ ...base, resource: queueResource(input.QueueUrl as string, env), context: {} }];
    case 'secretsmanager':
      return [{ ...base, resource: secretResource(input.SecretId as string, env), context: {} }];
    case 'kms': {
      const context: Record<string, string> = {};
      for (const [k, v] of Object.entries(
        (input.EncryptionContext as Record<string, string>) ?? {},
      )) {
        context[`kms:EncryptionContext:${k}`] = v;
      }
      return [{ ...base, resource: { kind: 'arn', arn: input.KeyId as string }, context }];
    }
    case 'sts':
      return [{ ...base, resource: { kind: 'arn', arn: input.RoleArn as string }, context: {} }];
    case 'eks':
      // The cluster's ARN needs its region and account: the client's, as the stack writes it.
      return [
        {
          ...base,
          resource: {
            kind: 'arn',
            arn: `arn:aws:eks:${env.AWS_REGION}:${MOTO_ACCOUNT}:cluster/${input.name as string}`,
          },
          context: {},
        },
      ];
    default:
      return [{ ...base, resource: { kind: 'unknown', id: JSON.stringify(input) }, context: {} }];
  }
}

/** moto's account (and so the one the test stack is synthesized for). */
export const MOTO_ACCOUNT = '123456789012';

type Item = Record<string, { S?: string; N?: string }>;

const PK = TABLE_DEFINITION.partitionKey.name;

function partitionOf(item: Item | undefined): string | undefined {
  const v = item?.[PK];
  return v?.S ?? v?.N;
}

/** The partition key value of a Query: the `<pk> = :v` term of its key condition. */
function queryPartition(input: Record<string, unknown>, index: string | undefined): string {
  const pk = index
    ? TABLE_DEFINITION.globalSecondaryIndexes.find((i) => i.indexName === index)?.partitionKey.name
    : PK;
  const names = (input.ExpressionAttributeNames as Record<string, string>) ?? {};
  const values = (input.ExpressionAttributeValues as Item) ?? {};
  for (const term of String(input.KeyConditionExpression ?? '').split(/\s+AND\s+/i)) {
    const m = /^\s*\(?\s*([#\w]+)\s*=\s*(:\w+)\s*\)?\s*$/.exec(term);
    if (!m) continue;
    const name = names[m[1] as string] ?? m[1];
    const value = values[m[2] as string];
    if (name === pk && value) return (value.S ?? value.N) as string;
  }
  throw new Error(
    `Query on ${String(input.TableName)}${index ? `/${index}` : ''}: no partition key term in ${String(input.KeyConditionExpression)}`,
  );
}

function unique(values: (string | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => v !== undefined))];
}

function tableResource(
  table: string,
  index: string | undefined,
  env: Record<string, string | undefined>,
): StackResource {
  if (table !== env[ENV.table]) return { kind: 'unknown', id: `table/${table}` };
  return index ? { kind: 'table', index } : { kind: 'table' };
}

function queueResource(url: string, env: Record<string, string | undefined>): StackResource {
  const queues = {
    jobs: env[ENV.queueUrl],
    delay: env[ENV.delayQueueUrl],
    deadLetter: env[ENV.deadLetterQueueUrl],
    outbox: env[ENV.outboxQueueUrl],
  } as const;
  for (const [queue, u] of Object.entries(queues)) {
    if (u && u === url) return { kind: 'queue', queue: queue as keyof typeof queues };
  }
  return { kind: 'unknown', id: url };
}

function secretResource(id: string, env: Record<string, string | undefined>): StackResource {
  if (id === env[ENV.webhookSecretId]) return { kind: 'secret', secret: 'webhook' };
  if (id === env[ENV.githubTokenSecretId] || id === env[ENV.githubPrivateKeySecretId]) {
    return { kind: 'secret', secret: 'github' };
  }
  const prefix = env[ENV.secretPrefix];
  if (prefix && id.startsWith(prefix))
    return { kind: 'sourceSecret', name: id.slice(prefix.length) };
  return { kind: 'unknown', id };
}
