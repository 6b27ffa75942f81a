/**
 * The four fault tests against the running topology, each followed by the invariants audit.
 * Load is bounded: a few concurrent clients on loopback for a few seconds per test.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import {
  ADMIN,
  DATABASE_URL,
  DIR,
  METRICS_TOKEN,
  PORTS,
  ROOT,
  isOwnProcess,
  killPostgresNode,
  killProcess,
  log,
  logTail,
  patroniRole,
  pidOf,
  postmasterPid,
  queueMasterPort,
  redisInfo,
  runningNames,
  sleep,
  startApi,
  startPatroni,
  startRedisNode,
  startWorker,
  stopProcess,
  waitFor,
  waitForApisInHaproxy,
  type Variant,
} from './services.js';
import { Session, call } from './api-client.js';
import { apiKillProblems, emailFileProblems, workerRole } from './checks.js';
import { auditWatchers, startWatchers } from './sse-audit.js';

interface LoadResult {
  /** Logical orders the client saw acknowledged (one per Idempotency-Key). */
  acknowledged: string[];
  /** Attempts that failed (network error or 5xx) and were retried with the same key. */
  failedAttempts: number;
  /** [time, status] of each failed attempt. */
  failures: [number, number][];
  cachedReads5xx: number;
  cachedReads: number;
}

/**
 * `clients` loops placing one order each, every order retried with its Idempotency-Key until
 * acknowledged, for `durationMs`; plus one loop reading already placed orders (cached reads).
 */
async function load(clients: Session[], productIds: string[], durationMs: number): Promise<LoadResult> {
  const result: LoadResult = { acknowledged: [], failedAttempts: 0, failures: [], cachedReads5xx: 0, cachedReads: 0 };
  const stopAt = Date.now() + durationMs;
  const placer = async (client: Session, index: number) => {
    while (Date.now() < stopAt) {
      const key = randomUUID();
      const productId = productIds[(index + result.acknowledged.length) % productIds.length]!;
      const giveUpAt = Date.now() + 60_000;
      for (;;) {
        const res = await client.call('POST', '/api/orders', { items: [{ productId, quantity: 1 }] }, { 'Idempotency-Key': key });
        if (res.status === 201 || res.status === 200) {
          result.acknowledged.push(res.body.id!);
          break;
        }
        if (res.status !== 0 && res.status < 500) throw new Error(`order answered ${res.status}: ${JSON.stringify(res.body)}`);
        result.failedAttempts++;
        result.failures.push([Date.now(), res.status]);
        if (Date.now() > giveUpAt) throw new Error('an order was not acknowledged within 60 s of retries');
        await sleep(200);
      }
    }
  };
  const reader = async () => {
    while (Date.now() < stopAt) {
      const id = result.acknowledged[result.acknowledged.length - 1];
      if (id) {
        const res = await clients[0]!.call('GET', `/api/orders/${id}`);
        result.cachedReads++;
        if (res.status >= 500 || res.status === 0) result.cachedReads5xx++;
      }
      await sleep(50);
    }
  };
  await Promise.all([...clients.map((c, i) => placer(c, i)), reader()]);
  return result;
}

// ---- audit ------------------------------------------------------------------------------

async function withDb<T>(work: (db: pg.Client) => Promise<T>): Promise<T> {
  // Bounded: a statement on a connection the failover left half-open would otherwise wait for haproxy's 60 s timeout.
  const db = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3000, query_timeout: 15_000 });
  db.on('error', () => undefined);
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

const count = async (db: pg.Client, sql: string, params: unknown[] = []) => Number((await db.query<{ n: string }>(sql, params)).rows[0]!.n);

/**
 * Waits until every order is finished and the outbox is drained, then checks the invariants.
 * `customers` are the load's users: every order of theirs must be one they saw acknowledged (an
 * order created twice for one Idempotency-Key, or by an attempt that failed, is one too many).
 */
