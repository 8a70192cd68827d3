export { MemoryClusterGuard } from './cluster-guard.js';
export { MemoryLeaseManager } from './lease.js';
export { MemoryStore } from './store.js';
