import { defineConfig } from 'vitest/config';
import { forgetCallerSettings } from './test/setup/hermetic.js';

forgetCallerSettings();

// `npm run test:cluster`: test/cluster/ against `npm run cluster` (a Temporal server built from its Go
// module on PostgreSQL, API and worker replicas). One file, its tests in order: they share one cluster.
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 900_000,
    reporters: ['default'],
  },
});