async function audit(label: string, acknowledged: string[], customers: string[]): Promise<string[]> {
  const problems: string[] = [];
  await waitFor(
    'orders finished and outbox drained',
    () =>
      withDb(async (db) => {
        const open = await count(db, "SELECT count(*) AS n FROM orders WHERE status IN ('pending', 'processing')");
        const unpublished = await count(db, 'SELECT count(*) AS n FROM outbox_events WHERE published_at IS NULL');
        // An email job still in its retry backoff after an outage has claimed no delivery yet, so
        // "no unsent deliveries" is not enough: wait for a sent email per finished order (the
        // invariant checked below), within the deadline, as the retries or the reconciler send it.
        const unsent = await count(db, "SELECT count(*) AS n FROM email_deliveries WHERE status <> 'sent'");
        const unemailed = await count(
          db,
          "SELECT count(*) AS n FROM orders o WHERE o.status IN ('completed', 'failed') AND NOT EXISTS (SELECT 1 FROM email_deliveries e WHERE e.order_id = o.id AND e.status = 'sent')",
        );
        return open === 0 && unpublished === 0 && unsent === 0 && unemailed === 0;
      }),
    150_000,
  ).catch((error: Error) => problems.push(error.message));
  await withDb(async (db) => {
    const missing = await count(db, 'SELECT count(*) AS n FROM unnest($1::uuid[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = a.id)', [acknowledged]);
    if (missing > 0) problems.push(`${missing} acknowledged orders are missing`);
    const unacknowledged = await count(db, 'SELECT count(*) AS n FROM orders WHERE user_id = ANY($1::uuid[]) AND NOT (id = ANY($2::uuid[]))', [customers, acknowledged]);
    if (unacknowledged > 0) problems.push(`${unacknowledged} orders no client saw acknowledged (a retried Idempotency-Key placed twice?)`);
    const oversold = await count(db, 'SELECT count(*) AS n FROM products WHERE reserved > on_hand OR on_hand < 0 OR reserved < 0');
    if (oversold > 0) problems.push(`${oversold} products oversold`);
    const ledger = await count(
      db,
      `SELECT count(*) AS n FROM (
         SELECT p.id, p.on_hand, p.reserved,
           COALESCE(SUM(m.quantity) FILTER (WHERE m.kind IN ('initial', 'adjustment')), 0) - COALESCE(SUM(m.quantity) FILTER (WHERE m.kind = 'sale'), 0) AS ledger_on_hand,
           COALESCE(SUM(m.quantity) FILTER (WHERE m.kind = 'reserve'), 0) - COALESCE(SUM(m.quantity) FILTER (WHERE m.kind IN ('release', 'sale')), 0) AS ledger_reserved
         FROM products p LEFT JOIN stock_movements m ON m.product_id = p.id GROUP BY p.id) s
       WHERE on_hand <> ledger_on_hand OR reserved <> ledger_reserved`,
    );
    if (ledger > 0) problems.push(`${ledger} products where the ledger does not match the stock`);
    // The ledger and the stock columns are written by the same statements, so they can agree and
    // both be wrong: stock must also follow from the orders. Reserved is what open orders hold;
    // on hand is what was stocked less what completed orders sold.
    const unbalanced = await count(
      db,
      `SELECT count(*) AS n FROM products p
       CROSS JOIN LATERAL (
         SELECT COALESCE(SUM(i.quantity) FILTER (WHERE o.status IN ('pending', 'processing')), 0) AS held,
                COALESCE(SUM(i.quantity) FILTER (WHERE o.status = 'completed'), 0) AS sold
         FROM order_items i JOIN orders o ON o.id = i.order_id WHERE i.product_id = p.id) q
       CROSS JOIN LATERAL (
         SELECT COALESCE(SUM(m.quantity), 0) AS stocked FROM stock_movements m WHERE m.product_id = p.id AND m.kind IN ('initial', 'adjustment')) l
       WHERE p.reserved <> q.held OR p.on_hand <> l.stocked - q.sold`,
    );
    if (unbalanced > 0) problems.push(`${unbalanced} products whose stock does not follow from their orders (reserved = open orders, on hand = stocked − completed)`);
    const emails = await count(
      db,
      `SELECT count(*) AS n FROM orders o WHERE o.status IN ('completed', 'failed') AND
         (SELECT count(*) FROM email_deliveries e WHERE e.order_id = o.id AND e.status = 'sent') <> 1`,
    );
    if (emails > 0) problems.push(`${emails} finished orders without exactly one sent email`);
    const sent = (await db.query<{ message_id: string }>("SELECT message_id FROM email_deliveries WHERE status = 'sent'")).rows.map((row) => row.message_id);
    const mailDir = path.join(DIR, 'data', 'mail');
    problems.push(...emailFileProblems(sent, existsSync(mailDir) ? readdirSync(mailDir) : []));
  });
  problems.push(...deadProcesses());
  log(
    `[${label}] audit: ${problems.length === 0 ? 'no order stuck or unacknowledged, no oversell, stock follows the orders and the ledger, one sent email and .eml file per finished order, outbox drained, every process running' : problems.join('; ')}`,
  );
  return problems;
}

