// The worker's data plane: everything the engine needs, and control of the
// messages it defers and dead-letters.

import type { ReconcileEvent } from '../../reconcile.js';
import type { WorkerDeps } from '../../worker.js';
import { MessageControl } from '../messages.js';
import { type DataPlaneConfig, statusUrlFor } from '../runtime.js';
import { enginePlane } from './engine.js';
import { githubPlane } from './github.js';
import { storePlane } from './store.js';

export function workerPlane(config: DataPlaneConfig) {
  const { dynamo, sqs, catalog, queue } = storePlane(config);
  const { reporter } = githubPlane(config);
  const { leases, git, clusters } = enginePlane(config, dynamo);
  const messages = new MessageControl(
    sqs,
    [config.queueUrl, config.delayQueueUrl],
    config.deadLetterQueueUrl,
  );
  const statusUrl = statusUrlFor(config);
  return {
    messages,
    workerDeps: (onEvent?: (e: ReconcileEvent) => void): WorkerDeps => ({
      store: catalog,
      catalog,
      leases,
      queue,
      git,
      clusters,
      reporter,
      statusUrl,
      onEvent,
    }),
  };
}
