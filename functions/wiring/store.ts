// The catalog (DynamoDB) and the job queue (SQS): what every function needs.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { withAwsCallHooks } from '../../lib/aws/call-hooks.js';
import { DynamoCatalog } from '../../lib/aws/catalog/index.js';
import { SqsJobQueue } from '../../lib/aws/queue.js';
import type { DataPlaneConfig } from './config.js';

export function storePlane(config: DataPlaneConfig) {
  // Endpoints come from the SDK's own configuration (AWS_REGION, AWS_ENDPOINT_URL).
  const dynamo = withAwsCallHooks(new DynamoDBClient({}));
  const sqs = withAwsCallHooks(new SQSClient({}));
  const catalog = new DynamoCatalog({ client: dynamo, tableName: config.tableName });
  const queue = new SqsJobQueue({
    client: sqs,
    queueUrl: config.queueUrl,
    delayedQueueUrl: config.delayQueueUrl,
  });
  return { dynamo, sqs, catalog, queue };
}
