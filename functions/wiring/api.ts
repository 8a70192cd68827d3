// The status API's data plane: the catalog and queue, the job queue's dead
// letters (listed and redriven), and the engine for diff previews (which
// report no commit statuses).

import type { ApiDeps } from '../../lib/api/index.js';
import { SqsDeadLetters } from '../../lib/aws/deadletters.js';
import { noReporter } from '../../lib/ports/report.js';
import { type DataPlaneConfig, statusUrlFor } from './config.js';
import { enginePlane } from './engine.js';
import { storePlane } from './store.js';

export function apiPlane(config: DataPlaneConfig) {
  const { dynamo, sqs, catalog, queue } = storePlane(config);
  const { leases, git, clusters, guard, renderer } = enginePlane(config, dynamo);
  const statusUrl = statusUrlFor(config);
  const deadLetters = config.deadLetterQueueUrl
    ? new SqsDeadLetters({
        client: sqs,
        deadLetterQueueUrl: config.deadLetterQueueUrl,
        jobQueueUrl: config.queueUrl,
      })
    : undefined;
  return {
    apiDeps: (): ApiDeps => ({
      catalog,
      queue,
      guard,
      deadLetters,
      admins: config.adminPrincipals,
      engine: { leases, git, clusters, renderer, reporter: noReporter, statusUrl },
    }),
  };
}
