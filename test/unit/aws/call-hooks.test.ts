import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { type AwsCall, awsCallHooks, withAwsCallHooks } from '../../../lib/aws/call-hooks.js';

/** A client that never reaches the network: its handler refuses every request. */
const offline = {
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example' },
  maxAttempts: 1,
  requestHandler: {
    handle: async () => {
      throw new Error('offline');
    },
  },
};

afterEach(() => {
  awsCallHooks.length = 0;
});

describe('withAwsCallHooks', () => {
  it('hands each call to the hooks, before it is sent, with its IAM service prefix and operation', async () => {
    const seen: AwsCall[] = [];
    awsCallHooks.push((c) => seen.push(c));
    const dynamo = withAwsCallHooks(new DynamoDBClient(offline));
    const sqs = withAwsCallHooks(new SQSClient(offline));
    const key = { pk: { S: 'TARGET#web#local' }, sk: { S: 'TARGET' } };
    await expect(dynamo.send(new GetItemCommand({ TableName: 't', Key: key }))).rejects.toThrow(
      'offline',
    );
    await expect(
      sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/q',
          Entries: [{ Id: '1', MessageBody: 'x' }],
        }),
      ),
    ).rejects.toThrow('offline');
    expect(seen).toEqual([
      { service: 'dynamodb', operation: 'GetItem', input: { TableName: 't', Key: key } },
      {
        service: 'sqs',
        operation: 'SendMessageBatch',
        input: expect.objectContaining({
          QueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/q',
        }),
      },
    ]);
  });

  it('calls nothing when no hook is registered, and a client made without it is not observed', async () => {
    const seen: AwsCall[] = [];
    const observed = withAwsCallHooks(new DynamoDBClient(offline));
    const plain = new DynamoDBClient(offline);
    const get = new GetItemCommand({ TableName: 't', Key: { pk: { S: 'x' } } });
    await expect(observed.send(get)).rejects.toThrow('offline');
    awsCallHooks.push((c) => seen.push(c));
    await expect(plain.send(get)).rejects.toThrow('offline');
    expect(seen).toEqual([]);
    await expect(observed.send(get)).rejects.toThrow('offline');
    expect(seen.map((c) => c.operation)).toEqual(['GetItem']);
  });
});
