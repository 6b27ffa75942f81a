import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runServiceCommand } from '../scripts/run-service.js';
import { childEntry, childNodeFlags } from './child-build.js';

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs an entry point (`src/server.ts`, `src/scripts/admin.ts`, …) to its end (from the run's
 * transpiled copy of the sources, test/child-build.ts), in an
 * empty working directory (no developer `.env` leaks in) with only the variables given, and
 * optionally something on standard input. It starts through `bin/run-service`, as the services
 * and `npm run admin` do. A process still running after `timeoutMs` is killed
 * and the test fails on its exit code. The working directory is removed when it exits.
 */
export function runEntry(entry: string, options: { env: Record<string, string>; args?: string[]; stdin?: string; timeoutMs?: number }): Promise<Finished> {
  const cwd = mkdtempSync(path.join(tmpdir(), 'ops-entry-'));
  const launch = runServiceCommand([...childNodeFlags(), childEntry(entry), ...(options.args ?? [])]);
  const child = spawn(launch.command, launch.args, {
    cwd,
    env: { PATH: launch.PATH, HOME: cwd, NODE_ENV: 'test', LOG_FORMAT: 'json', HOST: '127.0.0.1', ...options.env },
    stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.stdin !== undefined) child.stdin?.end(options.stdin);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      // Nothing outside the process can know this folder: it goes with the process.
      rmSync(cwd, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    }),
  );
}
