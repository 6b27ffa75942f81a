import { configDefaults, defineConfig } from 'vitest/config';
import { ALL_FILES, COMPONENT_FILES, LAYERS, UNIT_FILES, type Layer } from './test/layers.js';

// Tests that start their own Redis Cluster/Sentinel run in `npm run topology -- test`
// (vitest.topology.config.ts), not in every `npm test`.
const TOPOLOGY = ['**/*.topology.test.ts'];
// Measures each file's CPU in its test process, for the slowest-files report.
const SETUP = ['test/cpu-per-file.setup.ts'];

/**
 * `npm test` runs all three layers (test/layers.ts) in one pool; `TEST_LAYER=unit` (what
 * `npm run test:unit` sets, and so on) runs one. One vitest project rather than one per layer:
 * each project had test processes of its own that loaded the code again (nine instead of three
 * a run), which cost ~5–9 % of the run's CPU (docs/testing.md, "One project, and page faults").
 */
const FILES: Record<Layer, { include: string[]; exclude: string[] }> = {
  unit: { include: UNIT_FILES, exclude: [] },
  component: { include: COMPONENT_FILES, exclude: [] },
  e2e: { include: ALL_FILES, exclude: [...UNIT_FILES, ...COMPONENT_FILES] },
};

const layer = process.env.TEST_LAYER || undefined;
if (layer !== undefined && !LAYERS.includes(layer as Layer)) {
  throw new Error(`TEST_LAYER must be one of ${LAYERS.join(', ')}, or unset for all of them (got ${JSON.stringify(layer)})`);
}
const files = layer ? FILES[layer as Layer] : { include: ALL_FILES, exclude: [] };

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
    include: files.include,
    exclude: [...configDefaults.exclude, ...files.exclude, ...TOPOLOGY],
    setupFiles: SETUP,
    // Unit tests need no database, Redis or child build.
    globalSetup: layer === 'unit' ? [] : ['test/global-setup.ts'],
  },
});
