// What the reconcile engine needs beyond the store: leases, git and the
// clusters (API previews and the worker).

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EksConnector } from '../../kube/eks.js';
import { IsomorphicGitSource } from '../../source/index.js';
import { DynamoLeaseManager } from '../lease.js';
import type { DataPlaneConfig } from '../runtime.js';

export function enginePlane(config: DataPlaneConfig, dynamo: DynamoDBClient) {
  const leases = new DynamoLeaseManager({ client: dynamo, tableName: config.tableName });
  const git = new IsomorphicGitSource({ cacheRoot: config.gitCacheDir });
  const clusters = new EksConnector({});
  return { leases, git, clusters };
}
