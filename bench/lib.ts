/**
 * Helpers for `npm run bench`: child processes that are always cleaned up, loopback ports,
 * throwaway PostgreSQL databases, Redis key clean-up and a thin autocannon wrapper.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import { queuePrefix } from '../src/platform/redis.js';
import { runServiceCommand } from '../scripts/run-service.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const POSTGRES_ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Child processes

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** The last ~64 KB of its stdout + stderr, for error messages. */
  output(): string;
  exited: Promise<number | null>;
}

const children = new Set<Child>();

/** Starts a Node process and remembers it so `killAll` can stop it whatever happens. */
export function startChild(name: string, args: string[], env: Record<string, string>): Child {
  return startProcess(name, process.execPath, args, env);
}

/**
 * Starts a service (`dist/server.js`, `dist/worker.js`) through `bin/run-service`, as `npm start`
 * and `npm run worker` do, so the bench measures the environment users get. The launcher `exec`s
 * Node, so the pid is the service's own (CPU and RSS are read from it).
 */
export function startService(name: string, args: string[], env: Record<string, string>): Child {
  const launch = runServiceCommand(args);
  return startProcess(name, launch.command, launch.args, { ...env, PATH: launch.PATH });
}

function startProcess(name: string, command: string, args: string[], env: Record<string, string>): Child {
  const proc = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`could not start ${name}`);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail += chunk.toString();
    if (tail.length > 65_536) tail = tail.slice(-65_536);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const child: Child = { name, proc, pid: proc.pid, output: () => tail, exited };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

/**
 * A process that competes for the CPUs: busy `fraction` of the time in 5–10 ms slices (a busy
 * loop, then a timer), until `killAll`.
 */
export function startNeighbour(fraction: number): Child {
  const busyMs = 5;
  const idleMs = Math.max(0, Math.round((busyMs * (1 - fraction)) / Math.max(fraction, 0.01)));
  const code = `const spin = () => { const end = Date.now() + ${busyMs}; while (Date.now() < end); setTimeout(spin, ${idleMs}); }; spin();`;
  return startChild('neighbour', ['-e', code], {});
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
export async function stopChild(child: Child, graceMs = 5000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** Kills every child still running (used on the way out, also after an error). */
export async function killAll(graceMs = 3000): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child, graceMs)));
}

/** Synchronous last resort for `process.on('exit')`. */
export function killAllNow(): void {
  for (const child of children) if (child.proc.exitCode === null) child.proc.kill('SIGKILL');
}

export { freePort } from '../test/processes.js';

/** Polls `url` until it answers 200 (or the child dies, or the time is up). */
export async function waitForHttp(child: Child, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.proc.exitCode !== null) throw new Error(`${child.name} exited with ${child.proc.exitCode}:\n${child.output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${child.name} did not answer ${url} within ${timeoutMs} ms:\n${child.output()}`);
    await sleep(100);
  }
}

