// The worker's data plane: everything the engine needs, and control of the
// messages it defers and dead-letters.

import { MessageControl } from '../../lib/aws/messages.js';
import type { ReconcileEvent } from '../../lib/reconcile/index.js';
import type { WorkerDeps } from '../../lib/worker.js';
import { type DataPlaneConfig, statusUrlFor } from './config.js';
import { enginePlane } from './engine.js';
import { githubPlane } from './github.js';
import { storePlane } from './store.js';

export function workerPlane(config: DataPlaneConfig) {
  const { dynamo, sqs, catalog, queue } = storePlane(config);
  const { reporter } = githubPlane(config);
  const { leases, git, clusters, guard } = enginePlane(config, dynamo);
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
      clusters,
      reporter,
      statusUrl,
      onEvent,
    }),
  };
}
