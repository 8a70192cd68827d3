// The scheduled drift sweep's tick (EventBridge Scheduler, once a minute): one
// sweep job per cluster on the job queue (the worker runs it:
// lib/sweep/cluster.ts); clusters the guard holds back get none.

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { type Clock, systemClock } from '../lib/ports/clock.js';
import { sweepTick } from '../lib/sweep/index.js';
import { configFromEnv, observability } from './wiring/config.js';
import { sweepPlane } from './wiring/sweep.js';

const config = configFromEnv(process.env);
const plane = sweepPlane(config);
const { logger, metrics, tracer } = observability('sweep');

/** The scheduler's input: the time the tick was scheduled for (a missing or bad one: now). */
function tickClock(event: unknown): Clock {
  const at =
    typeof event === 'object' && event !== null && 'scheduledTime' in event
      ? Date.parse(String(event.scheduledTime))
      : Number.NaN;
  return Number.isNaN(at) ? systemClock : { now: () => at };
}

export const handler = middy(async (event: unknown) => {
  const result = await sweepTick({
    catalog: plane.catalog,
    queue: plane.queue,
    guard: plane.guard,
    clock: tickClock(event),
  });
  metrics.addMetric('SweepClusters', 'Count', result.clusters.length);
  metrics.addMetric('SweepHeldBack', 'Count', Object.keys(result.heldBack).length);
  logger.info('sweep tick', {
    tick: new Date(result.tick).toISOString(),
    clusters: result.clusters.length,
    heldBack: result.heldBack,
  });
  return { tick: result.tick, clusters: result.clusters.length, heldBack: result.heldBack };
})
  .use(captureLambdaHandler(tracer))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