/**
 * Processes of the topology that died on their own (a fault's victim is no longer in the PID
 * files): an API that crashed during a failover leaves haproxy the other one, and every other
 * check passes.
 */
function deadProcesses(): string[] {
  return runningNames()
    .filter((name) => !isOwnProcess(pidOf(name)))
    .map((name) => `${name} died; the end of .topology/logs/${name}.log:\n${logTail(name, 10)}`);
}

// ---- CPU per tier -------------------------------------------------------------------------

/** CPU ms used so far by each tier: the processes in our PID files and all their descendants. */
function cpuByTier(): Record<string, number> {
  const procs = new Map<number, { ppid: number; ms: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[1] = ppid, fields[11..12] = utime, stime (clock ticks, 100 per second on Linux)
      procs.set(Number(entry), { ppid: Number(fields[1]), ms: (Number(fields[11]) + Number(fields[12])) * 10 });
    } catch {
      // the process ended meanwhile
    }
  }
  const tiers: Record<string, string[]> = {
    api: ['api1', 'api2'],
    worker: ['worker1', 'worker2'],
    postgres: ['patroni1', 'patroni2'],
    redis: [...readdirSync(path.join(DIR, 'run')).filter((f) => f.startsWith('redis-') || f.startsWith('sentinel-')).map((f) => f.slice(0, -4))],
    haproxy: ['haproxy'],
  };
  const result: Record<string, number> = {};
  for (const [tier, names] of Object.entries(tiers)) {
    const roots = new Set(names.map((n) => pidOf(n)).filter((pid): pid is number => pid !== undefined));
    // Patroni may start PostgreSQL detached from itself: count the postmasters and their backends too.
    if (tier === 'postgres') for (const node of [0, 1]) roots.add(postmasterPid(node) ?? -1);
    let total = 0;
    for (const [pid, info] of procs) {
      for (let p: number | undefined = pid, hops = 0; p && hops < 6; p = procs.get(p)?.ppid, hops++) {
        if (roots.has(p)) {
          total += info.ms;
          break;
        }
      }
    }
    result[tier] = total;
  }
  return result;
}

/** One fault run's clients and everything they were told. */
interface Run {
  variant: Variant;
  admin: Session;
  clients: Session[];
  productIds: string[];
  /** Every order the clients saw acknowledged so far, over all tests. */
  acknowledged: string[];
}

const auditRun = (run: Run, label: string) =>
  audit(
    label,
    run.acknowledged,
    run.clients.map((client) => client.userId),
  );

/**
 * Places orders for a few seconds, waits until they are all processed, and divides each tier's
 * CPU by them: gross, and above what the tier burns idle (Patroni's loop, Cluster gossip, polls),
 * measured just before, which at a few dozen orders a second is most of the gross figure.
 */
