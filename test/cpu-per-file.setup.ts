import { readFileSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';

declare module 'vitest' {
  interface TaskMeta {
    /** CPU this file's hooks and tests used in its test process. */
    testProcessCpuSeconds?: number;
    /** CPU of the child processes (and theirs) the file started and that ended before its last hook. */
    childCpuSeconds?: number;
  }
}

// The kernel adds a child's CPU (with that of the children it waited for) to its parent's
// `cutime`/`cstime` when the parent reaps it: fields 16 and 17 of /proc/self/stat, in ticks.
// Linux only; elsewhere the column stays empty.
const TICKS_PER_SECOND = 100;
function reapedChildrenCpuSeconds(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // The command name (field 2) may hold spaces; count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

// The suite is CPU-bound (docs/testing.md): wall times per file mostly say how busy the machine
// was, so the slowest-files report also names the CPU each file cost its test process and the
// child processes it ran. Files of one test process run one after another, so the process's CPU
// between these hooks is the file's.
let start: NodeJS.CpuUsage | undefined;
let childrenAtStart: number | undefined;
beforeAll(() => {
  start = process.cpuUsage();
  childrenAtStart = reapedChildrenCpuSeconds();
});
// Vitest 4 hands hooks a context first (it must be a destructuring pattern) and the suite second.
// eslint-disable-next-line no-empty-pattern
afterAll(({}, suite) => {
  const used = process.cpuUsage(start);
  suite.file.meta.testProcessCpuSeconds = (used.user + used.system) / 1e6;
  const children = reapedChildrenCpuSeconds();
  if (children !== undefined && childrenAtStart !== undefined) suite.file.meta.childCpuSeconds = children - childrenAtStart;
});
