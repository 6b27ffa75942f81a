/**
 * npm run topology -- up [--sentinel] | down | status | test [--sentinel] [--keep]
 * See docs/deployment.md. Everything listens on 127.0.0.1 only.
 */
import { down, isUp, log, status, up, currentVariant, type Variant } from './services.js';
import { runFaultTests } from './faults.js';

/** Whether this run brought the topology up and takes it down when it ends, however it ends. */
let ownsTopology = false;

async function main(): Promise<number> {
  const [command, ...flags] = process.argv.slice(2);
  const variant: Variant = flags.includes('--sentinel') ? 'sentinel' : 'cluster';
  switch (command) {
    case 'up':
      await up(variant);
      return 0;
    case 'down':
      await down();
      return 0;
    case 'status':
      await status();
      return 0;
    case 'test': {
      // A topology left fully up (`up`, or `test --keep`) is reused; anything less (a crashed
      // run's leftovers) is torn down first.
      const broughtUp = !isUp();
      ownsTopology = broughtUp && !flags.includes('--keep');
      try {
        if (broughtUp) {
          await down();
          await up(variant);
        }
        return (await runFaultTests(currentVariant() ?? variant, { components: !flags.includes('--no-components') })) ? 0 : 1;
      } finally {
        if (ownsTopology) await down();
      }
    }
    default:
      log('usage: npm run topology -- up [--sentinel] | down | status | test [--sentinel] [--keep] [--no-components]');
      return 2;
  }
}

// Interrupted (Ctrl-C, CI's timeout): tear down what was started, so nothing outlives the run.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: tearing the topology down`);
    down().then(
      () => process.exit(130),
      () => process.exit(130),
    );
  });
}

// A load loop that fails while its test awaits something else rejects with nobody listening yet;
// Node would exit at once, leaving every node running. End the run as a failure instead.
process.once('unhandledRejection', (reason: unknown) => {
  log(`FAILED: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
  (ownsTopology ? down() : Promise.resolve()).then(
    () => process.exit(1),
    () => process.exit(1),
  );
});

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