async function measureCapacity(run: Run): Promise<Outcome> {
  const { clients, productIds } = run;
  const idleFrom = cpuByTier();
  const idleStarted = Date.now();
  await sleep(5000);
  const before = cpuByTier();
  const idleMs = Date.now() - idleStarted;
  const started = Date.now();
  const result = await load(clients, productIds, 8000);
  run.acknowledged.push(...result.acknowledged);
  const problems = await auditRun(run, 'capacity');
  const after = cpuByTier();
  const elapsedMs = Date.now() - started;
  const orders = Math.max(1, result.acknowledged.length);
  const format = (perOrder: Record<string, number>) => {
    const total = Object.values(perOrder).reduce((sum, ms) => sum + ms, 0);
    return `${Object.entries(perOrder)
      .map(([tier, ms]) => `${tier} ${ms.toFixed(2)}`)
      .join(', ')}; total ${total.toFixed(2)} ms → ${(1000 / total).toFixed(0)} orders/s per fully used core`;
  };
  const tiers = Object.keys(after);
  const gross = Object.fromEntries(tiers.map((tier) => [tier, (after[tier]! - (before[tier] ?? 0)) / orders]));
  const idlePerMs = Object.fromEntries(tiers.map((tier) => [tier, ((before[tier] ?? 0) - (idleFrom[tier] ?? 0)) / idleMs]));
  const aboveIdle = Object.fromEntries(tiers.map((tier) => [tier, Math.max(0, gross[tier]! - (idlePerMs[tier]! * elapsedMs) / orders)]));
  const idleCores = Object.values(idlePerMs).reduce((sum, rate) => sum + rate, 0);
  return {
    name: 'capacity (placed + processed + emailed, Patroni included in postgres)',
    measured: `${result.acknowledged.length} orders in ${(elapsedMs / 1000).toFixed(1)} s; CPU ms per order above idle: ${format(aboveIdle)}; gross: ${format(gross)}; idle: ${(idleCores * 100).toFixed(0)} % of a core`,
    problems,
  };
}

/** What a process logs from now on, read when called. */
function logSince(name: string): () => string {
  const file = path.join(DIR, 'logs', `${name}.log`);
  const offset = existsSync(file) ? statSync(file).size : 0;
  return () => (existsSync(file) ? readFileSync(file).subarray(offset).toString('utf8') : '');
}

// ---- the four tests -----------------------------------------------------------------------

interface Outcome {
  name: string;
  measured: string;
  problems: string[];
}

function windowOf(failures: [number, number][], after: number): number {
  const relevant = failures.filter(([t]) => t >= after);
  if (relevant.length === 0) return 0;
  return relevant[relevant.length - 1]![0] - after;
}

async function completedAfter(ids: string[]): Promise<number | undefined> {
  return withDb(async (db) => {
    const { rows } = await db.query<{ at: Date | null }>(
      `SELECT min((h->>'at')::timestamptz) AS at FROM orders o, jsonb_array_elements(o.history) h
       WHERE o.id = ANY($1::uuid[]) AND h->>'status' IN ('completed', 'failed')`,
      [ids],
    );
    return rows[0]?.at ? rows[0].at.getTime() : undefined;
  });
}

/**
 * Runs one fault test with an admin and a customer following the order events through haproxy,
 * then adds the SSE audit (every event of the test's acknowledged orders once, in order).
 */
async function withEventWatchers(run: Run, test: () => Promise<{ outcome: Outcome; acknowledged: string[] }>): Promise<Outcome> {
  const watchers = await withDb((db) => startWatchers(db, run.admin, run.clients[0]!));
  const { outcome, acknowledged } = await test();
  // Without orders under the fault, every check below holds vacuously.
  if (acknowledged.length === 0) outcome.problems.push('no order was acknowledged during the fault: it proved nothing');
  const sse = await withDb((db) => auditWatchers(db, watchers, acknowledged));
  log(`[${outcome.name.slice(0, 2)}] SSE audit: ${sse.problems.length === 0 ? 'every event of every acknowledged order seen once, in order' : sse.problems.join('; ')}`);
  return { ...outcome, measured: `${outcome.measured}; ${sse.measured}`, problems: [...outcome.problems, ...sse.problems] };
}

