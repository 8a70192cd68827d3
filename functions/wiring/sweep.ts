// The sweep's data plane: the catalog and the queue, nothing else.

import type { DataPlaneConfig } from './config.js';
import { storePlane } from './store.js';

export function sweepPlane(config: DataPlaneConfig) {
  const { catalog, queue } = storePlane(config);
  return { catalog, queue };
}
