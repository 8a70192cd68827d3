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
  const { leases, git, clusters, guard, renderer, credentialsFor } = enginePlane(
    config,
    dynamo,
    catalog,
  );
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
      // Without cluster access (driftless:apiPreviews off) no engine: a
      // preview answers 501 instead of failing on the cluster's AccessDenied.
      engine:
        config.apiPreviews === false
          ? undefined
          : { leases, git, clusters, renderer, credentialsFor, reporter: noReporter, statusUrl },
    }),
  };
}
