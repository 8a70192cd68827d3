// The sweep's data plane: the catalog, the queue, and the clusters' guards
// (read only: a cluster held back gets no jobs).

import { DynamoClusterGuard } from '../../lib/aws/cluster-guard.js';
import type { DataPlaneConfig } from './config.js';
import { storePlane } from './store.js';

export function sweepPlane(config: DataPlaneConfig) {
  const { dynamo, catalog, queue } = storePlane(config);
  const guard = new DynamoClusterGuard({ client: dynamo, tableName: config.tableName });
  return { catalog, queue, guard };
}
