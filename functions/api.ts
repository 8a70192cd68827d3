// The status API (HTTP API with IAM authorization): routes to lib/api/index.ts.

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { handleApiRequest } from '../lib/api/index.js';
import { apiPlane } from './wiring/api.js';
import { configFromEnv, observability } from './wiring/config.js';

const config = configFromEnv(process.env);
const plane = apiPlane(config);
const { logger, metrics, tracer } = observability('api');
/** The audit log: one structured line per API write (or denial), its own stream of records. */
const audit = logger.createChild({ serviceName: 'driftless-audit' });

export const handler = middy(
  async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const body =
      event.isBase64Encoded && event.body
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
    const method = event.requestContext.http.method;
    const path = event.rawPath;
    const caller = (event.requestContext as { authorizer?: { iam?: { userArn?: string } } })
      .authorizer?.iam?.userArn;
    logger.appendKeys({ method, path, caller });
    const res = await handleApiRequest(
      { ...plane.apiDeps(), audit: (e) => audit.info('audit', { audit: e }) },
      {
        method,
        path,
        query: event.queryStringParameters ?? {},
        body: body ?? undefined,
        principal: caller,
      },
    );
    metrics.addMetric(
      `Api${res.status < 400 ? 'Ok' : res.status < 500 ? 'ClientError' : 'ServerError'}`,
      'Count',
      1,
    );
    return {
      statusCode: res.status,
      headers: { 'content-type': 'application/json' },
      body: res.body === null ? '' : JSON.stringify(res.body),
    };
  },
)
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
