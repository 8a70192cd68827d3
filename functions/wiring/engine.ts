// What the reconcile engine needs beyond the store: leases, git and the
// clusters (API previews and the worker).

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoClusterGuard } from '../../lib/aws/cluster-guard.js';
import { DynamoLeaseManager } from '../../lib/aws/lease.js';
import { ClusterRouter } from '../../lib/kube/connector.js';
import { IsomorphicGitSource } from '../../lib/source/index.js';
import type { DataPlaneConfig } from './config.js';

export function enginePlane(config: DataPlaneConfig, dynamo: DynamoDBClient) {
  const leases = new DynamoLeaseManager({ client: dynamo, tableName: config.tableName });
  const git = new IsomorphicGitSource({ cacheRoot: config.gitCacheDir });
  const clusters = new ClusterRouter();
  const guard = new DynamoClusterGuard({ client: dynamo, tableName: config.tableName });
  return { leases, git, clusters, guard };
}
