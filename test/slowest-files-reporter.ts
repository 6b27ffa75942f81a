import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { layerOf } from './layers.js';

// SLOWEST_FILES=100 shows more, to see where a whole run's time goes.
const SHOWN = Number(process.env.SLOWEST_FILES) || 10;

/**
 * Prints the ten slowest test files after every run, so a file that grows slow is seen the day it
 * does. The time is the file's own wall time in its worker: importing it plus its tests and hooks;
 * beside it, the CPU its test process spent in its hooks and tests (test/cpu-per-file.setup.ts).
 */
export default class SlowestFilesReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const rows = testModules
      .map((module) => {
        const diagnostic = module.diagnostic();
        const seconds = (diagnostic.collectDuration + diagnostic.duration) / 1000;
        const { testProcessCpuSeconds: cpu, childCpuSeconds: childCpu } = module.meta();
        return { seconds, cpu, childCpu, file: path.relative(process.cwd(), module.moduleId), layer: layerOf(module.moduleId), tests: [...module.children.allTests()].length };
      })
      .sort((a, b) => b.seconds - a.seconds)
      .slice(0, SHOWN);
    if (rows.length === 0) return;
    const cpu = (seconds: number | undefined) => (seconds === undefined ? '     ?' : seconds.toFixed(1).padStart(6));
    const lines = rows.map((row) => `${row.seconds.toFixed(1).padStart(6)} s ${cpu(row.cpu)} s ${cpu(row.childCpu)} s  ${row.layer.padEnd(9)} ${String(row.tests).padStart(4)} tests  ${row.file}`);
    process.stdout.write(`\nSlowest ${rows.length} test files (wall: import + tests; CPU in hooks and tests of the test process, and of the child processes it ran):\n${lines.join('\n')}\n`);
  }
}
