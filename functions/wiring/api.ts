// The status API's data plane: the catalog and queue, and the engine for
// diff previews (which report no commit statuses).

import type { ApiDeps } from '../../lib/api/index.js';
import { noReporter } from '../../lib/ports/report.js';
import { type DataPlaneConfig, statusUrlFor } from './config.js';
import { enginePlane } from './engine.js';
import { storePlane } from './store.js';

export function apiPlane(config: DataPlaneConfig) {
  const { dynamo, catalog, queue } = storePlane(config);
  const { leases, git, clusters, guard } = enginePlane(config, dynamo);
  const statusUrl = statusUrlFor(config);
  return {
    apiDeps: (): ApiDeps => ({
      catalog,
      queue,
      guard,
      engine: { leases, git, clusters, reporter: noReporter, statusUrl },
    }),
  };
}