/** 1. kill -9 one API under load; then a SIGTERM drain of the other. */
async function apiKill(run: Run): Promise<{ outcome: Outcome; acknowledged: string[] }> {
  const { clients, productIds, variant } = run;
  const running = load(clients, productIds, 8000);
  await sleep(2500);
  const killedAt = Date.now();
  killProcess('api1');
  const result = await running;
  run.acknowledged.push(...result.acknowledged);
  const failedAfterKill = result.failures.filter(([t]) => t >= killedAt).length;
  await startApi(0, variant);
  // Healthy on its own port is not yet in haproxy's pool (rise 2): drained before that, api2 would leave no instance.
  await waitForApisInHaproxy(30_000);
  const drain = load(clients, productIds, 6000);
  await sleep(2000);
  const drainLog = logSince('api2');
  const drainStarted = Date.now();
  await stopProcess('api2', 'SIGTERM', 30_000);
  const drainSeconds = (Date.now() - drainStarted) / 1000;
  const forced = drainLog().includes('shutdown grace period over');
  const drained = await drain;
  run.acknowledged.push(...drained.acknowledged);
  await startApi(1, variant);
  await waitForApisInHaproxy(30_000);
  const problems = await auditRun(run, 'api kill');
  problems.push(...apiKillProblems(result.failures, killedAt, clients.length));
  if (drained.failedAttempts > 0) problems.push(`SIGTERM drain failed ${drained.failedAttempts} requests`);
  if (forced) problems.push('the SIGTERM drain ran out of its grace period (something held the API open)');
  if (new Set(result.acknowledged).size !== result.acknowledged.length) problems.push('duplicate order ids acknowledged');
  return {
    acknowledged: [...result.acknowledged, ...drained.acknowledged],
    outcome: {
      name: '1. kill -9 an API under load',
      measured: `${result.acknowledged.length} orders acknowledged, ${failedAfterKill} in-flight attempts failed (limit ${clients.length}, one a client) and were retried with their Idempotency-Key; SIGTERM drain: ${drained.failedAttempts} failed, exited in ${drainSeconds.toFixed(1)} s`,
      problems,
    },
  };
}

