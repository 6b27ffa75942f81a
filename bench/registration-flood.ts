/**
 * "Catalog read under a flood of 300 registrations stays < 2× idle latency": one client address
 * sends 300 registrations at once (each an argon2 hash when admitted) while another client reads
 * the catalog one request after another. Compares the read's median with its median on the idle
 * service. `npm run bench` runs it against the server-mode API (default limits); run this file
 * alone (`node --import tsx bench/registration-flood.ts`) for the embedded default with the
 * registration limit off, where all 300 are hashed and only the bounded hashing protects reads.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { freePort, killAll, log, startChild, waitForHttp } from './lib.js';

export interface FloodResult {
  idleP50Ms: number;
  idleP99Ms: number;
  floodP50Ms: number;
  floodP99Ms: number;
  floodMaxMs: number;
  /** Catalog reads made while the registrations were in flight. */
  reads: number;
  /** Registration answers by status (201 admitted, 429 over the per-address limit). */
  registrations: Record<string, number>;
  floodSeconds: number;
}

const FLOOD = 300;
const IDLE_SAMPLES = 200;

const quantile = (sorted: readonly number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

async function timedRead(base: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${base}/api/products?limit=20`);
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`catalog read answered ${res.status}`);
  return performance.now() - started;
}

export async function measureRegistrationFlood(base: string): Promise<FloodResult> {
  for (let i = 0; i < 50; i++) await timedRead(base);
  const idle: number[] = [];
  for (let i = 0; i < IDLE_SAMPLES; i++) idle.push(await timedRead(base));

  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const registrations: Record<string, number> = {};
  const started = performance.now();
  let done = false;
  const flood = Promise.all(
    Array.from({ length: FLOOD }, async (_, i) => {
      const res = await fetch(`${base}/api/auth/register`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email: `flood-${run}-${i}@bench.example.com`, password: 'flood password 123' }),
      });
      await res.arrayBuffer();
      registrations[res.status] = (registrations[res.status] ?? 0) + 1;
    }),
  ).finally(() => (done = true));
  const loaded: number[] = [];
  while (!done) loaded.push(await timedRead(base));
  await flood;
  const floodSeconds = (performance.now() - started) / 1000;

  idle.sort((a, b) => a - b);
  loaded.sort((a, b) => a - b);
  const round = (ms: number) => Number(ms.toFixed(2));
  return {
    idleP50Ms: round(quantile(idle, 0.5)),
    idleP99Ms: round(quantile(idle, 0.99)),
    floodP50Ms: round(quantile(loaded, 0.5)),
    floodP99Ms: round(quantile(loaded, 0.99)),
    floodMaxMs: round(loaded.at(-1) ?? Number.NaN),
    reads: loaded.length,
    registrations,
    floodSeconds: Number(floodSeconds.toFixed(1)),
  };
}

/** Standalone: the embedded default from source, registration limit off (every registration hashed). */
async function standalone(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ops-flood-'));
  try {
    const port = await freePort();
    const api = startChild('api', ['--import', 'tsx', 'src/server.ts'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      REGISTER_RATE_LIMIT_PER_ADDRESS_PER_HOUR: process.env.REGISTER_RATE_LIMIT_PER_ADDRESS_PER_HOUR ?? '0',
      // Every registration hashed, as before the queue had a bound: what is measured is how other routes fare meanwhile.
      PASSWORD_HASH_QUEUE_LIMIT: process.env.PASSWORD_HASH_QUEUE_LIMIT ?? '100000',
    });
    await waitForHttp(api, `http://127.0.0.1:${port}/health/ready`, 120_000);
    const result = await measureRegistrationFlood(`http://127.0.0.1:${port}`);
    log(JSON.stringify(result));
    log(`catalog read p50 under the flood: ${(result.floodP50Ms / result.idleP50Ms).toFixed(2)}× idle (goal < 2×)`);
  } finally {
    await killAll();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  standalone().catch((error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  });
}
