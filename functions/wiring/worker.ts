// The worker's data plane: everything the engine needs, and control of the
// messages it defers and dead-letters.

import { MessageControl } from '../../lib/aws/messages.js';
import type { OutboxLogger } from '../../lib/github/outbox.js';
import type { ReconcileEvent } from '../../lib/reconcile/index.js';
import type { WorkerDeps } from '../../lib/worker.js';
import { type DataPlaneConfig, statusUrlFor } from './config.js';
import { enginePlane } from './engine.js';
import { reporterPlane } from './github.js';
import { storePlane } from './store.js';

export function workerPlane(config: DataPlaneConfig, logger?: OutboxLogger) {
  const { dynamo, sqs, catalog, queue } = storePlane(config);
  // Commit statuses go to the outbox: no reconcile waits on GitHub.
  const { reporter } = reporterPlane(config, sqs, logger);
  const { leases, git, clusters, guard, renderer, credentialsFor } = enginePlane(
    config,
    dynamo,
    catalog,
  );
  const messages = new MessageControl(
    sqs,
    [config.queueUrl, config.delayQueueUrl],
    config.deadLetterQueueUrl,
  );
  const statusUrl = statusUrlFor(config);
  return {
    messages,
    workerDeps: (onEvent?: (e: ReconcileEvent) => void): WorkerDeps => ({
      catalog,
      leases,
      queue,
      guard,
      git,
      renderer,
      clusters,
      credentialsFor,
      reporter,
      statusUrl,
      onEvent,
    }),
  };
}
