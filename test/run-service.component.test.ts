import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runServiceCommand } from '../scripts/run-service.js';
import { settledWithin, waitUntil } from './wait.js';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Runs `bin/run-service` with Node's `-e script`, as `npm start` runs it with `dist/server.js`. */
function launch(script: string, env: Record<string, string> = {}) {
  return launchArgs(['-e', script], env);
}

function launchArgs(args: string[], env: Record<string, string> = {}) {
  const launch = runServiceCommand(args);
  const child = spawn(launch.command, launch.args, {
    env: { PATH: launch.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => output, exited };
}

describe('bin/run-service (how npm start starts Node)', () => {
  it('when started below 4 CPUs, then Node runs with two malloc arenas in the launched process itself (exec, same pid)', async () => {
    const run = launch('console.log(JSON.stringify({ arenas: process.env.MALLOC_ARENA_MAX, pid: process.pid }))', { OMP_NUM_THREADS: '2' });
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(JSON.parse(run.output())).toEqual({ arenas: '2', pid: run.child.pid });
  });

  it("when started on 4 CPUs or more (passwords hashed two at a time), then glibc's default arenas are kept", async () => {
    // GNU nproc, which the launcher asks, reports OMP_NUM_THREADS when it is set: a larger host.
    const run = launch("console.log(process.env.MALLOC_ARENA_MAX ?? 'unset')", { OMP_NUM_THREADS: '4' });
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.output().trim()).toBe('unset');
  });

  it("when the operator sets MALLOC_ARENA_MAX, then the operator's value wins", async () => {
    const run = launch('console.log(process.env.MALLOC_ARENA_MAX)', { MALLOC_ARENA_MAX: '4' });
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.output().trim()).toBe('4');
  });

  it('when GLIBC_TUNABLES is unset, then malloc is told to use transparent huge pages', async () => {
    const run = launch('console.log(process.env.GLIBC_TUNABLES)');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.output().trim()).toBe('glibc.malloc.hugetlb=1');
  });

  it("when the operator sets other glibc tunables, then they are kept and huge pages added; the operator's own hugetlb value wins", async () => {
    const other = launch('console.log(process.env.GLIBC_TUNABLES)', { GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0' });
    const own = launch('console.log(process.env.GLIBC_TUNABLES)', { GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0:glibc.malloc.hugetlb=0' });
    expect(await other.exited).toEqual({ code: 0, signal: null });
    expect(await own.exited).toEqual({ code: 0, signal: null });
    expect(other.output().trim()).toBe('glibc.malloc.tcache_count=0:glibc.malloc.hugetlb=1');
    expect(own.output().trim()).toBe('glibc.malloc.tcache_count=0:glibc.malloc.hugetlb=0');
  });

  it("when it starts a worker below 4 CPUs, then the worker keeps glibc's arenas (it hashes no passwords) and gets huge pages", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ops-launcher-'));
    try {
      const worker = path.join(dir, 'worker.js');
      writeFileSync(worker, "console.log(JSON.stringify({ arenas: process.env.MALLOC_ARENA_MAX ?? 'unset', tunables: process.env.GLIBC_TUNABLES }))");
      const run = launchArgs([worker], { OMP_NUM_THREADS: '2' });
      expect(await run.exited).toEqual({ code: 0, signal: null });
      expect(JSON.parse(run.output())).toEqual({ arenas: 'unset', tunables: 'glibc.malloc.hugetlb=1' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when the launched process is sent SIGTERM, then Node itself receives it (graceful shutdown works through the launcher)', async () => {
    const run = launch("process.on('SIGTERM', () => { console.log('SIGTERM handled'); process.exit(0); }); console.log('ready'); setInterval(() => {}, 1000);");
    await waitUntil(() => run.output().includes('ready'), 10_000, 'the launched process to start');
    run.child.kill('SIGTERM');
    expect(await settledWithin(run.exited, 10_000)).toEqual({ code: 0, signal: null });
    expect(run.output()).toContain('SIGTERM handled');
  });

  it('npm start, npm run worker and the commands (admin, db:migrate, db:seed) go through it', () => {
    const { scripts } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(scripts.start).toMatch(/ sh bin\/run-service dist\/server\.js$/);
    expect(scripts.worker).toMatch(/ sh bin\/run-service dist\/worker\.js$/);
    expect(scripts.admin).toMatch(/ sh bin\/run-service dist\/scripts\/admin\.js$/);
    expect(scripts['db:migrate']).toMatch(/ sh bin\/run-service dist\/scripts\/migrate\.js$/);
    expect(scripts['db:seed']).toMatch(/ sh bin\/run-service dist\/scripts\/seed\.js$/);
  });
});
