/**
 * npm run topology -- up [--sentinel] | down | status | test [--sentinel] [--keep]
 * See docs/deployment.md. Everything listens on 127.0.0.1 only.
 */
import { down, isUp, log, status, up, currentVariant, type Variant } from './services.js';
import { runFaultTests } from './faults.js';

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
      try {
        if (broughtUp) {
          await down();
          await up(variant);
        }
        return (await runFaultTests(currentVariant() ?? variant, { components: !flags.includes('--no-components') })) ? 0 : 1;
      } finally {
        if (broughtUp && !flags.includes('--keep')) await down();
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

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
