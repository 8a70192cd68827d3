// What every item family of the catalog shares: the table client, the clock
// and the limits the catalog was configured with.

import type { Clock } from '../../ports/clock.js';
import type { DynamoTable } from '../dynamo/client.js';

export interface CatalogContext {
  table: DynamoTable;
  clock: Clock;
  /** Most history entries kept per target. */
  historyLimit: number;
  historyTtlSeconds: number;
}

/** Page sizes a caller may ask for. */
export const MAX_PAGE_SIZE = 1000;

/** Concurrent writes when one spec change touches several targets. */
export const TARGET_WRITE_CONCURRENCY = 8;
