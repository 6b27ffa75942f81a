import { defineConfig } from 'vitest/config';

/** `npm run topology -- test` runs these first: Redis Cluster and Sentinel started by the tests themselves. */
export default defineConfig({
  test: {
    include: ['src/**/*.topology.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 90_000,
    hookTimeout: 60_000,
    retry: 0,
    allowOnly: false,
  },
});
