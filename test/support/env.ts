// Per-test access to the shared real servers, with isolation: each test gets
// its own namespace, table, queue or repository, named uniquely.

import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { TestEnvInfo } from '../../scripts/testenv/env.js';

export function testenv(): TestEnvInfo {
  const info = inject('testenv');
  if (!info) throw new Error('no test environment: run integration tests through ./scripts/test');
  return info;
}

/** A DNS-1123 name unique to this run, e.g. `t-configmap-3fa9c1`. */
export function uniqueName(prefix: string): string {
  const base = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 40);
  return `${base}-${randomBytes(3).toString('hex')}`;
}
