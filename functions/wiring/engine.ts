// What the reconcile engine needs beyond the store: leases, git, the render
// cache and the clusters (API previews and the worker).

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoClusterGuard } from '../../lib/aws/cluster-guard.js';
import { DynamoLeaseManager } from '../../lib/aws/lease.js';
import { ClusterRouter } from '../../lib/kube/connector.js';
import { IsomorphicGitSource, SourceCache } from '../../lib/source/index.js';
import type { DataPlaneConfig } from './config.js';

export function enginePlane(config: DataPlaneConfig, dynamo: DynamoDBClient) {
  const leases = new DynamoLeaseManager({ client: dynamo, tableName: config.tableName });
  const git = new IsomorphicGitSource({ cacheRoot: config.gitCacheDir });
  const clusters = new ClusterRouter();
  const guard = new DynamoClusterGuard({ client: dynamo, tableName: config.tableName });
  // One render cache per process: a warm Lambda renders an unchanged commit once.
  const renderer = new SourceCache();
  return { leases, git, clusters, guard, renderer };
}
