/**
 * npm run topology -- up [--sentinel] | down | status | test [--sentinel] [--keep] [--no-components]
 * See docs/deployment.md. Everything listens on 127.0.0.1 only.
 */
import { down, isUp, log, refuseNewProcesses, status, up, currentVariant } from './services.js';
import { runFaultTests } from './faults.js';
import { USAGE, parseArgs, type CliArgs } from './checks.js';

/** Whether this run started the topology (so an interrupt takes it down). */
let startedHere = false;
/** Whether this run takes it down when it ends, however it ends (`test` without --keep on a topology it brought up). */
let ownsTopology = false;
/** One teardown however many ways ask for it (the end of `test`, a signal, a stray rejection). */
let teardown: Promise<void> | undefined;
const tearDown = () => (teardown ??= down());
/** Set by a signal: the exit code the CLI ends with once the teardown is done, whatever main() ends with meanwhile. */
let interrupted: number | undefined;

async function test(args: CliArgs): Promise<number> {
  // A topology left fully up (`up`, or `test --keep`) is reused; anything less (a crashed
  // run's leftovers) is torn down first.
  const running = currentVariant();
  const reuse = isUp() && running !== undefined;
  if (reuse && args.variantGiven && running !== args.variant) {
    log(`FAILED: the topology that is up is the ${running} variant, not ${args.variant}; run \`npm run topology -- down\` first`);
    return 2;
  }
  startedHere = !reuse;
  ownsTopology = startedHere && !args.keep;
  try {
    if (!reuse) {
      await down();
      await up(args.variant);
    }
    return (await runFaultTests(reuse ? running : args.variant, { components: args.components })) ? 0 : 1;
  } finally {
    if (ownsTopology) await tearDown();
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if ('error' in args) {
    log(`${args.error}\n${USAGE}`);
    return 2;
  }
  switch (args.command) {
    case 'up':
      startedHere = true;
      await up(args.variant);
      startedHere = false;
      return 0;
    case 'down':
      await down();
      return 0;
    case 'status':
      await status();
      return 0;
    case 'test':
      return test(args);
  }
}

/** Ends the CLI once a teardown under way is done: exiting in the middle of it would leave nodes running. */
function exit(code: number): void {
  if (teardown === undefined) process.exit(interrupted ?? code);
  teardown.then(
    () => process.exit(interrupted ?? code),
    (error: unknown) => {
      log(`teardown failed: ${error instanceof Error ? error.message : String(error)}; \`npm run topology -- down\` finishes it`);
      process.exit(interrupted ?? 1);
    },
  );
}

// Interrupted (Ctrl-C, CI's timeout): tear down what this run started, so nothing outlives it. A
// topology it only reused (`up` earlier, `test --keep`) stays as it was. A second signal ends at once.
for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => {
    interrupted = code;
    if (!startedHere) process.exit(code);
    log(`${signal}: tearing the topology down`);
    // A start still under way must not leave a process behind after the teardown has looked.
    refuseNewProcesses();
    void tearDown();
    exit(code);
  });
}

// A load loop that fails while its test awaits something else rejects with nobody listening yet;
// Node would exit at once, leaving every node running. End the run as a failure instead.
process.once('unhandledRejection', (reason: unknown) => {
  log(`FAILED: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
  if (ownsTopology) void tearDown();
  exit(1);
});

main().then(exit, (error: unknown) => {
  log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  if (startedHere && !ownsTopology) log('what was started is left for inspection; `npm run topology -- down` removes it');
  if (ownsTopology) void tearDown();
  exit(1);
});
