// Realistic Lambda events for invoking the functions/ handlers in tests, and
// the part of Lambda's SQS event source mapping that matters here: receive a
// batch, invoke, delete what succeeded, leave the reported failures.

import { randomUUID } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';

/** A Lambda context whose remaining time counts down from `timeoutMs`, as Lambda's does. */
export function lambdaContext(functionName: string, timeoutMs = 300_000): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/11/22/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** An HTTP API (payload 2.0) / Function URL event. */
export function httpEvent(
  method: string,
  rawPath: string,
  opts: {
    body?: string;
    headers?: Record<string, string>;
    query?: Record<string, string>;
    iamUser?: string;
  } = {},
): APIGatewayProxyEventV2 {
  const headers = Object.fromEntries(
    Object.entries(opts.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
  );
  const rawQueryString = new URLSearchParams(opts.query ?? {}).toString();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers: { 'content-type': 'application/json', ...headers },
    queryStringParameters: opts.query,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abcdef1234',
      domainName: 'abcdef1234.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abcdef1234',
      http: {
        method,
        path: rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: '192.0.2.10',
        userAgent: 'driftless-test',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
      ...(opts.iamUser ? { authorizer: { iam: { userArn: opts.iamUser } } } : {}),
    } as APIGatewayProxyEventV2['requestContext'],
    body: opts.body,
    isBase64Encoded: false,
  };
}

export type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export function queueArn(queueUrl: string): string {
  return `arn:aws:sqs:us-east-1:123456789012:${queueUrl.split('/').pop()}`;
}

function toRecord(m: Message, queueUrl: string): SQSEvent['Records'][number] {
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId as string,
    receiptHandle: m.ReceiptHandle as string,
    body: m.Body as string,
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(a.MessageGroupId ? { MessageGroupId: a.MessageGroupId } : {}),
      ...(a.MessageDeduplicationId ? { MessageDeduplicationId: a.MessageDeduplicationId } : {}),
      ...(a.SequenceNumber ? { SequenceNumber: a.SequenceNumber } : {}),
    },
    messageAttributes: {},
    md5OfBody: m.MD5OfBody as string,
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn(queueUrl),
    awsRegion: 'us-east-1',
  };
}

/**
 * One poll of the event source mapping: receive up to 10 messages, invoke the
 * handler, delete the ones not reported as failures. Returns what happened.
 */
export async function pollOnce(
  sqs: SQSClient,
  queueUrl: string,
  handler: SqsHandler,
  opts: { timeoutMs?: number } = {},
) {
  const res = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  const messages = res.Messages ?? [];
  if (messages.length === 0) return { received: 0, failed: [] as string[], remainingMs: undefined };
  const context = lambdaContext('driftless-worker', opts.timeoutMs);
  const out = await handler({ Records: messages.map((m) => toRecord(m, queueUrl)) }, context);
  // What Lambda would have left the invocation when the handler returned (0: killed).
  const remainingMs = context.getRemainingTimeInMillis();
  const failed = new Set(out.batchItemFailures.map((f) => f.itemIdentifier));
  const done = messages.filter((m) => !failed.has(m.MessageId as string));
  if (done.length) {
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
      }),
    );
  }
  return {
    received: messages.length,
    failed: [...failed],
    bodies: messages.map((m) => m.Body as string),
    /** The batch's messages: id and body, in batch order. */
    messages: messages.map((m) => ({ id: m.MessageId as string, body: m.Body as string })),
    remainingMs,
  };
}

/**
 * Polls until `queues` yield nothing for `quietMs`, or timeoutMs. A message
 * delayed (or invisible) for longer than quietMs is not waited for: a test
 * that needs what such a message does waits for that state (eventually).
 */
export async function drain(
  sqs: SQSClient,
  queueUrls: string[],
  handler: SqsHandler,
  opts: { quietMs?: number; timeoutMs?: number } = {},
): Promise<number> {
  const deadline = Date.now() + (opts.timeoutMs ?? 90_000);
  let quietSince = Date.now();
  let processed = 0;
  while (Date.now() < deadline) {
    let got = 0;
    for (const url of queueUrls) got += (await pollOnce(sqs, url, handler)).received;
    processed += got;
    if (got > 0) quietSince = Date.now();
    else if (Date.now() - quietSince > (opts.quietMs ?? 3_000)) return processed;
    else await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`queues not drained after ${(opts.timeoutMs ?? 90_000) / 1000}s`);
}
