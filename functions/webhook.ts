// GitHub webhook receiver (Lambda Function URL or HTTP API). The signature is
// the authentication: it is verified (once, in lib/github/webhook.ts) before
// anything is parsed, and then each body is processed at most once
// (Powertools idempotency on DynamoDB, keyed by the SHA-256 of the body), so
// a redelivery, or the same body replayed under a fresh X-GitHub-Delivery,
// enqueues nothing twice. Jobs keep the delivery id in their dedup id.

import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { ATTR, IDEMPOTENCY_PARTITION, TABLE_DEFINITION } from '../lib/aws/dynamo/schema.js';
import {
  checkDelivery,
  routeDelivery,
  type VerifiedDelivery,
  type WebhookRequest,
  type WebhookResponse,
} from '../lib/github/webhook.js';
import { configFromEnv, observability } from './wiring/config.js';
import { webhookPlane } from './wiring/webhook.js';

const config = configFromEnv(process.env);
const { logger, metrics, tracer } = observability('webhook');
const plane = webhookPlane(config, logger);

/** How long a processed body is remembered, so a replay of it within that time enqueues nothing. */
const IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600;

const idempotency = new IdempotencyConfig({
  eventKeyJmesPath: 'bodyHash',
  expiresAfterSeconds: IDEMPOTENCY_WINDOW_SECONDS,
});
const processDelivery = makeIdempotent(
  async (input: VerifiedDelivery): Promise<WebhookResponse> => {
    const res = await routeDelivery(plane.webhookDeps(), input);
    const routed = (res.body.targets as unknown[] | undefined)?.length ?? 0;
    metrics.addMetric('TargetsRouted', 'Count', routed);
    return res;
  },
  {
    persistenceStore: new DynamoDBPersistenceLayer({
      awsSdkV3Client: plane.dynamo,
      tableName: config.tableName,
      keyAttr: ATTR.pk,
      sortKeyAttr: ATTR.sk,
      staticPkValue: IDEMPOTENCY_PARTITION,
      // The table's TTL attribute, so DynamoDB deletes expired records.
      expiryAttr: TABLE_DEFINITION.timeToLiveAttribute,
    }),
    config: idempotency,
  },
);

function respond(res: WebhookResponse): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: res.status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(res.body),
  };
}

export const handler = middy(
  async (
    event: APIGatewayProxyEventV2,
    context: Context,
  ): Promise<APIGatewayProxyStructuredResultV2> => {
    idempotency.registerLambdaContext(context);
    const body = event.isBase64Encoded
      ? Buffer.from(event.body ?? '', 'base64').toString('utf8')
      : (event.body ?? '');
    const request: WebhookRequest = { headers: event.headers ?? {}, body };
    const deliveryId = request.headers['x-github-delivery'] ?? '';
    logger.appendKeys({ deliveryId, event: request.headers['x-github-event'] });
    // The size, the signature (computed once), the headers and the signer's
    // repository are checked before the idempotency store is touched: a
    // forged request creates no records.
    const checked = await checkDelivery(request, plane.webhookSecrets, plane.maxWebhookBytes);
    if ('rejected' in checked) {
      metrics.addMetric('WebhookRejected', 'Count', 1);
      logger.warn('webhook rejected', { status: checked.rejected.status });
      return respond(checked.rejected);
    }
    const res = await processDelivery(checked.verified);
    logger.info('webhook processed', { status: res.status, targets: res.body.targets });
    return respond(res);
  },
)
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
