/**
 * The fault run's judgements that need no running topology: the command line and haproxy's
 * report. Kept pure so unit tests pin them down.
 */
export type Variant = 'cluster' | 'sentinel';

export interface CliArgs {
  command: 'up' | 'down' | 'status' | 'test';
  variant: Variant;
  /** `test`: leave a topology it brought up running afterwards. */
  keep: boolean;
  /** `test`: run the Redis component tests first. */
  components: boolean;
  /** Whether --sentinel was given (a reused topology of the other variant is refused). */
  variantGiven: boolean;
}

export const USAGE = 'usage: npm run topology -- up [--sentinel] | down | status | test [--sentinel] [--keep] [--no-components]';

const FLAGS: Record<CliArgs['command'], readonly string[]> = {
  up: ['--sentinel'],
  down: [],
  status: [],
  test: ['--sentinel', '--keep', '--no-components'],
};

/** The command line, or an error naming what is wrong with it: a mistyped flag must not run another variant silently. */
export function parseArgs(argv: readonly string[]): CliArgs | { error: string } {
  const [command, ...flags] = argv;
  if (command === undefined || !Object.hasOwn(FLAGS, command)) return { error: command === undefined ? 'no command given' : `unknown command ${JSON.stringify(command)}` };
  const allowed = FLAGS[command as CliArgs['command']];
  const unknown = flags.filter((flag) => !allowed.includes(flag));
  if (unknown.length > 0) return { error: `${command} does not take ${unknown.join(' ')}` };
  return {
    command: command as CliArgs['command'],
    variant: flags.includes('--sentinel') ? 'sentinel' : 'cluster',
    variantGiven: flags.includes('--sentinel'),
    keep: flags.includes('--keep'),
    components: !flags.includes('--no-components'),
  };
}

/** The servers of one haproxy proxy and their check state (`UP`, `DOWN`, `UP 1/2`…), from its stats CSV. */
export function serverStates(csv: string, proxy: string): Record<string, string> {
  const [header, ...rows] = csv.trim().split('\n');
  const columns = (header ?? '').replace(/^# /, '').split(',');
  const name = columns.indexOf('svname');
  const status = columns.indexOf('status');
  const states: Record<string, string> = {};
  if (name < 0 || status < 0) return states;
  for (const row of rows) {
    const fields = row.split(',');
    if (fields[0] !== proxy || fields[name] === 'FRONTEND' || fields[name] === 'BACKEND') continue;
    states[fields[name]!] = fields[status]!;
  }
  return states;
}
