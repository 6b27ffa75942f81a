/**
 * `npm run bench`: load-tests the built service against tiny baselines measured in the same run
 * on the same machine, prints a table of ratios and writes bench/results.json.
 *
 * Everything runs on loopback; the services run in child processes (never in this one, which
 * only drives autocannon). Databases, Redis keys, temp dirs and children are removed at the end,
 * also after an error or Ctrl-C. Not part of CI: it is a benchmark, not a test.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { checkStock, type Sql, type StockCheck } from './checks.js';
import { measureRegistrationFlood } from './registration-flood.js';
import { measureSseConnections } from './sse-connections.js';
import {
  adminQuery,
  applyMigrations,
  combine,
  cpuMeter,
  cpuPerRequestUs,
  databaseUrl,
  describeCpu,
  deleteRedisKeys,
  faultsPerRequest,
  freePort,
  killAll,
  killAllNow,
  load,
  pacedLoad,
  log,
  ok,
  pick,
  randomOrderBody,
  REDIS_URL,
  ROOT,
  rssMiB,
  sleep,
  startChild,
  startNeighbour,
  startService,
  stopChild,
  waitForHttp,
  type Child,
  type Load,
  type PidGroups,
} from './lib.js';

// ---------------------------------------------------------------------------------------------
// Knobs (seconds). The defaults keep the whole run under ~3 minutes on 2 cores.

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const CONNECTIONS = num('BENCH_CONNECTIONS', 16);
const WARMUP_S = num('BENCH_WARMUP_S', 1);
/**
 * Placement warms up longer: its rate still rises through the first ~4 s of load (JIT, PostgreSQL's
 * plans and buffers; measured 1,020 → 1,240 → 1,330–1,400 req/s over the first rounds), and the
 * pipeline and embedded rows divide by it, so a run with few rounds read them ~0.1 too high.
 */
const PLACEMENT_WARMUP_S = num('BENCH_PLACEMENT_WARMUP_S', 4);
/**
 * Each ours/baseline comparison runs ROUNDS pairs of back-to-back rounds of ROUND_S (ABBA order)
 * and reports the median of the per-pair ratios: the machine's speed drifts by ±20 % within
 * seconds here, and a pair run back to back sees the same machine.
 */
const ROUND_S = num('BENCH_ROUND_S', 1.25);
const ROUNDS = num('BENCH_ROUNDS', 8);
/**
 * Every pipeline phase starts its API and workers afresh (a clean slate), so it first runs a
 * saturated load of PIPELINE_WARMUP_S and lets it finish, as placement warms up before its rounds:
 * without it the measured seconds were the processes' first (V8 compiling the hot paths,
 * PostgreSQL's new connections filling their caches and plans), and the 1-worker phase completed
 * 261 orders/s at 6.9 ms of CPU per order where a 20-second load, on the same host in the same
 * half hour, completed 454/s at 4.2 ms (docs/benchmarks.md, "The pipeline, measured warm").
 */
const PIPELINE_WARMUP_S = num('BENCH_PIPELINE_WARMUP_S', 4);
const PIPELINE_LOAD_S = num('BENCH_PIPELINE_S', 8);
/** Each 1-worker phase then measures placement alone this long (its worker paused), for goal 1's ratio. */
const PIPELINE_PLACEMENT_S = num('BENCH_PIPELINE_PLACEMENT_S', 2.5);
/** Goal 1: the most backlog, in seconds of arrivals, that a load at half the placement rate may leave (see its row). */
const SUSTAINED_BACKLOG_S = 0.25;
/** The lower middle of `values` by `key` (the median of an odd count). */
const lowerMedian = <T>(values: readonly T[], key: (v: T) => number): T | undefined => [...values].sort((a, b) => key(a) - key(b))[Math.floor((values.length - 1) / 2)];
const LATENCY_S = num('BENCH_LATENCY_S', 5);
const DRAIN_TIMEOUT_S = num('BENCH_DRAIN_TIMEOUT_S', 30);
const EMBEDDED_S = num('BENCH_EMBEDDED_S', 6);
/** The embedded default warms up as placement does (PGlite's WebAssembly too is compiled again, optimised, while it runs). */
const EMBEDDED_WARMUP_S = num('BENCH_EMBEDDED_WARMUP_S', PLACEMENT_WARMUP_S);
const USERS = 8;
const PRODUCTS = 200;
const EMBEDDED_PRODUCTS = 50;
const INITIAL_STOCK = 1_000_000_000;
/** The API's limit per product (MAX_STOCK) applies to the embedded run, which creates products through the API. */
const EMBEDDED_STOCK = 1_000_000;
/** Every goal holds with the defaults a user gets: WORKER_CONCURRENCY is left at its default. */
const WORKER_CONCURRENCY = 'default';
/** Diagnostics: extra environment (JSON) for the API processes / the worker processes, e.g. '{"OUTBOX_POLL_MS":"1000"}'. */
const EXTRA_SERVER_ENV = JSON.parse(process.env.BENCH_SERVER_ENV ?? '{}') as Record<string, string>;
const EXTRA_WORKER_ENV = JSON.parse(process.env.BENCH_WORKER_ENV ?? '{}') as Record<string, string>;
/**
 * Diagnostics: run only some parts (comma-separated: flood, get, post, keyed, pipeline, embedded;
 * the pipeline needs post), and the pipeline with these worker counts. Profiling processing, e.g.:
 * BENCH_ONLY=post,pipeline BENCH_PIPELINE_WORKERS=1 BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'.
 */
const ONLY = new Set((process.env.BENCH_ONLY ?? 'flood,get,post,keyed,pipeline,embedded').split(','));
const PIPELINE_WORKERS = (process.env.BENCH_PIPELINE_WORKERS ?? '1,2').split(',').map(Number);
/** Pairs of saturated phases (1 worker, 2 workers) behind the "2 workers vs 1" row: the first pair is the phases above, the others saturated load only. */
const WORKER_PAIRS = num('BENCH_WORKER_PAIRS', 3);
/** Diagnostics: node options for the API and worker processes (NODE_OPTIONS refuses --cpu-prof), e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'. */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** Robustness check: a competing process busy this fraction of the time (0–1) for the whole run, as on a loaded machine. */
const NEIGHBOUR = num('BENCH_NEIGHBOUR', 0);

const RUN = randomBytes(4).toString('hex');
const PREFIX = `bench-${RUN}`;
const DB_API = `bench_${RUN}_api`;
const DB_BASE = `bench_${RUN}_base`;
const JWT_SECRET = randomBytes(32).toString('hex');
const TMP = mkdtempSync(path.join(tmpdir(), 'ops-bench-'));

// ---------------------------------------------------------------------------------------------
// Small HTTP client for set-up calls

interface Reply {
  status: number;
  text: string;
  headers: Headers;
  json<T>(): T;
}

async function call(base: string, method: string, urlPath: string, body?: unknown, token?: string, extra: Record<string, string> = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...extra };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}${urlPath}`, { method, headers, body: body === undefined ? null : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, json: <T>() => JSON.parse(text) as T };
}

async function expectStatus(reply: Promise<Reply>, status: number, what: string): Promise<Reply> {
  const r = await reply;
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status}: ${r.text.slice(0, 500)}`);
  return r;
}

interface Session {
  userId: string;
  accessToken: string;
}

async function register(base: string, label: string): Promise<Session & { email: string; password: string }> {
  const email = `${label}-${randomBytes(4).toString('hex')}@bench.example.com`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const r = await expectStatus(call(base, 'POST', '/api/auth/register', { email, password, name: label }), 201, 'register');
  const body = r.json<{ user: { id: string }; accessToken: string }>();
  return { userId: body.user.id, accessToken: body.accessToken, email, password };
}