/** The worker that fetches jobs: a standby (WORKER_STANDBY) holds none, and killing it would prove nothing. */
async function activeWorker(): Promise<number> {
  const roles = await Promise.all(
    PORTS.workerMetrics.map(async (port) => {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` }, signal: AbortSignal.timeout(3000) }).catch(
        (error: Error) => error,
      );
      if (res instanceof Error) return `unknown (${res.message})`;
      return res.ok ? (workerRole(await res.text()) ?? 'unknown (no worker_pool_role)') : `unknown (HTTP ${res.status})`;
    }),
  );
  const leader = roles.indexOf('leader');
  if (leader < 0) throw new Error(`no worker reports the leader role (roles: ${roles.join(', ')})`);
  return leader;
}

/** 2. kill -9 the worker that holds jobs. */
async function workerKill(run: Run): Promise<{ outcome: Outcome; acknowledged: string[] }> {
  const running = load(run.clients, run.productIds, 6000);
  await sleep(2000);
  const victim = await activeWorker();
  const placedBefore = await withDb(async (db) => (await db.query<{ id: string }>("SELECT id FROM orders WHERE status IN ('pending', 'processing')")).rows.map((r) => r.id));
  const killedAt = Date.now();
  killProcess(`worker${victim + 1}`);
  const result = await running;
  run.acknowledged.push(...result.acknowledged);
  const resumedAt = await waitFor(
    'orders open at the kill to finish',
    () => withDb(async (db) => (await count(db, "SELECT count(*) AS n FROM orders WHERE id = ANY($1::uuid[]) AND status IN ('pending', 'processing')", [placedBefore])) === 0 && Date.now()),
    60_000,
  ).catch(() => undefined);
  await startWorker(victim, run.variant);
  const problems = await auditRun(run, 'worker kill');
  const seconds = resumedAt ? (resumedAt - killedAt) / 1000 : Infinity;
  if (placedBefore.length === 0) problems.push('no order was open at the kill: it interrupted no work');
  if (seconds > 15) problems.push(`work open at the kill took ${seconds.toFixed(1)} s to finish (limit 15 s)`);
  return {
    acknowledged: [...result.acknowledged],
    outcome: { name: `2. kill -9 the leading worker (worker${victim + 1})`, measured: `work open at the kill finished ${seconds.toFixed(1)} s later (${placedBefore.length} orders)`, problems },
  };
}

/** The queue's master once it is no longer `killed`: the fault took effect only when a replica took over. */
async function waitForQueueFailover(variant: Variant, killed: number): Promise<number | undefined> {
  return waitFor(
    `a replica to take over the queue from :${killed}`,
    async () => {
      const port = await queueMasterPort(variant);
      return port !== killed && port > 0 ? port : undefined;
    },
    30_000,
  ).catch(() => undefined);
}

/** 3. kill -9 the Redis master holding the order queue. */
async function redisMasterKill(run: Run): Promise<{ outcome: Outcome; acknowledged: string[] }> {
  const { variant } = run;
  const port = await queueMasterPort(variant);
  const running = load(run.clients, run.productIds, 10_000);
  await sleep(2000);
  const killedAt = Date.now();
  killProcess(`redis-${port}`);
  const takenOver = waitForQueueFailover(variant, port);
  const result = await running;
  run.acknowledged.push(...result.acknowledged);
  // The first order placed after the kill that finished: processing was paused until then.
  const placedAfter = await withDb(async (db) => (await db.query<{ id: string }>('SELECT id FROM orders WHERE created_at >= $1', [new Date(killedAt)])).rows.map((r) => r.id));
  const firstDone = await waitFor('an order placed after the kill to finish', () => completedAfter(placedAfter), 60_000).catch(() => undefined);
  const pause = firstDone ? (firstDone - killedAt) / 1000 : Infinity;
  const newMaster = await takenOver;
  const problems: string[] = [];
  if (newMaster === undefined) problems.push(`no replica took over the queue from :${port} within 30 s`);
  startRedisNode(port, variant, variant === 'sentinel' ? newMaster : undefined);
  const rejoined = await waitFor(`:${port} to rejoin as a replica in sync`, async () => (await redisInfo(port, 'INFO', 'replication')).includes('master_link_status:up'), 30_000).catch(() => false);
  if (!rejoined) problems.push(`the restarted :${port} did not rejoin as a replica in sync within 30 s`);
  problems.push(...(await auditRun(run, 'redis master kill')));
  const placement5xx = result.failures.filter(([t]) => t >= killedAt).length;
  if (pause > 10) problems.push(`processing paused ${pause.toFixed(1)} s (limit 10 s)`);
  // Placements write to PostgreSQL only (the outbox); Redis failing over must not fail one.
  if (placement5xx > 0) problems.push(`${placement5xx} placement attempts failed`);
  if (result.cachedReads5xx > 0) problems.push(`${result.cachedReads5xx} cached reads answered 5xx`);
  return {
    acknowledged: [...result.acknowledged],
    outcome: {
      name: `3. kill -9 the Redis master holding the queue (${variant}, :${port} → :${newMaster ?? '?'})`,
      measured: `processing paused ${pause.toFixed(1)} s; ${result.acknowledged.length} placements acknowledged meanwhile, ${placement5xx} placement attempts failed; ${result.cachedReads} cached reads, ${result.cachedReads5xx} 5xx`,
      problems,
    },
  };
}

/** 4. kill -9 the PostgreSQL leader (Patroni and postgres). */
async function postgresLeaderKill(run: Run): Promise<{ outcome: Outcome; acknowledged: string[] }> {
  const roles = await Promise.all([patroniRole(0), patroniRole(1)]);
  const leader = roles.indexOf('primary');
  if (leader < 0 || roles[1 - leader] !== 'replica') throw new Error(`no primary with a replica to fail over to (pg1 ${roles[0]}, pg2 ${roles[1]})`);
  const standby = 1 - leader;
  const running = load(run.clients, run.productIds, 25_000);
  await sleep(2000);
  const killedAt = Date.now();
  killPostgresNode(leader);
  const promoted = waitFor(`pg${standby + 1} to become the primary`, async () => (await patroniRole(standby)) === 'primary' && Date.now(), 30_000).catch(() => undefined);
  const result = await running;
  run.acknowledged.push(...result.acknowledged);
  const promotedAt = await promoted;
  const outage = windowOf(result.failures, killedAt) / 1000;
  const statuses = [...new Set(result.failures.map(([, s]) => s))].join(', ');
  const problems = await auditRun(run, 'postgres leader kill');
  if (promotedAt === undefined) problems.push(`pg${standby + 1} did not become the primary within 30 s of the kill`);
  if (outage > 15) problems.push(`write outage ${outage.toFixed(1)} s (limit 15 s)`);
  startPatroni(leader);
  // A node that does not come back leaves the cluster without a standby: the next failover would
  // have nowhere to go, so the check fails, as a Redis node that does not rejoin fails it.
  const rejoined = await waitFor(`pg${leader + 1} to rejoin`, async () => (await patroniRole(leader)) === 'replica', 60_000).catch(() => false);
  if (!rejoined) problems.push(`the restarted pg${leader + 1} did not rejoin as a replica within 60 s`);
  return {
    acknowledged: [...result.acknowledged],
    outcome: {
      name: `4. kill -9 the PostgreSQL leader (pg${leader + 1})`,
      measured: `pg${standby + 1} primary ${promotedAt ? ((promotedAt - killedAt) / 1000).toFixed(1) : '?'} s after the kill; placements failed for ${outage.toFixed(1)} s (statuses ${statuses || 'none'}), then recovered by themselves; ${result.acknowledged.length} acknowledged, all present after failover`,
      problems,
    },
  };
}

function runComponentTests(): Outcome {
  log('component tests: Redis Cluster and Sentinel started by the test (vitest.topology.config.ts)');
  try {
    execFileSync('npx', ['vitest', 'run', '--config', 'vitest.topology.config.ts'], { cwd: ROOT, stdio: 'inherit', timeout: 15 * 60_000 });
    return { name: 'redis modes (component)', measured: 'see [redis …] lines above', problems: [] };
  } catch (error) {
    return { name: 'redis modes (component)', measured: '-', problems: [`vitest.topology.config.ts failed (${(error as Error).message.split('\n')[0]})`] };
  }
}

async function prepareRun(variant: Variant): Promise<Run> {
  // The component tests may have kept the machine busy; wait until the API answers again.
  await waitFor('the API through haproxy', async () => (await call('GET', '/health/ready', undefined)).status === 200, 60_000);
  await waitForApisInHaproxy(60_000);
  const admin = await waitFor('the admin login', () => Session.login(ADMIN.email, ADMIN.password), 60_000);
  const productIds: string[] = [];
  for (let i = 0; i < 4; i++) {
    const res = await admin.call('POST', '/api/products', { sku: `TOPO-${randomUUID().slice(0, 8)}`, name: `Topology ${i}`, priceCents: 500, stock: 5000 });
    if (res.status !== 201) throw new Error(`product create failed: ${res.status} ${JSON.stringify(res.body)}`);
    productIds.push(res.body.id!);
  }
  const clients = await Promise.all([Session.register(), Session.register(), Session.register(), Session.register()]);
  return { variant, admin, clients, productIds, acknowledged: [] };
}

export async function runFaultTests(variant: Variant, options: { components: boolean }): Promise<boolean> {
  const started = Date.now();
  const outcomes: Outcome[] = [];
  if (options.components) outcomes.push(runComponentTests());
  const run = await prepareRun(variant);
  outcomes.push(await measureCapacity(run));
  for (const test of [apiKill, workerKill, redisMasterKill, postgresLeaderKill]) outcomes.push(await withEventWatchers(run, () => test(run)));

  log('');
  log(`fault tests (${variant}) in ${((Date.now() - started) / 1000).toFixed(0)} s; sessions signed in again after their token ran out: ${Session.renewals}×`);
  for (const outcome of outcomes) log(`${outcome.problems.length === 0 ? 'PASS' : 'FAIL'} ${outcome.name}: ${outcome.measured}${outcome.problems.length ? ` — ${outcome.problems.join('; ')}` : ''}`);
  const failed = outcomes.filter((o) => o.problems.length > 0);
  log(failed.length === 0 ? `all ${outcomes.length} checks passed` : `FAILED: ${failed.map((o) => o.name).join('; ')}`);
  return failed.length === 0;
}
