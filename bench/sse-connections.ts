/**
 * `npm run bench` row for live order events: RSS of an API process before, while and after
 * holding 500 Server-Sent Events streams on loopback for a minute (keep-alives and a few order
 * changes flow meanwhile). Run alone against a fresh embedded API:
 *   npm run build && node --import tsx bench/sse-connections.ts
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, killAll, log, rssMiB, sleep, startService, stopChild, waitForHttp } from './lib.js';

export const SSE_STREAMS = Number(process.env.BENCH_SSE_STREAMS ?? 500);
export const SSE_HOLD_S = Number(process.env.BENCH_SSE_HOLD_S ?? 60);
const STREAMS_PER_USER = 20;

export interface SseRow {
  measure: string;
  ours: number | string;
  baseline: number | string;
  ratio: number | string;
  goal: string;
  met?: boolean;
}

interface Stream {
  abort: AbortController;
  messages: number;
  keepAlives: number;
  ended: boolean;
}

async function openStream(base: string, token: string): Promise<Stream> {
  const stream: Stream = { abort: new AbortController(), messages: 0, keepAlives: 0, ended: false };
  const res = await fetch(`${base}/api/orders/events`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: stream.abort.signal });
  if (res.status !== 200 || !res.body) throw new Error(`stream answered ${res.status}`);
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const text = decoder.decode(chunk, { stream: true });
        stream.messages += text.split('event: order').length - 1;
        stream.keepAlives += text.split(': keep-alive').length - 1;
      }
    } catch {
      // aborted at the end
    }
    stream.ended = true;
  })();
  return stream;
}

async function post(base: string, urlPath: string, body: unknown, token?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}${urlPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/**
 * Holds the streams against the API at `base` (process `pid`); `productId` is orderable there.
 * Also says how many orders it placed, so a stock check afterwards can account for them.
 */
export async function measureSseConnections(base: string, pid: number, productId: string): Promise<{ rows: SseRow[]; ordersPlaced: number }> {
  const users = Math.ceil(SSE_STREAMS / STREAMS_PER_USER);
  const tokens: string[] = [];
  for (let i = 0; i < users; i++) {
    const reply = await post(base, '/api/auth/register', { email: `sse-${i}-${randomBytes(3).toString('hex')}@bench.example.com`, password: `pw-${randomBytes(8).toString('hex')}`, name: `sse ${i}` });
    if (reply.status !== 201) throw new Error(`register answered ${reply.status}: ${JSON.stringify(reply.json)}`);
    tokens.push(String(reply.json.accessToken));
  }
  const before = rssMiB(pid, 'VmRSS');
  const streams: Stream[] = [];
  for (let i = 0; i < SSE_STREAMS; i += 50) {
    streams.push(...(await Promise.all(Array.from({ length: Math.min(50, SSE_STREAMS - i) }, (_, j) => openStream(base, tokens[(i + j) % users]!)))));
  }
  const opened = rssMiB(pid, 'VmRSS');
  log(`sse: ${streams.length} streams open; RSS ${before.toFixed(0)} → ${opened.toFixed(0)} MiB; holding ${SSE_HOLD_S} s`);
  const started = Date.now();
  let orders = 0;
  while (Date.now() - started < SSE_HOLD_S * 1000) {
    // One order per user now and then: its changes reach that user's streams.
    const reply = await post(base, '/api/orders', { items: [{ productId, quantity: 1 }] }, tokens[orders % users]);
    if (reply.status === 201) orders++;
    await sleep(Math.min(2000, SSE_HOLD_S * 1000 - (Date.now() - started)));
  }
  const held = rssMiB(pid, 'VmRSS');
  const open = streams.filter((s) => !s.ended).length;
  const messages = streams.reduce((sum, s) => sum + s.messages, 0);
  const keepAlives = Math.min(...streams.map((s) => s.keepAlives));
  streams.forEach((s) => s.abort.abort());
  await sleep(3000);
  const after = rssMiB(pid, 'VmRSS');
  log(`sse: after ${SSE_HOLD_S} s RSS ${held.toFixed(0)} MiB, ${open} still open, ${messages} order events received, ≥ ${keepAlives} keep-alives each; closed → ${after.toFixed(0)} MiB`);
  const report = (measure: string, ours: number, goal = 'report', met?: boolean): SseRow => ({ measure, ours: Number(ours.toFixed(0)), baseline: '—', ratio: '—', goal, ...(met === undefined ? {} : { met }) });
  const rows = [
    report(`SSE: API RSS MiB before ${SSE_STREAMS} streams`, before),
    report(`SSE: API RSS MiB with ${SSE_STREAMS} streams just opened`, opened),
    // The embedded API's RSS also holds PGlite, which grows a little with the orders placed meanwhile.
    report(`SSE: API RSS MiB after holding them ${SSE_HOLD_S} s (≤ 32 MiB above the larger of the two before)`, held, '≤ +32', held - Math.max(before, opened) <= 32),
    report('SSE: API RSS MiB 3 s after closing them', after),
    report(`SSE: streams still open after ${SSE_HOLD_S} s (order events received: ${messages}, keep-alives each ≥ ${keepAlives})`, open, `${SSE_STREAMS}`, open === SSE_STREAMS),
  ];
  return { rows, ordersPlaced: orders };
}

/** Standalone: a fresh embedded API from dist/, one product, the measurement, a table. */
async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ops-bench-sse-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const adminEmail = 'sse-admin@bench.example.com';
  const adminPassword = `pw-${randomBytes(8).toString('hex')}`;
  const api = startService('api', ['dist/server.js'], {
    NODE_ENV: 'production', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, JWT_SECRET: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn', SEED_DEMO_DATA: 'false', ADMIN_EMAIL: adminEmail, ADMIN_PASSWORD: adminPassword, ORDER_RATE_LIMIT_PER_MINUTE: '100000',
  });
  try {
    await waitForHttp(api, `${base}/health/live`, 90_000);
    const admin = await post(base, '/api/auth/login', { email: adminEmail, password: adminPassword });
    const product = await post(base, '/api/products', { sku: 'SSE-1', name: 'SSE bench', priceCents: 100, stock: 1_000_000 }, String(admin.json.accessToken));
    const { rows } = await measureSseConnections(base, api.pid, String(product.json.id));
    for (const row of rows) process.stdout.write(`${row.measure}: ${row.ours}${row.met === undefined ? '' : row.met ? ' (met)' : ' (NOT met)'}\n`);
    await stopChild(api, 10_000);
  } finally {
    await killAll();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`sse bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
