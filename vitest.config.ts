import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Tests that start their own Redis Cluster/Sentinel run in `npm run topology -- test`
    // (vitest.topology.config.ts), not in every `npm test`.
    exclude: ['**/node_modules/**', '**/*.topology.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // A test that passes only on a retry is a bug; never retry.
    retry: 0,
    allowOnly: false,
  },
});