// ---------------------------------------------------------------------------------------------
// Processes under test

const serverEnv = (port: number, extra: Record<string, string> = {}): Record<string, string> => ({
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  PORT: String(port),
  JWT_SECRET,
  LOG_LEVEL: 'warn',
  LOG_FORMAT: 'json',
  ORDER_RATE_LIMIT_PER_MINUTE: '100000000',
  SEED_DEMO_DATA: 'false',
  // Orders left pending on purpose (the placement runs have no worker) must not be re-enqueued mid-run.
  RECONCILE_AFTER_SECONDS: '3600',
  WORKER_METRICS_PORT: '0',
  // Production's guard rails, opted out of on purpose: the bench measures the embedded default
  // too, and its emails go to files.
  ALLOW_EMBEDDED_DB_IN_PRODUCTION: 'true',
  MAIL_TRANSPORT: 'file',
  ...extra,
});

const serverModeEnv = (port: number, extra: Record<string, string> = EXTRA_SERVER_ENV) =>
  serverEnv(port, { DATABASE_URL: databaseUrl(DB_API), REDIS_URL, REDIS_PREFIX: PREFIX, DATA_DIR: path.join(TMP, 'server-data'), ...extra });

async function startApi(port: number, env: Record<string, string>, timeoutMs = 60_000): Promise<Child> {
  const child = startService('api', [...NODE_ARGS, 'dist/server.js'], env);
  await waitForHttp(child, `http://127.0.0.1:${port}/health/live`, timeoutMs);
  return child;
}

async function startBaseline(file: string, env: Record<string, string>): Promise<{ child: Child; base: string }> {
  const port = await freePort();
  const child = startChild(`baseline ${file}`, ['--import', 'tsx', `bench/baselines/${file}`], { NODE_ENV: 'production', PORT: String(port), ...env });
  await waitForHttp(child, `http://127.0.0.1:${port}/health`, 30_000);
  return { child, base: `http://127.0.0.1:${port}` };
}

/** `npm run build`: about a second, and it rewrites only the files that changed. */
function build(): string {
  const started = Date.now();
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  return `npm run build (${((Date.now() - started) / 1000).toFixed(1)} s)`;
}

// ---------------------------------------------------------------------------------------------
// Results

interface Row {
  measure: string;
  ours: number | string;
  baseline: number | string;
  ratio: number | string;
  goal: string;
  met?: boolean;
}

const rows: Row[] = [];
const details: Record<string, unknown> = {};
const fmt = (v: number | string, digits = 0) => (typeof v === 'number' ? v.toFixed(digits) : v);
/** Decimals a table cell shows: none for integers, two below 1 (0.24 s, not 0.2), one otherwise. */
const decimals = (v: number | string) => (typeof v !== 'number' || Number.isInteger(v) ? 0 : Math.abs(v) < 1 ? 2 : 1);

function row(measure: string, ours: number, baseline: number, goal: string, digits = 0, higherIsBetter = true, minRatio?: number, ratio = ours / baseline): void {
  rows.push({
    measure,
    ours: Number(ours.toFixed(digits)),
    baseline: Number(baseline.toFixed(digits)),
    ratio: Number(ratio.toFixed(2)),
    goal,
    ...(minRatio === undefined ? {} : { met: higherIsBetter ? ratio >= minRatio : ratio <= minRatio }),
  });
}

