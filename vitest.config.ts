import { defineConfig } from 'vitest/config';

// Two projects: `unit` (no I/O, no servers) and `integration` (test/integration
// and test/e2e, against the real servers the global setup starts once per run).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Some unit tests compile schemas or cruise the tree: seconds on a
          // loaded 2-core machine, past vitest's 5 s default. Bounds, not goals.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // The servers are shared; two workers keep both cores busy.
          maxWorkers: 2,
        },
      },
    ],
  },
});
