import path from 'node:path';

const LAUNCHER = path.resolve(import.meta.dirname, '..', 'bin', 'run-service');

/**
 * How `npm start` and `npm run worker` start the services, for code that spawns them (bench,
 * topology, tests): `sh bin/run-service <args>`, with this Node first on `PATH`, since the
 * launcher `exec`s `node`. Pass `PATH` in the child's environment.
 */
export function runServiceCommand(args: readonly string[]): { command: string; args: string[]; PATH: string } {
  return { command: 'sh', args: [LAUNCHER, ...args], PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` };
}
