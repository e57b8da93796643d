import { configDefaults, defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { forgetCallerSettings } from './test/setup/hermetic.js';

forgetCallerSettings();

/** The files that run for minutes (hundreds of runtimes, thousands of contract cases), longest first. */
const LONGEST = ['test/agent-watch.test.ts', 'test/contract.test.ts'];
const rank = (spec: TestSpecification) => {
  const index = LONGEST.findIndex((file) => spec.moduleId.endsWith(file));
  return index < 0 ? LONGEST.length : index;
};

/**
 * Starts the longest files first, so that the two workers finish together instead of one of them
 * starting a three-minute file last (a fresh clone has no timings cached for vitest to order by).
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The production shape has its own run: npm run test:cluster (vitest.cluster.config.ts).
    exclude: [...configDefaults.exclude, 'test/cluster/**'],
    globalSetup: ['test/setup/global.ts'],
    setupFiles: ['test/setup/runtime.ts'],
    // Temporal's native worker and workflow sandboxes need real processes, not worker threads.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    sequence: { sequencer: LongestFirst },
  },
});
