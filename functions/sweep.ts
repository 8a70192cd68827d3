// The scheduled drift sweep (EventBridge Scheduler): enqueue the targets whose
// interval is due, bounded per cluster, suspended ones and clusters the guard
// holds back skipped.

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { sweep } from '../lib/sweep.js';
import { configFromEnv, observability } from './wiring/config.js';
import { sweepPlane } from './wiring/sweep.js';

const config = configFromEnv(process.env);
const plane = sweepPlane(config);
const { logger, metrics, tracer } = observability('sweep');

export const handler = middy(async () => {
  const result = await sweep(
    { catalog: plane.catalog, queue: plane.queue, guard: plane.guard },
    { perClusterLimit: config.sweepPerClusterLimit },
  );
  metrics.addMetric('SweepEnqueued', 'Count', result.enqueued.length);
  metrics.addMetric('SweepDeferred', 'Count', result.deferred);
  const heldBack = Object.values(result.heldBack).reduce((n, h) => n + h.targets, 0);
  metrics.addMetric('SweepHeldBack', 'Count', heldBack);
  logger.info('sweep done', {
    enqueued: result.enqueued.length,
    deferred: result.deferred,
    skippedSuspended: result.skippedSuspended,
    heldBack: result.heldBack,
  });
  return {
    enqueued: result.enqueued.length,
    deferred: result.deferred,
    skippedSuspended: result.skippedSuspended,
  };
})
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
