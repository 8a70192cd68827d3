export { MemoryLeaseManager } from './lease.js';
export { MemoryStore } from './store.js';