function table(): string {
  const header = ['measure', 'ours', 'baseline', 'ratio', 'goal'];
  const lines = rows.map((r) => [
    r.measure,
    fmt(r.ours, decimals(r.ours)),
    fmt(r.baseline, decimals(r.baseline)),
    typeof r.ratio === 'number' ? `${r.ratio.toFixed(2)}×` : r.ratio,
    r.met === undefined ? r.goal : `${r.goal} ${r.met ? '✓' : '✗'}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => String(l[i]).length)));
  const render = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [render(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map((l) => render(l.map(String)))].join('\n');
}

/**
 * Every 201 the client saw is an order in the database; the database may hold a few more: the
 * requests still in flight when autocannon stopped (at most one per connection per run).
 */
const accounted = (seen201: number, inDb: number, runs: number) => inDb >= seen201 && inDb - seen201 <= CONNECTIONS * runs;

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return Number.isInteger(mid) ? ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2 : (sorted[Math.floor(mid)] ?? Number.NaN);
};

interface Paired {
  ours: Load[];
  base: Load[];
}

/** ROUNDS pairs, ours first in even pairs and the baseline first in odd ones, so neither side always runs on a warmer machine. */
async function pairedRounds(ours: () => Promise<Load>, base: () => Promise<Load>, beforeEach: () => Promise<unknown> = () => Promise.resolve()): Promise<Paired> {
  const rounds: Paired = { ours: [], base: [] };
  for (let i = 0; i < ROUNDS; i++) {
    await beforeEach();
    if (i % 2 === 0) {
      rounds.ours.push(await ours());
      rounds.base.push(await base());
    } else {
      rounds.base.push(await base());
      rounds.ours.push(await ours());
    }
  }
  return rounds;
}

const pairRatios = (rounds: Paired, pick: (l: Load) => number) => rounds.ours.map((l, i) => pick(l) / pick(rounds.base[i]!));

/** A row whose figures are the medians of each side and whose ratio is the median of the per-pair ratios. */
function pairedRow(measure: string, rounds: Paired, pick: (l: Load) => number, goal: string, digits = 0, higherIsBetter = true, minRatio?: number): void {
  row(measure, median(rounds.ours.map(pick)), median(rounds.base.map(pick)), goal, digits, higherIsBetter, minRatio, median(pairRatios(rounds, pick)));
}

const spread = (rounds: Paired, pick: (l: Load) => number) =>
  `per-pair ratios ${pairRatios(rounds, pick)
    .sort((a, b) => a - b)
    .map((r) => r.toFixed(2))
    .join(' ')}`;

const describe = (l: Load) =>
  `${l.rps.toFixed(0)} rps, p50 ${l.p50} ms, p99 ${l.p99} ms, ${JSON.stringify(l.statuses)}${l.errors ? `, ${l.errors} errors` : ''}${l.cpu ? `\n    ${describeCpu(l)}` : ''}`;

// ---------------------------------------------------------------------------------------------
// The run

async function main(): Promise<void> {
  const started = Date.now();
  const machine = {
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memTotalGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    memFreeGiB: Number((freemem() / 2 ** 30).toFixed(1)),
    node: process.version,
    loadavgAtStart: loadavg().map((x) => Number(x.toFixed(2))),
  };
  log(`machine: ${JSON.stringify(machine)}`);
  log(`build: ${build()}`);
  if (NEIGHBOUR > 0) {
    startNeighbour(NEIGHBOUR);
    log(`a neighbour process is busy ${Math.round(NEIGHBOUR * 100)} % of the time`);
  }

  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  let apiPool: pg.Pool | undefined;
  let basePool: pg.Pool | undefined;
  cleanup = async () => {
    await killAll();
    await apiPool?.end().catch(() => undefined);
    await basePool?.end().catch(() => undefined);
    for (const db of [DB_API, DB_BASE]) await adminQuery(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch((e: unknown) => log(`could not drop ${db}: ${String(e)}`));
    await deleteRedisKeys(redis, PREFIX).catch((e: unknown) => log(`could not delete Redis keys: ${String(e)}`));
    redis.disconnect();
    rmSync(TMP, { recursive: true, force: true });
  };
  try {
    await adminQuery(`CREATE DATABASE ${DB_API}`);
    await adminQuery(`CREATE DATABASE ${DB_BASE}`);
    apiPool = new pg.Pool({ connectionString: databaseUrl(DB_API), max: 2 });
    basePool = new pg.Pool({ connectionString: databaseUrl(DB_BASE), max: 2 });
    let apiSqlCalls = 0;
    const apiSql: Sql = async <R>(text: string, params?: unknown[]) => {
      apiSqlCalls++;
      return (await apiPool!.query(text, params)).rows as R[];
    };
    /**
     * Work the pipeline asks of PostgreSQL and Redis, counted by the servers: unlike CPU, these
     * do not move with the host. Redis counts the commands BullMQ's scripts run as well.
     * PostgreSQL counts a statement outside a transaction as one transaction and a BEGIN…COMMIT
     * as one; a backend reports its counts at most once a second while busy and ~10 s after it
     * went idle, hence the wait. The bench's own queries are left out.
     */
    const serverWork = async () => {
      await sleep(10_500);
      const [pgStats] = await apiSql<{ xacts: string }>('SELECT xact_commit + xact_rollback AS xacts FROM pg_stat_database WHERE datname = current_database()');
      const info = await redis.info('stats');
      return { pgTransactions: Number(pgStats?.xacts) - apiSqlCalls, redisCommands: Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0) };
    };
    const baseSql: Sql = async <R>(text: string, params?: unknown[]) => (await basePool!.query(text, params)).rows as R[];

    // ---- set-up: the service on its bench database, the baseline on a copy of the schema
    const apiPort = await freePort();
    const apiBase = `http://127.0.0.1:${apiPort}`;
    let api = await startApi(apiPort, serverModeEnv(apiPort));
    const productIds = Array.from({ length: PRODUCTS }, () => randomUUID());
    const insertProducts = (sql: Sql) =>
      sql(
        `INSERT INTO products (id, sku, name, price_cents, currency, on_hand)
         SELECT id, 'BENCH-' || n, 'Bench product ' || n, 100 + n, 'USD', $2
         FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, n)`,
        [productIds, INITIAL_STOCK],
      );
    await insertProducts(apiSql);
    await applyMigrations(basePool);
    await insertProducts(baseSql);
    const baseUsers = await baseSql<{ id: string }>(
      `INSERT INTO users (email, name, password_hash)
       SELECT 'base-' || n || '@bench.example.com', 'base ' || n, 'x' FROM generate_series(1, ${USERS}) n RETURNING id`,
    );
    const users = await Promise.all(Array.from({ length: USERS }, (_, i) => register(apiBase, `user${i}`)));
    const tokens = users.map((u) => u.accessToken);
    if (ONLY.has('flood')) {
      // Registration flood (bench/registration-flood.ts): catalog reads while one address sends 300 registrations.
      const flood = await measureRegistrationFlood(apiBase);
      details.registrationFlood = flood;
      row('catalog read p50 (ms) under 300 registrations vs idle', flood.floodP50Ms, flood.idleP50Ms, '< 2× idle', 1, false, 2);
    }
    const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1] ?? 0);
    const pgPids = (db: string) => async () => (await apiSql<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [db])).map((r) => r.pid);
    const redisPids = () => (redisPid ? [redisPid] : []);
    log(`set-up done: ${PRODUCTS} products, ${USERS} users (${((Date.now() - started) / 1000).toFixed(1)} s)`);

    if (ONLY.has('get')) {
      // ---- 1. cached GET /api/orders/:id vs one Redis GET
      const user0 = users[0]!;
      const placed = await expectStatus(
        call(apiBase, 'POST', '/api/orders', { items: [{ productId: productIds[0], quantity: 1 }, { productId: productIds[1], quantity: 2 }] }, user0.accessToken),
        201,
        'place the order to read',
      );
      const orderId = placed.json<{ id: string }>().id;
      const warmGet = async () => {
        const r = await expectStatus(call(apiBase, 'GET', `/api/orders/${orderId}`, undefined, user0.accessToken), 200, 'warm GET');
        return r;
      };
      await warmGet();
      const hit = await warmGet();
      if (hit.headers.get('x-cache') !== 'HIT') throw new Error(`second GET was not a cache hit (X-Cache: ${hit.headers.get('x-cache')})`);
      await redis.set(`${PREFIX}:baseline:order:${orderId}`, hit.text);
      const getBaseline = await startBaseline('get-order.ts', { REDIS_URL, BASELINE_KEY_PREFIX: `${PREFIX}:baseline:order:` });
      const oursGet = () =>
        load(
          { url: `${apiBase}/api/orders/${orderId}`, connections: CONNECTIONS, duration: ROUND_S, headers: { authorization: `Bearer ${user0.accessToken}` } },
          { service: () => [api.pid], redis: redisPids },
        );
      const baseGet = () =>
        load({ url: `${getBaseline.base}/orders/${orderId}`, connections: CONNECTIONS, duration: ROUND_S }, { service: () => [getBaseline.child.pid], redis: redisPids });
      await load({ url: `${apiBase}/api/orders/${orderId}`, connections: CONNECTIONS, duration: WARMUP_S, headers: { authorization: `Bearer ${user0.accessToken}` } });
      await load({ url: `${getBaseline.base}/orders/${orderId}`, connections: CONNECTIONS, duration: WARMUP_S });
      const getRounds = await pairedRounds(oursGet, baseGet, warmGet); // warmGet keeps the 60 s cache entry fresh
      const stillHit = (await warmGet()).headers.get('x-cache');
      await stopChild(getBaseline.child);
      const getOurs = combine(getRounds.ours);
      const getBase = combine(getRounds.base);
      log(`GET ours: ${describe(getOurs)} (X-Cache after: ${stillHit})`);
      log(`GET base: ${describe(getBase)}`);
      log(`GET req/s ${spread(getRounds, (l) => l.rps)}`);
      details.cachedGet = { ours: getOurs, baseline: getBase, rounds: getRounds, xCacheAfter: stillHit };
      pairedRow('cached GET /api/orders/:id — req/s (median of pairs)', getRounds, (l) => l.rps, '≥ 0.80×', 0, true, 0.8);
      pairedRow('cached GET /api/orders/:id — p99 ms (median of pairs)', getRounds, (l) => l.p99, 'lower is better', 1);
      row('cached GET — service process CPU µs/response', cpuPerRequestUs(getOurs, 'service'), cpuPerRequestUs(getBase, 'service'), 'why', 0);
    }

    // ---- 2. POST /api/orders vs the plain reservation transaction
    const placeBaseline = await startBaseline('place-order.ts', { DATABASE_URL: databaseUrl(DB_BASE), BASELINE_USER_IDS: baseUsers.map((u) => u.id).join(',') });
    const ordersBefore = (await checkStock(apiSql, INITIAL_STOCK)).orders;
    const oursPostGroups: PidGroups = { service: () => [api.pid], postgres: pgPids(DB_API), redis: redisPids };
    const oursPost = (seconds: number, withKey = false, overallRate?: number, groups: PidGroups = oursPostGroups) =>
      load({
        url: `${apiBase}/api/orders`,
        connections: CONNECTIONS,
        duration: seconds,
        ...(overallRate ? { overallRate } : {}),
        requests: [
          {
            method: 'POST',
            setupRequest: (req) => ({
              ...req,
              body: randomOrderBody(productIds),
              headers: {
                ...req.headers,
                'content-type': 'application/json',
                authorization: `Bearer ${pick(tokens)}`,
                ...(withKey ? { 'idempotency-key': randomUUID() } : {}),
              },
            }),
          },
        ],
      }, groups);
    const basePost = (seconds: number) =>
      load({
        url: `${placeBaseline.base}/orders`,
        connections: CONNECTIONS,
        duration: seconds,
        requests: [{ method: 'POST', setupRequest: (req) => ({ ...req, body: randomOrderBody(productIds), headers: { ...req.headers, 'content-type': 'application/json' } }) }],
      }, { service: () => [placeBaseline.child.pid], postgres: pgPids(DB_BASE), redis: redisPids });
    const oursPosted: Load[] = [await oursPost(PLACEMENT_WARMUP_S)];
    const basePosted: Load[] = [await basePost(PLACEMENT_WARMUP_S)];
    const postRounds = await pairedRounds(() => oursPost(ROUND_S), () => basePost(ROUND_S));
    // The keyed POST against the same plain transaction, in pairs of its own.
    const keyedRounds: Paired = ONLY.has('keyed') ? await pairedRounds(() => oursPost(ROUND_S, true), () => basePost(ROUND_S)) : { ours: [], base: [] };
    const keyed = combine(keyedRounds.ours);
    oursPosted.push(...postRounds.ours, ...keyedRounds.ours);
    basePosted.push(...postRounds.base, ...keyedRounds.base);
    await stopChild(placeBaseline.child);
    const postOurs = combine(postRounds.ours);
    const postBase = combine(postRounds.base);
    const oursStock = await checkStock(apiSql, INITIAL_STOCK);
    const baseStock = await checkStock(baseSql, INITIAL_STOCK);
    const oursCreated = oursPosted.reduce((a, l) => a + ok(l), 0);
    const baseCreated = basePosted.reduce((a, l) => a + ok(l), 0);
    log(`POST ours: ${describe(postOurs)}`);
    log(`POST base: ${describe(postBase)}`);
    log(`POST req/s ${spread(postRounds, (l) => l.rps)}`);
    log(`POST ours with Idempotency-Key: ${describe(keyed)}`);
    log(`stock ours: ${JSON.stringify(oursStock)}, 201s seen ${oursCreated}, orders added ${oursStock.orders - ordersBefore}`);
    log(`stock base: ${JSON.stringify(baseStock)}, 201s seen ${baseCreated}`);
    details.placement = {
      ours: postOurs,
      baseline: postBase,
      oursWithIdempotencyKey: keyed,
      rounds: postRounds,
      stock: { ours: oursStock, baseline: baseStock },
      created: { ours201: oursCreated, oursOrdersInDb: oursStock.orders - ordersBefore, baseline201: baseCreated, baselineOrdersInDb: baseStock.orders },
    };
    pairedRow('POST /api/orders — req/s (median of pairs)', postRounds, (l) => l.rps, '≥ 1.00×', 0, true, 1.0);
    pairedRow('POST /api/orders — p99 ms (median of pairs)', postRounds, (l) => l.p99, 'lower is better', 1);
    row('POST — service process CPU µs/response', cpuPerRequestUs(postOurs, 'service'), cpuPerRequestUs(postBase, 'service'), 'why', 0);
    row('POST — PostgreSQL CPU µs/response', cpuPerRequestUs(postOurs, 'postgres'), cpuPerRequestUs(postBase, 'postgres'), 'why', 0);
    if (keyedRounds.ours.length > 0) {
      pairedRow('POST + fresh Idempotency-Key — req/s (vs plain tx, median of pairs)', keyedRounds, (l) => l.rps, '≥ 1.00×', 0, true, 1.0);
      row('POST + Idempotency-Key — p99 ms', keyed.p99, postBase.p99, 'report', 1);
    }
    rows.push({
      measure: 'oversold/mismatched products after POST runs',
      ours: oursStock.oversell,
      baseline: baseStock.oversell,
      ratio: '—',
      goal: '0',
      met:
        oursStock.oversell === 0 &&
        baseStock.oversell === 0 &&
        accounted(oursCreated, oursStock.orders - ordersBefore, oursPosted.length) &&
        accounted(baseCreated, baseStock.orders, basePosted.length),
    });

    if (ONLY.has('pipeline')) {
      // ---- 3. pipeline: 1 vs 2 worker processes
      const halfPlacementRps = Math.max(1, Math.round(postOurs.rps / 2));
      let sustainableRps: number | undefined;
      let nearMaxRps: number | undefined;
      const pipeline: Record<string, unknown> = {};
      const queue = new Queue('orders', { connection: { host: '127.0.0.1', port: Number(new URL(REDIS_URL).port || 6379) }, prefix: `{${PREFIX}:bull}` });
      try {
        // One phase: a clean slate, `workerCount` workers, the saturated load and its drain, then
        // (withLatency) the latency loads. Answers the completed orders per second under the load.
        const runPhase = async (workerCount: number, withLatency: boolean): Promise<{ throughput: number; placementNow?: number; halfBacklogS?: number; goalRps: number }> => {
          // A clean slate: no orders, no queued jobs, stock back to its initial level.
          await stopChild(api);
          await apiSql('TRUNCATE orders, order_items, outbox_events, stock_movements, idempotency_keys, email_deliveries, payment_voids');
          await apiSql('UPDATE products SET reserved = 0, on_hand = $1', [INITIAL_STOCK]);
          await deleteRedisKeys(redis, PREFIX);
          api = await startApi(apiPort, serverModeEnv(apiPort));
          const workers = Array.from({ length: workerCount }, (_, i) => startService(`worker${i}`, [...NODE_ARGS, 'dist/worker.js'], serverModeEnv(0, EXTRA_WORKER_ENV)));
          const deadline = Date.now() + 30_000;
          while ((await queue.getWorkersCount()) < workerCount) {
            const dead = workers.find((w) => w.proc.exitCode !== null);
            if (dead) throw new Error(`${dead.name} exited:\n${dead.output()}`);
            if (Date.now() > deadline) throw new Error(`workers did not connect:\n${workers.map((w) => w.output()).join('\n')}`);
            await sleep(100);
          }

          // Until every order placed since `since` is finished and its email sent (the pipeline's
          // last step); `openAtStart`: the orders not yet finished or emailed when it began.
          const drain = async (since: Date) => {
            const started = Date.now();
            const limit = started + DRAIN_TIMEOUT_S * 1000;
            let openAtStart: number | undefined;
            for (;;) {
              const [r] = await apiSql<{ open: string; total: string }>(
                `SELECT count(*) FILTER (WHERE o.status IN ('pending', 'processing')
                                            OR NOT EXISTS (SELECT 1 FROM email_deliveries d WHERE d.order_id = o.id AND d.status = 'sent')) AS open,
                        count(*) AS total
                 FROM orders o WHERE o.created_at >= $1`,
                [since],
              );
              openAtStart ??= Number(r?.open);
              if (Number(r?.open) === 0 || Date.now() > limit) return { open: Number(r?.open), total: Number(r?.total), openAtStart, seconds: (Date.now() - started) / 1000 };
              await sleep(100);
            }
          };

          // Until the queue and the outbox are empty: emails of orders finished earlier may still be queued.
          const settle = async () => {
            const started = Date.now();
            const limit = started + DRAIN_TIMEOUT_S * 1000;
            for (;;) {
              const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
              const [outbox] = await apiSql<{ n: string }>('SELECT count(*) AS n FROM outbox_events WHERE published_at IS NULL');
              const pending = Object.values(counts).reduce((a, b) => a + b, 0) + Number(outbox?.n ?? 0);
              if (pending === 0 || Date.now() > limit) return { seconds: (Date.now() - started) / 1000, pending };
              await sleep(200);
            }
          };

          const pipelineGroups: PidGroups = { api: () => [api.pid], workers: () => workers.map((w) => w.pid), postgres: pgPids(DB_API), redis: redisPids };
          // Warm up (PIPELINE_WARMUP_S), then start the measured load from an idle queue.
          if (PIPELINE_WARMUP_S > 0) {
            const warmFrom = new Date();
            const warm = await oursPost(PIPELINE_WARMUP_S, false, undefined, pipelineGroups);
            await drain(warmFrom);
            const settled = await settle();
            log(`pipeline ${workerCount}w warm-up: placed ${ok(warm)} in ${PIPELINE_WARMUP_S} s, idle ${settled.seconds.toFixed(1)} s after`);
          }

          // a) saturate the API for a while, then wait until every order placed is finished
          const workBefore = await serverWork();
          // How many workers fetched jobs at once (standby workers join only when the active ones are short: README, Workers).
          const poolLoads = `{${PREFIX}:bull}:workers:loads`;
          let mostFetching = 0;
          const fetchingWatch = setInterval(() => {
            redis.hlen(poolLoads).then((n) => (mostFetching = Math.max(mostFetching, n)), () => undefined);
          }, 200);
          const t0 = new Date();
          const stopMeter = await cpuMeter(pipelineGroups);
          const saturated = await oursPost(PIPELINE_LOAD_S, false, undefined, pipelineGroups);
          const loadEnd = new Date();
          const left = await drain(t0);
          const pipelineCpu = await stopMeter();
          clearInterval(fetchingWatch);
          log(`pipeline ${workerCount}w: workers fetching jobs during the load and drain, most at once: ${mostFetching ? `${mostFetching} of ${workerCount}` : 'not known (no pool: WORKER_STANDBY=false)'}`);
          const [done] = await apiSql<{ completed: string; failed: string; last: Date | null; after_load: string }>(
            `SELECT count(*) FILTER (WHERE status = 'completed') AS completed, count(*) FILTER (WHERE status = 'failed') AS failed,
                    greatest(max(updated_at) FILTER (WHERE status = 'completed'),
                             (SELECT max(d.sent_at) FROM email_deliveries d JOIN orders e ON e.id = d.order_id WHERE e.created_at >= $1)) AS last,
                    count(*) FILTER (WHERE status = 'completed' AND updated_at > $2) AS after_load
             FROM orders WHERE created_at >= $1`,
            [t0, loadEnd],
          );
          const completed = Number(done?.completed ?? 0);
          const workAfter = await serverWork();
          const workPerOrder = {
            pgTransactions: (workAfter.pgTransactions - workBefore.pgTransactions) / Math.max(1, completed),
            // Less the bench's two INFO calls.
            redisCommands: (workAfter.redisCommands - workBefore.redisCommands - 2) / Math.max(1, completed),
          };
          const faultsPerOrder = Object.values(pipelineCpu.faults).reduce((a, b) => a + b, 0) / Math.max(1, completed);
          log(
            `pipeline ${workerCount}w per completed order: ${workPerOrder.pgTransactions.toFixed(2)} PostgreSQL transactions, ${workPerOrder.redisCommands.toFixed(2)} Redis commands, ${faultsPerOrder.toFixed(1)} page faults ${JSON.stringify(Object.fromEntries(Object.entries(pipelineCpu.faults).map(([group, n]) => [group, Math.round(n / Math.max(1, completed))])))}`,
          );
          const lastMs = done?.last ? done.last.getTime() : Date.now();
          const throughput = completed / ((lastMs - t0.getTime()) / 1000);
          const drainRate = Number(done?.after_load ?? 0) / Math.max(0.001, (lastMs - loadEnd.getTime()) / 1000);
          const cpuPerOrder = Object.fromEntries(Object.entries(pipelineCpu.ms).map(([group, ms]) => [group, Math.round((ms * 1000) / Math.max(1, completed))]));
          // If the pipeline is CPU-bound, it cannot beat (CPUs left over by other processes) / (CPU it spends per order).
          const ownCpuMsPerOrder = (Object.entries(pipelineCpu.ms).filter(([group]) => group !== 'other').reduce((a, [, ms]) => a + ms, 0)) / Math.max(1, completed);
          const cpusAvailable = machine.nproc - (pipelineCpu.ms.other ?? 0) / pipelineCpu.wallMs;
          const cpuCeiling = (cpusAvailable * 1000) / ownCpuMsPerOrder;
          log(
            `pipeline ${workerCount}w CPU µs per completed order (load + drain): ${JSON.stringify(cpuPerOrder)}, other processes used ${((pipelineCpu.ms.other ?? 0) / pipelineCpu.wallMs).toFixed(2)} CPUs → CPU-bound ceiling ${cpuCeiling.toFixed(0)} orders/s`,
          );
          log(`pipeline ${workerCount}w saturated load: ${describe(saturated)}`);
          log(
            `pipeline ${workerCount}w saturated: placed ${ok(saturated)} at ${saturated.rps.toFixed(0)} rps, completed ${completed} (open ${left.open}) in ${((lastMs - t0.getTime()) / 1000).toFixed(1)} s → ${throughput.toFixed(0)}/s; after the load ${drainRate.toFixed(0)}/s`,
          );

          // The placement-only rate of this moment, for goal 1's ratio: the host's speed drifts by
          // up to ±30 % between step 2 and this phase. Measured right after the saturated load, on
          // this phase's API (warm by now), with the worker paused (its queue), as in step 2 where
          // none runs; the worker then finishes those orders.
          let placementNow: Load | undefined;
          if (workerCount === 1 && PIPELINE_PLACEMENT_S > 0) {
            const placedFrom = new Date();
            await queue.pause();
            try {
              placementNow = await oursPost(PIPELINE_PLACEMENT_S, false, undefined, pipelineGroups);
            } finally {
              await queue.resume();
            }
            await drain(placedFrom);
            await settle();
            log(`pipeline ${workerCount}w: placement-only now (worker paused) ${placementNow.rps.toFixed(0)} req/s`);
          }


          // b) placed → completed latency at a fixed offered rate, starting from an idle queue
          const latencyAt = async (rate: number, seconds: number) => {
            const settled = await settle();
            log(`pipeline ${workerCount}w: queue idle after ${settled.seconds.toFixed(1)} s${settled.pending ? ` (${settled.pending} jobs still pending)` : ''}`);
            const since = new Date();
            // Evenly spaced arrivals (see pacedLoad): autocannon's rate limit sends each second's requests as one burst.
            const placing = await pacedLoad(
              {
                url: `${apiBase}/api/orders`,
                rate: Math.max(1, rate),
                seconds,
                request: () => ({ method: 'POST', body: randomOrderBody(productIds), headers: { 'content-type': 'application/json', authorization: `Bearer ${pick(tokens)}` } }),
              },
              pipelineGroups,
            );
            const left = await drain(since);
            const [lat] = await apiSql<{ p50: number | null; p99: number | null; n: string }>(
              `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, count(*) AS n
               FROM (SELECT extract(epoch FROM (h.at - o.created_at)) * 1000 AS ms
                     FROM orders o
                     CROSS JOIN LATERAL (SELECT (e->>'at')::timestamptz AS at FROM jsonb_array_elements(o.history) e
                                         WHERE e->>'status' = 'completed' LIMIT 1) h
                     WHERE o.created_at >= $1) t`,
              [since],
            );
            // Where the time goes: placed → processing (relay, queue, pick-up) and processing → completed (the job).
            // The relay's part ends when it marks the order's `order.placed` event published (after the queue took the job).
            const [stages] = await apiSql<{ toRelayed: number | null; toProcessing: number | null; toCompleted: number | null }>(
              `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY r) AS "toRelayed", percentile_cont(0.5) WITHIN GROUP (ORDER BY p) AS "toProcessing",
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY c - p) AS "toCompleted"
               FROM (SELECT extract(epoch FROM (s.processing - o.created_at)) * 1000 AS p, extract(epoch FROM (s.completed - o.created_at)) * 1000 AS c,
                            extract(epoch FROM (x.published_at - o.created_at)) * 1000 AS r
                     FROM orders o
                     CROSS JOIN LATERAL (SELECT max((e->>'at')::timestamptz) FILTER (WHERE e->>'status' = 'processing') AS processing,
                                                max((e->>'at')::timestamptz) FILTER (WHERE e->>'status' = 'completed') AS completed
                                         FROM jsonb_array_elements(o.history) e) s
                     LEFT JOIN outbox_events x ON x.aggregate_id = o.id AND x.topic = 'order.placed'
                     WHERE o.created_at >= $1 AND s.completed IS NOT NULL) t`,
              [since],
            );
            log(
              `  p50 placed→relayed ${Number(stages?.toRelayed).toFixed(0)} ms, placed→processing ${Number(stages?.toProcessing).toFixed(0)} ms, processing→completed ${Number(stages?.toCompleted).toFixed(0)} ms`,
            );
            const result = {
              targetRps: rate,
              settled,
              load: placing,
              completed: Number(lat?.n),
              open: left.open,
              openAtLoadEnd: left.openAtStart,
              drainSeconds: left.seconds,
              p50: Number(lat?.p50),
              p99: Number(lat?.p99),
            };
            log(
              `pipeline ${workerCount}w at ${rate} rps: placed ${ok(placing)} (${placing.rps.toFixed(0)} rps), completed ${result.completed} (open ${left.open}), placed→completed p50 ${result.p50.toFixed(0)} ms p99 ${result.p99.toFixed(0)} ms; when the load stopped ${left.openAtStart} not yet finished and emailed, all done ${left.seconds.toFixed(1)} s later`,
            );
            return result;
          };
          //   at half the placement-only rate measured right before (placementNow): the rate goal 1
          //   asks the pipeline to sustain, in every 1-worker phase (goal 1's row takes the median).
          //   Not half of step 2's rate: minutes apart, a noisy host's placement-only rate moved by
          //   half (634 req/s in step 2, 321–446 in the phases of one run on the twenty-first host),
          //   so that load asked for 70–100 % of what the host could then place at all.
          const goalRps = placementNow ? Math.max(1, Math.round(placementNow.rps / 2)) : halfPlacementRps;
          const goalLoad = workerCount === 1 ? await latencyAt(goalRps, PIPELINE_LOAD_S) : undefined;
          const halfBacklogS = goalLoad && goalLoad.openAtLoadEnd / goalLoad.targetRps;
          //   at half the maximum placement rate (step 2): the same rate for 1 and 2 workers (a report)
          const halfRate = withLatency ? await latencyAt(halfPlacementRps, PIPELINE_LOAD_S) : undefined;
          if (!withLatency || !halfRate) {
            await Promise.all(workers.map((w) => stopChild(w, 3000)));
            return { throughput, placementNow: placementNow?.rps, halfBacklogS, goalRps };
          }
          //   and at half of what 1 worker completed per second: a rate the pipeline keeps up with
          // The pipeline's maximum rate: what it completed flooded, or the rate it sustained at half
          // the placement rate when that is higher (sustained: ≤ 0.25 s of arrivals left, as goal 1).
          const sustainedHalf = halfRate.openAtLoadEnd / halfRate.targetRps <= SUSTAINED_BACKLOG_S;
          const pipelineMax = sustainedHalf ? Math.max(throughput, halfRate.load.rps) : throughput;
          sustainableRps ??= Math.max(1, Math.round(pipelineMax / 2));
          nearMaxRps ??= Math.max(1, Math.round(pipelineMax * 0.9));
          const sustainable = await latencyAt(sustainableRps, LATENCY_S);
          //   and at 90 % of what 1 worker completed per second
          const nearMax = await latencyAt(nearMaxRps, LATENCY_S);
          const stock = await checkStock(apiSql, INITIAL_STOCK);
          log(`pipeline ${workerCount}w stock: ${JSON.stringify(stock)}`);
          pipeline[`workers${workerCount}`] = {
            saturated: { load: saturated, cpuMsLoadAndDrain: pipelineCpu, cpuUsPerCompletedOrder: cpuPerOrder, workPerOrder, faultsPerOrder, ownCpuMsPerOrder, cpusAvailable, cpuCeiling, placed: ok(saturated), completed, failed: Number(done?.failed ?? 0), open: left.open, seconds: (lastMs - t0.getTime()) / 1000, throughput, drainRate, mostFetching },
            halfRate,
            sustainable,
            nearMax,
            stock,
          };
          await Promise.all(workers.map((w) => stopChild(w, 3000)));
          return { throughput, placementNow: placementNow?.rps, halfBacklogS, goalRps };
        };

        const counted: Record<number, number[]> = { 1: [], 2: [] };
        // Per 1-worker phase: [its completed orders/s, the placement-only rate measured right after it].
        const oneWorkerVsPlacement: [number, number][] = [];
        // Per 1-worker phase: the backlog left by the load at half the placement rate, in seconds of arrivals, and that rate.
        const halfRateBacklogs: number[] = [];
        const goalRates: number[] = [];
        const runCounted = async (workerCount: number, withLatency: boolean) => {
          const { throughput, placementNow, halfBacklogS, goalRps } = await runPhase(workerCount, withLatency);
          counted[workerCount]?.push(throughput);
          if (workerCount === 1 && placementNow !== undefined) oneWorkerVsPlacement.push([throughput, placementNow]);
          if (workerCount === 1 && halfBacklogS !== undefined) {
            halfRateBacklogs.push(halfBacklogS);
            goalRates.push(goalRps);
          }
        };
        for (const workerCount of PIPELINE_WORKERS) await runCounted(workerCount, true);
        // 2 workers vs 1 is one phase after the other, and the host drifts between them: more
        // pairs of saturated phases, each pair in the other order, and the row takes the median ratio.
        if (counted[1]?.length && counted[2]?.length) {
          for (let pair = 1; pair < WORKER_PAIRS; pair++) {
            for (const workerCount of pair % 2 === 1 ? [2, 1] : [1, 2]) await runCounted(workerCount, false);
          }
          const ratios = counted[2].map((w2, i) => w2 / counted[1]![i]!);
          log(`pipeline 2 workers vs 1, per-pair ratios ${[...ratios].sort((a, b) => a - b).map((r) => r.toFixed(2)).join(' ')}`);
          pipeline.workerPairs = { workers1: counted[1], workers2: counted[2], ratios };
        }
        pipeline.oneWorkerVsPlacement = oneWorkerVsPlacement;
        pipeline.halfRateBacklogs = halfRateBacklogs;
        pipeline.goalRates = goalRates;
      } finally {
        await queue.close();
      }
      details.pipeline = pipeline;
      type Phase = {
        saturated: { throughput: number; drainRate: number; open: number; ownCpuMsPerOrder: number; cpuCeiling: number; faultsPerOrder: number; workPerOrder: { pgTransactions: number; redisCommands: number } };
        halfRate: { p50: number; p99: number; open: number; openAtLoadEnd: number; drainSeconds: number; targetRps: number; load: Load };
        sustainable: { p50: number; p99: number; open: number };
        nearMax: { p50: number; p99: number; open: number };
        stock: StockCheck;
      };
      // BENCH_PIPELINE_WORKERS may leave out either count (diagnostic runs); the rows compare
      // against the one-worker run, so they print only when it ran.
      const w1 = pipeline.workers1 as Phase | undefined;
      const w2 = pipeline.workers2 as Phase | undefined;
      if (w1) {
        // Goal 1, as the issue words it: the pipeline *sustains* ½ the placement-only rate measured
        // in the same run *with no growing backlog at that rate*; the rate is the one measured
        // right before, in the same phase (see goalRps). Offered exactly that (evenly spaced
        // arrivals, for PIPELINE_LOAD_S), a pipeline that keeps up ends the load with only the
        // orders in flight (p50 latency × rate); one that falls behind by d % ends it
        // d % × PIPELINE_LOAD_S seconds of arrivals behind. Met at ≤ 0.25 s of arrivals: a deficit
        // of at most ~3 % over 8 s. Measured in every 1-worker phase; the row takes their median,
        // as the paired rows do.
        const half = w1.halfRate;
        const backlogs = (pipeline.halfRateBacklogs as number[] | undefined) ?? [];
        const rates = (pipeline.goalRates as number[] | undefined) ?? [];
        const medianBacklog = lowerMedian(backlogs, (b) => b) ?? half.openAtLoadEnd / half.targetRps;
        row(
          `pipeline (1 worker) sustains ½ the placement-only rate measured right before (${rates.join(' / ')}/s offered for ${PIPELINE_LOAD_S} s): backlog when the load stops, s of arrivals (median of ${backlogs.length} phase${backlogs.length === 1 ? '' : 's'}: ${backlogs.map((b) => b.toFixed(2)).join(' / ')})`,
          medianBacklog,
          SUSTAINED_BACKLOG_S,
          `≤ ${SUSTAINED_BACKLOG_S} s`,
          2,
          false,
          1.0,
        );
        // The pipeline flooded (closed loop, CONNECTIONS at once): placement then takes CPU from
        // processing, so this is what a flood leaves processing, less than what it sustains.
        row('pipeline (1 worker) flooded: completed orders/s vs placement-only POST req/s of step 2', w1.saturated.throughput, postOurs.rps, 'report', 0);
        // The same against the placement-only rate measured right after each 1-worker phase, on
        // its API (the host's speed drifts between step 2 and the phases): median of the phases.
        const phases = (pipeline.oneWorkerVsPlacement as [number, number][]) ?? [];
        if (phases.length > 0) {
          const byRatio = [...phases].sort((a, b) => a[0] / a[1] - b[0] / b[1]);
          const [midOurs, midPlacement] = lowerMedian(phases, ([a, b]) => a / b)!;
          log(`pipeline 1w vs placement-only right after it, per phase: ${phases.map(([a, b]) => `${a.toFixed(0)}/${b.toFixed(0)} = ${(a / b).toFixed(2)}`).join(', ')}`);
          row(
            `pipeline (1 worker) flooded vs placement-only measured right after it (median of ${phases.length} phase${phases.length > 1 ? 's' : ''}: ${byRatio.map(([a, b]) => (a / b).toFixed(2)).join(' / ')})`,
            midOurs,
            midPlacement,
            'report',
            0,
          );
        }
        row(
          `pipeline (1 worker) at ½ step 2's placement-only rate (${half.targetRps}/s for ${PIPELINE_LOAD_S} s, first phase): backlog when the load stops, s of arrivals`,
          half.openAtLoadEnd / half.targetRps,
          SUSTAINED_BACKLOG_S,
          'report',
          2,
        );
        row(`placed→completed p50 / p99 ms @ ${half.targetRps} rps (½ step 2's placement-only rate)`, half.p50, half.p99, 'report', 0);
        row('pipeline CPU ms per completed order, all processes (1 worker) vs 3 ms', w1.saturated.ownCpuMsPerOrder, 3, '≤ 1.00×', 1, false, 1.0);
        row("pipeline PostgreSQL transactions per completed order (1 worker) vs 1, the placement's own", w1.saturated.workPerOrder.pgTransactions, 1, 'report', 2);
        row('pipeline Redis commands per completed order, inside scripts too (1 worker) vs 1', w1.saturated.workPerOrder.redisCommands, 1, 'report', 2);
        // ~12 µs each on the VMs this is measured on (docs/benchmarks.md, "Page faults").
        row('pipeline page faults per completed order, all its processes (1 worker) vs a placement (POST row)', w1.saturated.faultsPerOrder, faultsPerRequest(postOurs), 'report', 1);
        row(`placed→completed p50 ms @ ${sustainableRps ?? 0} rps (½ 1-worker pipeline max) vs 20 ms`, w1.sustainable.p50, 20, '≤ 1.00×', 0, false, 1.0);
        row(`placed→completed p99 ms @ ${sustainableRps ?? 0} rps (½ 1-worker pipeline max) vs 100 ms`, w1.sustainable.p99, 100, '≤ 1.00×', 0, false, 1.0);
        row(`placed→completed p99 ms @ ${nearMaxRps ?? 0} rps (90 % of 1-worker pipeline max) vs 250 ms`, w1.nearMax.p99, 250, '≤ 1.00×', 0, false, 1.0);
      }
      if (w1 && w2) {
        const pairs = pipeline.workerPairs as { workers1: number[]; workers2: number[]; ratios: number[] };
        row(
          `pipeline completed orders/s — 2 workers vs 1 (median of ${pairs.ratios.length} alternating pairs)`,
          median(pairs.workers2),
          median(pairs.workers1),
          '≥ 0.95×',
          0,
          true,
          0.95,
          median(pairs.ratios),
        );
        row('pipeline completed/s after the load stops — 2w vs 1w', w2.saturated.drainRate, w1.saturated.drainRate, 'report', 0);
        row('pipeline CPU ms per completed order (all processes) — 2w vs 1w', w2.saturated.ownCpuMsPerOrder, w1.saturated.ownCpuMsPerOrder, 'why', 1);
        row('pipeline PostgreSQL transactions per completed order — 2w vs 1w', w2.saturated.workPerOrder.pgTransactions, w1.saturated.workPerOrder.pgTransactions, 'why', 2);
        row('pipeline Redis commands per completed order, inside scripts too — 2w vs 1w', w2.saturated.workPerOrder.redisCommands, w1.saturated.workPerOrder.redisCommands, 'why', 2);
        row('1 worker: completed/s vs CPU-bound ceiling (free CPUs / CPU per order)', w1.saturated.throughput, w1.saturated.cpuCeiling, 'why', 0);
        row('2 workers: completed/s vs CPU-bound ceiling', w2.saturated.throughput, w2.saturated.cpuCeiling, 'why', 0);
        row(`placed→completed p50 ms @ ${halfPlacementRps} rps (½ max placement) — 2w vs 1w`, w2.halfRate.p50, w1.halfRate.p50, 'report', 0);
        row(`placed→completed p99 ms @ ${halfPlacementRps} rps (½ max placement) — 2w vs 1w`, w2.halfRate.p99, w1.halfRate.p99, 'report', 0);
        row(`placed→completed p50 ms @ ${sustainableRps ?? 0} rps (½ 1-worker pipeline) — 2w vs 1w`, w2.sustainable.p50, w1.sustainable.p50, 'report', 0);
        row(`placed→completed p99 ms @ ${sustainableRps ?? 0} rps (½ 1-worker pipeline) — 2w vs 1w`, w2.sustainable.p99, w1.sustainable.p99, 'report', 0);
        rows.push({
          measure: 'oversold/mismatched products after pipeline (2w, 1w)',
          ours: w2.stock.oversell,
          baseline: w1.stock.oversell,
          ratio: '—',
          goal: '0',
          met: w1.stock.oversell === 0 && w2.stock.oversell === 0,
        });
      }
    }
    await stopChild(api);

    if (ONLY.has('embedded')) {
      // ---- 4. embedded default: no DATABASE_URL / REDIS_URL, a fresh DATA_DIR
      const dataDir = path.join(TMP, 'embedded-data');
      const embeddedPort = await freePort();
      const embeddedBase = `http://127.0.0.1:${embeddedPort}`;
      const adminEmail = 'bench-admin@bench.example.com';
      const adminPassword = `pw-${randomBytes(8).toString('hex')}`;
      const bootStarted = Date.now();
      const embedded = await startApi(
        embeddedPort,
        serverEnv(embeddedPort, { DATA_DIR: dataDir, ADMIN_EMAIL: adminEmail, ADMIN_PASSWORD: adminPassword, ...EXTRA_SERVER_ENV }),
        90_000,
      );
      const bootSeconds = (Date.now() - bootStarted) / 1000;
      const adminToken = (await expectStatus(call(embeddedBase, 'POST', '/api/auth/login', { email: adminEmail, password: adminPassword }), 200, 'admin login')).json<{
        accessToken: string;
      }>().accessToken;
      const embeddedProducts: string[] = [];
      for (let i = 0; i < EMBEDDED_PRODUCTS; i++) {
        const r = await expectStatus(
          call(embeddedBase, 'POST', '/api/products', { sku: `EMB-${i}`, name: `Embedded bench product ${i}`, priceCents: 100 + i, stock: EMBEDDED_STOCK }, adminToken),
          201,
          'create product',
        );
        embeddedProducts.push(r.json<{ id: string }>().id);
      }
      const embeddedTokens = (await Promise.all(Array.from({ length: 4 }, (_, i) => register(embeddedBase, `emb${i}`)))).map((u) => u.accessToken);
      const embeddedPost = (seconds: number) =>
        load(
          {
          url: `${embeddedBase}/api/orders`,
          connections: CONNECTIONS,
          duration: seconds,
          requests: [
            {
              method: 'POST',
              setupRequest: (req) => ({
                ...req,
                body: randomOrderBody(embeddedProducts),
                headers: { ...req.headers, 'content-type': 'application/json', authorization: `Bearer ${pick(embeddedTokens)}` },
              }),
            },
          ],
          },
          { service: () => [embedded.pid] },
        );
      // Started, its products and users made, before any order: what the service holds idle.
      const idleMiB = rssMiB(embedded.pid, 'VmRSS');
      const embeddedWarm = await embeddedPost(EMBEDDED_WARMUP_S);
      const embeddedLoad = await embeddedPost(EMBEDDED_S);
      const peakMiB = rssMiB(embedded.pid, 'VmHWM');
      const afterLoadMiB = rssMiB(embedded.pid, 'VmRSS');
      // Live order events (#14): 500 SSE streams held on this API; their own rows.
      const sse = await measureSseConnections(embeddedBase, embedded.pid, embeddedProducts[0]!);
      await stopChild(embedded, 10_000);
      // The data dir is free again: read it directly for the stock check.
      const pglite = await PGlite.create(path.join(dataDir, 'pgdata'));
      let embeddedStock: StockCheck;
      try {
        embeddedStock = await checkStock(async <R>(text: string, params?: unknown[]) => (await pglite.query<R>(text, params)).rows, EMBEDDED_STOCK);
      } finally {
        await pglite.close();
      }
      // The SSE measurement above places orders of its own.
      const embeddedCreated = ok(embeddedWarm) + ok(embeddedLoad) + sse.ordersPlaced;
      log(`embedded: boot ${bootSeconds.toFixed(1)} s, ${describe(embeddedLoad)}, RSS idle before the load ${idleMiB.toFixed(0)} MiB, peak ${peakMiB.toFixed(0)} MiB, after the load ${afterLoadMiB.toFixed(0)} MiB; stock ${JSON.stringify(embeddedStock)}, 201s seen ${embeddedCreated}`);
      details.embedded = { bootSeconds, load: embeddedLoad, rssIdleMiB: idleMiB, peakRssMiB: peakMiB, rssAfterLoadMiB: afterLoadMiB, stock: embeddedStock, created201: embeddedCreated };
      row('embedded POST /api/orders — req/s (vs server mode)', embeddedLoad.rps, postOurs.rps, '≥ 0.50×', 0, true, 0.5);
      row('embedded POST /api/orders — p99 ms vs 200 ms', embeddedLoad.p99, 200, '< 1.00×', 1, false, 0.999);
      row('embedded POST — CPU µs/response, incl. in-process order processing (vs server-mode API + PG + Redis)', cpuPerRequestUs(embeddedLoad, 'service'), cpuPerRequestUs(postOurs, 'service') + cpuPerRequestUs(postOurs, 'postgres') + cpuPerRequestUs(postOurs, 'redis'), 'why', 0);
      rows.push({ measure: 'embedded RSS MiB started, before the load (VmRSS)', ours: Number(idleMiB.toFixed(0)), baseline: '—', ratio: '—', goal: 'report' });
      rows.push({ measure: 'embedded peak RSS MiB (VmHWM; includes creating the database)', ours: Number(peakMiB.toFixed(0)), baseline: '—', ratio: '—', goal: 'report' });
      row('embedded RSS MiB after the load (VmRSS) vs 400 MiB', afterLoadMiB, 400, '< 1.00×', 0, false, 0.999);
      rows.push({
        measure: 'oversold/mismatched products, embedded',
        ours: embeddedStock.oversell,
        baseline: '—',
        ratio: '—',
        goal: '0',
        met: embeddedStock.oversell === 0 && accounted(embeddedCreated, embeddedStock.orders, 2),
      });

      rows.push(...sse.rows);
    }

    // ---- report
    const totalSeconds = (Date.now() - started) / 1000;
    const settings = { extraServerEnv: EXTRA_SERVER_ENV, extraWorkerEnv: EXTRA_WORKER_ENV, connections: CONNECTIONS, warmupS: WARMUP_S, placementWarmupS: PLACEMENT_WARMUP_S, neighbour: NEIGHBOUR, roundS: ROUND_S, rounds: ROUNDS, pipelineLoadS: PIPELINE_LOAD_S, latencyS: LATENCY_S, embeddedS: EMBEDDED_S, users: USERS, products: PRODUCTS, workerConcurrency: WORKER_CONCURRENCY, logLevel: EXTRA_SERVER_ENV.LOG_LEVEL ?? 'warn' };
    const out = table();
    process.stdout.write(`\n${out}\n\nmachine: ${machine.nproc} cpus (${machine.cpu}), ${machine.memTotalGiB} GiB RAM, node ${machine.node}, load avg at start ${machine.loadavgAtStart.join(' ')}; total ${totalSeconds.toFixed(0)} s\n`);
    writeFileSync(
      path.join(ROOT, 'bench/results.json'),
      `${JSON.stringify({ date: new Date().toISOString(), machine, settings, totalSeconds, rows, details }, null, 2)}\n`,
    );
    log('wrote bench/results.json');
  } finally {
    await runCleanup();
  }
}

/** Set once the resources exist; runs at most once (normal end, error, or a signal). */
let cleanup: () => Promise<void> = async () => {
  await killAll();
  rmSync(TMP, { recursive: true, force: true });
};
let cleaning: Promise<void> | undefined;
const runCleanup = () => (cleaning ??= cleanup());

process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping children and removing the bench databases`);
    killAllNow();
    const force = setTimeout(() => process.exit(130), 10_000);
    force.unref();
    void runCleanup().finally(() => process.exit(130));
  });
}

main().then(
  () => process.exit(0),
  async (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    await runCleanup().catch(() => undefined);
    process.exit(1);
  },
);
