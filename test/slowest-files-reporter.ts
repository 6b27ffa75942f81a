import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

// SLOWEST_FILES=100 shows more, to see where a whole run's time goes.
const SHOWN = Number(process.env.SLOWEST_FILES) || 10;

/**
 * Prints the ten slowest test files after every run, so a file that grows slow is seen the day it
 * does. The time is the file's own wall time in its worker: importing it plus its tests and hooks.
 */
export default class SlowestFilesReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const rows = testModules
      .map((module) => {
        const diagnostic = module.diagnostic();
        const seconds = (diagnostic.collectDuration + diagnostic.duration) / 1000;
        return { seconds, file: path.relative(process.cwd(), module.moduleId), layer: module.project.name, tests: [...module.children.allTests()].length };
      })
      .sort((a, b) => b.seconds - a.seconds)
      .slice(0, SHOWN);
    if (rows.length === 0) return;
    const lines = rows.map((row) => `${row.seconds.toFixed(1).padStart(6)} s  ${row.layer.padEnd(9)} ${String(row.tests).padStart(4)} tests  ${row.file}`);
    process.stdout.write(`\nSlowest ${rows.length} test files (import + tests):\n${lines.join('\n')}\n`);
  }
}