/** Resident set size of a running process, in MiB: its peak (VmHWM) or now (VmRSS). */
export function rssMiB(pid: number, which: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${which}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  if (!match?.[1]) throw new Error(`no ${which} for pid ${pid}`);
  return Number(match[1]) / 1024;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

export function databaseUrl(name: string): string {
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Applies `migrations/*.sql` in name order (for the baseline's copy of the schema). */
export async function applyMigrations(client: pg.Client | pg.Pool): Promise<void> {
  const dir = path.join(ROOT, 'migrations');
  for (const name of readdirSync(dir).filter((file) => file.endsWith('.sql')).sort()) {
    await client.query(readFileSync(path.join(dir, name), 'utf8'));
  }
}

// ---------------------------------------------------------------------------------------------
// Redis

/** Deletes every key under `${prefix}:`, and the queue's, which carry a hash tag ahead of the prefix (`{<prefix>:bull}:…`). */
export async function deleteRedisKeys(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  for (const pattern of [`${prefix}:*`, `${queuePrefix(prefix)}:*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  }
  return deleted;
}

// ---------------------------------------------------------------------------------------------
// Load

export interface Load {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  durationS: number;
  /** Status code → count (2xx included), plus connection errors and timeouts. */
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  /** CPU time of the given process groups during the load. */
  cpu?: CpuSplit;
}

export async function load(options: autocannon.Options, groups?: PidGroups): Promise<Load> {
  const stopMeter = groups ? await cpuMeter(groups) : undefined;
  const result = await autocannon({ connections: 16, ...options });
  const cpu = stopMeter ? await stopMeter() : undefined;
  const statuses: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = stat.count ?? 0;
  const requests = Object.values(statuses).reduce((a, b) => a + b, 0);
  return {
    // Completed responses over the wall time of the run (autocannon's per-second average drops partial seconds).
    rps: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests,
    durationS: result.duration,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    ...(cpu ? { cpu } : {}),
  };
}

export interface PacedRequest {
  method: string;
  body: string;
  headers: Record<string, string>;
}

const percentile = (sorted: readonly number[], p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!);

/**
 * An open-loop load at a steady rate: request i is sent at start + i / rate, whether or not
 * earlier ones have been answered, each on a free keep-alive connection. Latency is measured from
 * the time a request was due, so a stall is counted against every request it delays.
 *
 * autocannon's `overallRate` is not this: each connection sends its share of a second back to
 * back at the start of the second and then waits, so "100 requests/s" arrives as bursts of 100,
 * and what follows them (the processing pipeline) measures how long a burst takes to drain.
 */
export async function pacedLoad(
  options: { url: string; rate: number; seconds: number; request: () => PacedRequest; timeoutMs?: number },
  groups?: PidGroups,
): Promise<Load> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const target = new URL(options.url);
  const total = Math.max(1, Math.round(options.rate * options.seconds));
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let timeouts = 0;
  const stopMeter = groups ? await cpuMeter(groups) : undefined;
  const started = performance.now();
  const send = (dueAt: number) =>
    new Promise<void>((resolve) => {
      const { method, body, headers } = options.request();
      const req = httpRequest(
        { agent, host: target.hostname, port: target.port, path: target.pathname + target.search, method, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - dueAt);
            statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.setTimeout(options.timeoutMs ?? 10_000, () => {
        timeouts++;
        req.destroy();
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const dueAt = started + (i * 1000) / options.rate;
    const wait = dueAt - performance.now();
    if (wait > 1) await sleep(wait);
    inFlight.push(send(dueAt));
  }
  await Promise.all(inFlight);
  const durationS = (performance.now() - started) / 1000;
  const cpu = stopMeter ? await stopMeter() : undefined;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const requests = latencies.length;
  return {
    rps: requests / durationS,
    p50: Math.round(percentile(latencies, 0.5)),
    p99: Math.round(percentile(latencies, 0.99)),
    requests,
    durationS,
    statuses,
    errors,
    timeouts,
    ...(cpu ? { cpu } : {}),
  };
}

/** Several rounds of the same load, summed: total responses over total time, mean of the p50s/p99s. */
export function combine(rounds: readonly Load[]): Load {
  const statuses: Record<string, number> = {};
  for (const round of rounds) for (const [code, n] of Object.entries(round.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
  const requests = rounds.reduce((a, r) => a + r.requests, 0);
  const durationS = rounds.reduce((a, r) => a + r.durationS, 0);
  const mean = (pick: (r: Load) => number) => rounds.reduce((a, r) => a + pick(r), 0) / rounds.length;
  let cpu: CpuSplit | undefined;
  if (rounds.every((r) => r.cpu)) {
    cpu = { ms: {}, faults: {}, wallMs: 0 };
    for (const round of rounds) {
      cpu.wallMs += round.cpu?.wallMs ?? 0;
      for (const [group, ms] of Object.entries(round.cpu?.ms ?? {})) cpu.ms[group] = (cpu.ms[group] ?? 0) + ms;
      for (const [group, n] of Object.entries(round.cpu?.faults ?? {})) cpu.faults[group] = (cpu.faults[group] ?? 0) + n;
    }
  }
  return {
    ...(cpu ? { cpu } : {}),
    rps: requests / durationS,
    p50: mean((r) => r.p50),
    p99: mean((r) => r.p99),
    requests,
    durationS,
    statuses,
    errors: rounds.reduce((a, r) => a + r.errors, 0),
    timeouts: rounds.reduce((a, r) => a + r.timeouts, 0),
  };
}

/** CPU µs of one process group per response. */
export const cpuPerRequestUs = (l: Load, group: string) => ((l.cpu?.ms[group] ?? Number.NaN) * 1000) / l.requests;
/** Page faults per request of the measured process groups (the bench's own are not counted). */
export const faultsPerRequest = (l: Load) => Object.values(l.cpu?.faults ?? {}).reduce((a, b) => a + b, 0) / l.requests;

/** "service 410 µs, postgres 380 µs, …" per response, and the share of the machine used by processes outside the bench. */
export function describeCpu(l: Load): string {
  if (!l.cpu) return '';
  const { ms, wallMs } = l.cpu;
  const perRequest = Object.keys(ms)
    .filter((group) => group !== 'other')
    .map((group) => `${group} ${cpuPerRequestUs(l, group).toFixed(0)}`)
    .join(', ');
  return `CPU µs/response: ${perRequest}; other processes used ${((ms.other ?? 0) / wallMs).toFixed(2)} of the machine's CPUs`;
}

/** 2xx responses in a load result. */
export const ok = (l: Load) => Object.entries(l.statuses).filter(([code]) => code.startsWith('2')).reduce((a, [, n]) => a + n, 0);

export function pick<T>(items: readonly T[]): T {
  const item = items[Math.floor(Math.random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/** A random order body: 1–3 distinct products, 1–5 units each. */
export function randomOrderBody(productIds: readonly string[]): string {
  const lines = 1 + Math.floor(Math.random() * 3);
  const chosen = new Set<string>();
  while (chosen.size < lines) chosen.add(pick(productIds));
  return JSON.stringify({ items: [...chosen].map((productId) => ({ productId, quantity: 1 + Math.floor(Math.random() * 5) })) });
}

// ---------------------------------------------------------------------------------------------
// CPU accounting: where the time of a load goes (the machine may be shared, so "other" is shown too)

const CLOCK_TICKS_PER_S = 100; // getconf CLK_TCK on Linux x86-64

/** utime + stime of a process in ms, and its minor page faults (zeros if it is gone). */
export function processUsage(pid: number): { cpuMs: number; faults: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, minflt 10, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S, faults: Number(fields[7]) };
  } catch {
    return { cpuMs: 0, faults: 0 };
  }
}

/** Busy time of the whole machine (all CPUs), in ms. */
export function machineBusyMs(): number {
  const first = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, ...values] = first.trim().split(/\s+/).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = values;
  return ((user + nice + system + irq + softirq + steal) * 1000) / CLOCK_TICKS_PER_S;
}

export type PidGroups = Record<string, () => number[] | Promise<number[]>>;

export interface CpuSplit {
  /** CPU ms per group over the measured interval, plus `bench` (this process: autocannon) and `other` (everything else on the machine). */
  ms: Record<string, number>;
  /**
   * Minor page faults per group over the interval. A first-touched page costs ~12 µs of kernel
   * time on the VMs this is measured on (docs/benchmarks.md, "Page faults").
   */
  faults: Record<string, number>;
  wallMs: number;
}

/**
 * Snapshots the CPU time of some process groups, the bench process and the whole machine, and
 * returns a function giving the deltas. A pid that appears during the interval counts whole.
 */
export async function cpuMeter(groups: PidGroups): Promise<() => Promise<CpuSplit>> {
  const snapshot = async () => {
    const perGroup: Record<string, Map<number, { cpuMs: number; faults: number }>> = {};
    for (const [name, pids] of Object.entries(groups)) perGroup[name] = new Map((await pids()).map((pid) => [pid, processUsage(pid)]));
    return perGroup;
  };
  const before = await snapshot();
  const machineBefore = machineBusyMs();
  const selfBefore = process.cpuUsage();
  const wallBefore = Date.now();
  return async () => {
    const after = await snapshot();
    const self = process.cpuUsage(selfBefore);
    const ms: Record<string, number> = { bench: (self.user + self.system) / 1000 };
    const faults: Record<string, number> = {};
    for (const [name, pids] of Object.entries(after)) {
      let total = 0;
      let faulted = 0;
      for (const [pid, usage] of pids) {
        const start = before[name]?.get(pid);
        total += usage.cpuMs - (start?.cpuMs ?? 0);
        faulted += usage.faults - (start?.faults ?? 0);
      }
      ms[name] = total;
      faults[name] = faulted;
    }
    const ours = Object.values(ms).reduce((a, b) => a + b, 0);
    ms.other = Math.max(0, machineBusyMs() - machineBefore - ours);
    return { ms, faults, wallMs: Date.now() - wallBefore };
  };
}
