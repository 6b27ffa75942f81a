import { defineConfig } from 'vitest/config';

/**
 * Three layers, named by file suffix for what they prove (README § Testing):
 *  - unit       `*.unit.test.ts`       pure logic, no I/O, no database: milliseconds.
 *  - component  `*.component.test.ts`  one module's service or job handler called directly on real
 *                                      PostgreSQL / PGlite / Redis.
 *  - e2e        `*.e2e.test.ts`        the app over HTTP, separate processes, browsers, SMTP.
 * A plain `*.test.ts` counts as end-to-end until it is given a layer.
 * `npm test` runs all three in one pool; `npm run test:unit` (etc.) runs one.
 */
const UNIT = ['src/**/*.unit.test.ts', 'test/**/*.unit.test.ts'];
const COMPONENT = ['src/**/*.component.test.ts', 'test/**/*.component.test.ts'];
const ALL = ['src/**/*.test.ts', 'test/**/*.test.ts'];
// Tests that start their own Redis Cluster/Sentinel run in `npm run topology -- test`
// (vitest.topology.config.ts), not in every `npm test`.
const TOPOLOGY = ['**/*.topology.test.ts'];
// Measures each file's CPU in its test process, for the slowest-files report.
const SETUP = ['test/cpu-per-file.setup.ts'];

export default defineConfig({
  test: {
    pool: 'forks',
    isolate: false,
    // One more test process than the 2 cores: many end-to-end files spend seconds waiting on
    // child processes, Chromium or BullMQ's stall check, and a third file fills those waits
    // (measured: 2 workers left ~33 of ~180 CPU-seconds idle and took 92 s; 3 workers 11 s, 80 s).
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // A test that passes only on a retry is a bug; never retry.
    retry: 0,
    allowOnly: false,
    reporters: ['default', './test/slowest-files-reporter.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: UNIT, setupFiles: SETUP },
      },
      {
        extends: true,
        test: { name: 'component', include: COMPONENT, setupFiles: SETUP, globalSetup: ['test/global-setup.ts'] },
      },
      {
        extends: true,
        test: { name: 'e2e', include: ALL, exclude: [...UNIT, ...COMPONENT, ...TOPOLOGY], setupFiles: SETUP, globalSetup: ['test/global-setup.ts'] },
      },
    ],
  },
});
