import { afterAll, beforeAll } from 'vitest';

declare module 'vitest' {
  interface TaskMeta {
    /** CPU this file's hooks and tests used in its test process (child processes not included). */
    testProcessCpuSeconds?: number;
  }
}

// The suite is CPU-bound (docs/testing.md): wall times per file mostly say how busy the machine
// was, so the slowest-files report also names the CPU each file cost its test process. Files of
// one test process run one after another, so the process's CPU between these hooks is the file's.
let start: NodeJS.CpuUsage | undefined;
beforeAll(() => {
  start = process.cpuUsage();
});
// Vitest 4 hands hooks a context first (it must be a destructuring pattern) and the suite second.
// eslint-disable-next-line no-empty-pattern
afterAll(({}, suite) => {
  const used = process.cpuUsage(start);
  suite.file.meta.testProcessCpuSeconds = (used.user + used.system) / 1e6;
});
