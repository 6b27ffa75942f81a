/**
 * The fault run's judgements that need no running topology: the command line, haproxy's and a
 * worker's reports, and what a kill may cost. Kept pure so unit tests pin them down.
 */
import { emlFileName } from '../../src/platform/mail.js';

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

/** A worker's part in the pool (`leader`, `helper`, `standby`) from its /metrics, if it reports one. */
export function workerRole(metrics: string): string | undefined {
  return /^worker_pool_role\{role="(\w+)"\} 1$/m.exec(metrics)?.[1];
}

/**
 * What killing an API under load may cost: each client has one request in flight, so at most
 * that many attempts fail; haproxy's `retries` + `redispatch` must carry every later one to the
 * other instance. A failure before the kill has nothing to do with it and is a fault of its own.
 */
export function apiKillProblems(failures: readonly (readonly [number, number])[], killedAt: number, clients: number): string[] {
  const problems: string[] = [];
  const before = failures.filter(([at]) => at < killedAt).length;
  const after = failures.length - before;
  if (before > 0) problems.push(`${before} attempts failed before the kill`);
  if (after > clients) problems.push(`${after} attempts failed after the kill, more than the ${clients} in flight (haproxy sent new requests to the dead instance)`);
  return problems;
}

/**
 * The mail folder against the sent deliveries: the file transport names each message after its
 * Message-ID, so every sent email has exactly its own file and no file is an email the database
 * does not call sent. (Equal counts alone would let a lost email and a stray file cancel out.)
 */
export function emailFileProblems(sentMessageIds: readonly string[], files: readonly string[]): string[] {
  const expected = new Set(sentMessageIds.map(emlFileName));
  const present = new Set(files.filter((file) => file.endsWith('.eml')));
  const missing = [...expected].filter((file) => !present.has(file));
  const stray = [...present].filter((file) => !expected.has(file));
  const problems: string[] = [];
  if (missing.length > 0) problems.push(`${missing.length} sent emails without their .eml file (first ${missing[0]})`);
  if (stray.length > 0) problems.push(`${stray.length} .eml files for no sent email (first ${stray[0]})`);
  return problems;
}
