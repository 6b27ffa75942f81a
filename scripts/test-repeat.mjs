// Runs the whole test suite N times in a row (default 5) and stops at the first failing run,
// naming it: a flake that shows once in twenty runs is found by `npm run test:repeat -- 20`.
// Arguments after N go to vitest, e.g. `npm run test:repeat -- 10 src/modules/orders`; one layer:
// `TEST_LAYER=unit npm run test:repeat -- 10`.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import process from 'node:process';

const say = (line) => process.stdout.write(`${line}\n`);
const complain = (line) => process.stderr.write(`${line}\n`);

const [countArg, ...vitestArgs] = process.argv.slice(2);
const runs = countArg === undefined ? 5 : Number(countArg);
if (!Number.isInteger(runs) || runs < 1) {
  complain(`usage: npm run test:repeat -- [N ≥ 1] [vitest arguments…] (got ${JSON.stringify(countArg)})`);
  process.exit(2);
}

const vitest = path.join(import.meta.dirname, '..', 'node_modules', 'vitest', 'vitest.mjs');
const seconds = [];
for (let run = 1; run <= runs; run++) {
  say(`\n=== test:repeat run ${run} of ${runs} ===`);
  const startedAt = Date.now();
  const result = spawnSync(process.execPath, [vitest, 'run', ...vitestArgs], { stdio: 'inherit' });
  seconds.push(((Date.now() - startedAt) / 1000).toFixed(1));
  if (result.status !== 0) {
    complain(`\ntest:repeat: run ${run} of ${runs} FAILED (exit ${result.status ?? result.signal}); runs before it passed (${seconds.join(' s, ')} s)`);
    process.exit(1);
  }
}
say(`\ntest:repeat: all ${runs} runs passed (${seconds.join(' s, ')} s)`);
