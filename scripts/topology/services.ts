/**
 * The multi-node topology on loopback (README, Deployment): etcd, Patroni × 2 (PostgreSQL 15,
 * synchronous replication), haproxy, a Redis Cluster 3 + 3 (or Sentinel with `--sentinel`),
 * 2 API instances and 2 workers. Every process runs in the foreground under a PID file in
 * .topology/run with its log in .topology/logs, so `down` can stop exactly what `up` started.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { PG_BIN, postgresUser } from '../local-postgres.js';
import { runServiceCommand } from '../run-service.js';
import { serverStates, type Variant } from './checks.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DIR = path.join(ROOT, '.topology');
const RUN = path.join(DIR, 'run');
const LOGS = path.join(DIR, 'logs');
/**
 * The PostgreSQL nodes' folders. Patroni and postgres run as the `postgres` user, which cannot
 * reach into a checkout under a private folder (`mktemp -d` makes 0700 ones, as a CI's clean
 * clone may be), so they live under the system's temp folder, named after this checkout.
 */
const PG_BASE = path.join(tmpdir(), `ops-topology-${createHash('sha256').update(DIR).digest('hex').slice(0, 12)}`);
const pgDir = (node: number) => path.join(PG_BASE, `pg${node + 1}`);

export const PORTS = {
  etcd: 17379,
  etcdPeer: 17380,
  pg: [17432, 17433],
  patroni: [17008, 17009],
  haproxyPg: 17500,
  haproxyApi: 17080,
  haproxyStats: 17404,
  api: [17081, 17082],
  workerMetrics: [17091, 17092],
  redisCluster: [17001, 17002, 17003, 17004, 17005, 17006],
  redisSentinelData: [17101, 17102],
  sentinels: [17111, 17112, 17113],
};

export const ADMIN = { email: 'topology-admin@example.com', password: 'topology-admin-password' };
export const DATABASE_URL = `postgres://postgres:topology-pg@127.0.0.1:${PORTS.haproxyPg}/ops`;
const JWT_SECRET = 'topology-only-secret-0123456789-abcdefghijklmnop';
/** Production hides /metrics without a token; the worker kill reads each worker's pool role there. */
export const METRICS_TOKEN = 'topology-metrics-token';
export const API_URL = `http://127.0.0.1:${PORTS.haproxyApi}`;

export type { Variant } from './checks.js';

export const log = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`);
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it gives a value; a throwing check counts as "not yet" unless `rethrow`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  options: { rethrow?: boolean } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve(check()).catch((error: unknown) => {
      if (options.rethrow) throw error;
      return undefined;
    });
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

// ---- processes -------------------------------------------------------------------------

const pidFile = (name: string) => path.join(RUN, `${name}.pid`);

export function pidOf(name: string): number | undefined {
  if (!existsSync(pidFile(name))) return undefined;
  const pid = Number(readFileSync(pidFile(name), 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Running, not a zombie: an orphan of a crashed run may never be reaped where PID 1 does not reap. */
export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Set once the CLI tears the topology down on a signal: a start still under way must not leave a new process behind. */
let refusingStarts = false;

export function refuseNewProcesses(): void {
  refusingStarts = true;
}

/**
 * Whether `pid` is a live process of this topology: a PID file or postmaster.pid left by a
 * crashed run may name a PID the system has since given to an unrelated process. Ours carry the
 * marker in their environment, except where a process title overwrote it (redis-server and
 * postgres reuse that memory for it): those run in a folder of this topology.
 */
export function isOwnProcess(pid: number | undefined): boolean {
  if (!isAlive(pid)) return false;
  try {
    if (`${readFileSync(`/proc/${pid}/environ`, 'latin1')}\0`.includes(`${MARKER}=${DIR}\0`)) return true;
    const cwd = readlinkSync(`/proc/${pid}/cwd`);
    return [PG_BASE, path.join(DIR, 'redis')].some((dir) => cwd === dir || cwd.startsWith(`${dir}/`));
  } catch {
    // gone meanwhile, or not ours to read
    return false;
  }
}

/** Signals a process of this topology; false when it is not one (any more). */
export function signalOwn(pid: number | undefined, signal: NodeJS.Signals): boolean {
  if (!isOwnProcess(pid)) return false;
  try {
    process.kill(pid!, signal);
    return true;
  } catch (error) {
    // It exited between the check and the signal.
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

interface StartOptions {
  env?: Record<string, string>;
  /** Run as this user (PostgreSQL refuses to run as root). */
  user?: { uid: number; gid: number };
  cwd?: string;
}

export function startProcess(name: string, command: string, args: string[], options: StartOptions = {}): number {
  if (refusingStarts) throw new Error(`not starting ${name}: the topology is being torn down`);
  if (isOwnProcess(pidOf(name))) throw new Error(`${name} is already running (pid ${pidOf(name)})`);
  const out = openSync(path.join(LOGS, `${name}.log`), 'a');
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    // The marker is inherited by everything the process starts (Patroni's postgres too), so
    // `down` finds leftovers of a crashed run that no PID file names any more.
    env: { ...process.env, ...options.env, [MARKER]: DIR },
    stdio: ['ignore', out, out],
    detached: true,
    ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
  });
  closeSync(out);
  // A binary that cannot be started emits 'error' after spawn returns; unheard, it would end the CLI before its teardown.
  child.on('error', (error) => log(`${name}: ${error.message}`));
  child.unref();
  if (!child.pid) throw new Error(`could not start ${name}`);
  writeFileSync(pidFile(name), String(child.pid));
  return child.pid;
}

/** Signals a process by its PID file; waits until it is gone (SIGKILL after `graceMs`). */
export async function stopProcess(name: string, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  const pid = pidOf(name);
  if (signalOwn(pid, signal)) {
    const deadline = Date.now() + graceMs;
    while (isAlive(pid) && Date.now() < deadline) await sleep(100);
    signalOwn(pid, 'SIGKILL');
    await waitFor(`${name} (pid ${pid}) to exit after SIGKILL`, () => !isAlive(pid), 10_000);
  }
  rmSync(pidFile(name), { force: true });
}

const MARKER = 'OPS_TOPOLOGY_DIR';

/** A fault: kill -9 of a process by its PID file; throws when it is not running, as the fault would then inject nothing. */
export function killProcess(name: string): void {
  if (!signalOwn(pidOf(name), 'SIGKILL')) throw new Error(`${name} is not running: its kill -9 would inject nothing`);
  rmSync(pidFile(name), { force: true });
}

/** Every live process of this topology (see isOwnProcess), whether or not a PID file names it. */
function markedProcesses(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
    .map(Number)
    .filter(isOwnProcess);
}

/** SIGKILLs whatever a previous run left behind (its PID files may be gone) and waits until it is gone. */
async function killLeftovers(): Promise<void> {
  const pids = markedProcesses();
  if (pids.length === 0) return;
  log(`killing ${pids.length} leftover topology processes: ${pids.join(' ')}`);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await waitFor('leftover processes to exit', () => pids.every((pid) => !isAlive(pid)), 10_000);
}

/** Names the ports of the topology that something else already listens on. */
function busyPorts(): number[] {
  // A Cluster node also listens on its port + 10000 (the cluster bus).
  const wanted = new Set([...Object.values(PORTS).flat(), ...PORTS.redisCluster.map((port) => port + 10_000)]);
  const busy = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // st 0A = LISTEN
      if (fields[3] !== '0A') continue;
      const port = parseInt(fields[1]?.split(':')[1] ?? '', 16);
      if (wanted.has(port)) busy.add(port);
    }
  }
  return [...busy].sort();
}

export function runningNames(): string[] {
  if (!existsSync(RUN)) return [];
  return readdirSync(RUN)
    .filter((file) => file.endsWith('.pid'))
    .map((file) => file.slice(0, -4));
}

// ---- packages ---------------------------------------------------------------------------

const has = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

/** Installs the Debian packages the topology needs when a binary is missing. */
export function ensurePackages(variant: Variant): void {
  const wanted: [string, string][] = [
    ['etcd', 'etcd-server'],
    ['patroni', 'patroni'],
    ['haproxy', 'haproxy'],
    ['redis-server', 'redis-server'],
    ['redis-cli', 'redis-tools'],
  ];
  if (variant === 'sentinel') wanted.push(['redis-sentinel', 'redis-sentinel']);
  const missing = wanted.filter(([binary]) => !has(binary) && !existsSync(`/usr/sbin/${binary}`)).map(([, pkg]) => pkg);
  if (!existsSync(path.join(PG_BIN, 'postgres'))) missing.push('postgresql-15');
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`missing Debian packages: ${missing.join(' ')}; install them (sudo apt-get install ${missing.join(' ')}) or run as root`);
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Debian starts etcd, Patroni and haproxy as system services on install; the topology runs its
  // own, so a policy-rc.d (as in container images) keeps the packaged ones from starting.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold', ...missing], {
      stdio: 'inherit',
      env,
    });
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
}

// ---- etcd + Patroni ---------------------------------------------------------------------

async function httpStatus(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1500) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

export async function patroniRole(node: number): Promise<'primary' | 'replica' | 'down'> {
  if ((await httpStatus(`http://127.0.0.1:${PORTS.patroni[node]}/primary`)) === 200) return 'primary';
  if ((await httpStatus(`http://127.0.0.1:${PORTS.patroni[node]}/replica`)) === 200) return 'replica';
  return 'down';
}

function patroniConfig(node: number): string {
  const dir = pgDir(node);
  return `scope: ops-topology
name: pg${node + 1}
restapi:
  listen: 127.0.0.1:${PORTS.patroni[node]}
  connect_address: 127.0.0.1:${PORTS.patroni[node]}
etcd:
  host: 127.0.0.1:${PORTS.etcd}
bootstrap:
  dcs:
    # A dead leader's key expires after ttl; loop_wait + 2 × retry_timeout must stay <= ttl.
    ttl: 8
    loop_wait: 1
    retry_timeout: 3
    maximum_lag_on_failover: 1048576
    # Commits wait for the standby, so a failover never loses an acknowledged order.
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      parameters:
        max_connections: 100
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        max_wal_senders: 10
        max_replication_slots: 10
  initdb:
    - encoding: UTF8
    - locale: C
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:${PORTS.pg[node]}
  connect_address: 127.0.0.1:${PORTS.pg[node]}
  data_dir: ${path.join(dir, 'data')}
  bin_dir: ${PG_BIN}
  pgpass: ${path.join(dir, 'pgpass')}
  authentication:
    replication:
      username: replicator
      password: topology-rep
    superuser:
      username: postgres
      password: topology-pg
  parameters:
    unix_socket_directories: '${dir}'
`;
}

export function startPatroni(node: number): void {
  const dir = pgDir(node);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const user = postgresUser();
  if (user) chownSync(dir, user.uid, user.gid);
  const file = path.join(dir, 'patroni.yml');
  writeFileSync(file, patroniConfig(node));
  if (user) chownSync(file, user.uid, user.gid);
  startProcess(`patroni${node + 1}`, 'patroni', [file], { user, cwd: dir });
}

export function postmasterPid(node: number): number | undefined {
  const file = path.join(pgDir(node), 'data', 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Node death: kill -9 of Patroni and of its PostgreSQL postmaster. */
export function killPostgresNode(node: number): void {
  const pgPid = postmasterPid(node);
  const patroniPid = pidOf(`patroni${node + 1}`);
  if (!signalOwn(patroniPid, 'SIGKILL')) throw new Error(`Patroni pg${node + 1} is not running: the leader kill would inject nothing`);
  if (!signalOwn(pgPid, 'SIGKILL')) throw new Error(`the postmaster of pg${node + 1} is not running: the leader kill would inject nothing`);
  rmSync(pidFile(`patroni${node + 1}`), { force: true });
}

async function stopPostgresNode(node: number): Promise<void> {
  await stopProcess(`patroni${node + 1}`, 'SIGTERM', 20_000);
  const pgPid = postmasterPid(node);
  if (signalOwn(pgPid, 'SIGQUIT')) {
    await waitFor('postgres to stop', () => !isAlive(pgPid), 10_000).catch(() => signalOwn(pgPid, 'SIGKILL'));
  }
}

// ---- Redis ------------------------------------------------------------------------------

export async function redisInfo(port: number, ...command: string[]): Promise<string> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000, commandTimeout: 2000 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return String(await redis.call(command[0]!, ...command.slice(1)));
  } catch {
    return '';
  } finally {
    redis.disconnect();
  }
}

export function startRedisNode(port: number, variant: Variant, replicaOf?: number): void {
  const dir = path.join(DIR, 'redis', String(port));
  mkdirSync(dir, { recursive: true });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
  args.push('--maxmemory-policy', 'noeviction', '--repl-diskless-sync-delay', '0');
  if (variant === 'cluster') args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000');
  if (replicaOf) args.push('--replicaof', '127.0.0.1', String(replicaOf));
  startProcess(`redis-${port}`, 'redis-server', args);
}

async function startRedis(variant: Variant): Promise<void> {
  if (variant === 'cluster') {
    for (const port of PORTS.redisCluster) startRedisNode(port, variant);
    const nodes = PORTS.redisCluster.map((port) => `redis-${port}`);
    await waitWhileRunning(nodes, 'redis nodes', async () => (await Promise.all(PORTS.redisCluster.map((p) => redisInfo(p, 'PING')))).every((r) => r === 'PONG'), 15_000);
    const fresh = (await redisInfo(PORTS.redisCluster[0]!, 'CLUSTER', 'INFO')).includes('cluster_known_nodes:1');
    if (fresh) {
      // Bounded: redis-cli waits for the nodes to agree, for ever if one never answers.
      execFileSync('redis-cli', ['--cluster', 'create', ...PORTS.redisCluster.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 60_000,
      });
    }
    await waitWhileRunning(nodes, 'cluster_state:ok', async () => (await Promise.all(PORTS.redisCluster.map((p) => redisInfo(p, 'CLUSTER', 'INFO')))).every((t) => t.includes('cluster_state:ok')), 30_000);
    await waitWhileRunning(
      nodes,
      'Redis replicas in sync',
      async () => (await Promise.all(PORTS.redisCluster.map((p) => redisInfo(p, 'INFO', 'replication')))).every((t) => t.includes('role:master') || t.includes('master_link_status:up')),
      30_000,
    );
    return;
  }
  const [primary, replica] = PORTS.redisSentinelData as [number, number];
  startRedisNode(primary, variant);
  startRedisNode(replica, variant, primary);
  await waitWhileRunning([`redis-${primary}`, `redis-${replica}`], 'Redis replica in sync', async () => (await redisInfo(replica, 'INFO', 'replication')).includes('master_link_status:up'), 20_000);
  for (const port of PORTS.sentinels) {
    const file = path.join(DIR, 'redis', `sentinel-${port}.conf`);
    writeFileSync(
      file,
      [`port ${port}`, 'bind 127.0.0.1', `sentinel monitor ops 127.0.0.1 ${primary} 2`, 'sentinel down-after-milliseconds ops 2000', 'sentinel failover-timeout ops 10000', ''].join('\n'),
    );
    // In the Redis folder: its process title hides the marker, and the folder tells it as ours.
    startProcess(`sentinel-${port}`, 'redis-server', [file, '--sentinel'], { cwd: path.join(DIR, 'redis') });
  }
  await waitWhileRunning(PORTS.sentinels.map((port) => `sentinel-${port}`), 'Sentinels to see each other', async () => (await redisInfo(PORTS.sentinels[0]!, 'INFO', 'sentinel')).includes('sentinels=3'), 30_000);
}

/** Port of the Redis master that holds the order queue's hash slot. */
export async function queueMasterPort(variant: Variant): Promise<number> {
  if (variant === 'sentinel') {
    const reply = await redisInfo(PORTS.sentinels[0]!, 'SENTINEL', 'get-master-addr-by-name', 'ops');
    return Number(reply.split(',')[1]);
  }
  for (const port of PORTS.redisCluster) {
    const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000, commandTimeout: 2000 });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      const slot = (await probe.cluster('KEYSLOT', '{ops:bull}:orders:wait'));
      const ranges = (await probe.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
      const owner = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (owner) return owner[2][1];
    } catch {
      // try the next node
    } finally {
      probe.disconnect();
    }
  }
  throw new Error('no Redis node knows the queue slot');
}

// ---- haproxy ----------------------------------------------------------------------------

function haproxyConfig(): string {
  return `global
  maxconn 4000

defaults
  timeout connect 2s
  # SSE keep-alives (15 s) must stay shorter than these: timeout tunnel does not apply to SSE.
  timeout client 60s
  timeout server 60s
  timeout check 1s
  retries 3
  option redispatch

listen stats
  mode http
  bind 127.0.0.1:${PORTS.haproxyStats}
  stats enable
  stats uri /
  stats refresh 2s

# Writes go to whichever node Patroni's REST API calls the primary; sessions to a node that
# stops being primary are cut, so the pool reconnects to the new one.
listen postgres
  mode tcp
  bind 127.0.0.1:${PORTS.haproxyPg}
  option httpchk GET /primary
  http-check expect status 200
  default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
${PORTS.pg.map((port, i) => `  server pg${i + 1} 127.0.0.1:${port} maxconn 90 check port ${PORTS.patroni[i]}`).join('\n')}

# Membership by /health/live, not /health/ready: readiness fails on every instance at once while
# a dependency they share (Redis, PostgreSQL) fails over, and haproxy would then answer 503 for
# everything, although placements go on without Redis and the API's own 503 has a Retry-After.
listen api
  mode http
  bind 127.0.0.1:${PORTS.haproxyApi}
  balance roundrobin
  option httpchk GET /health/live
  http-check expect status 200
  default-server inter 1s fall 2 rise 2
${PORTS.api.map((port, i) => `  server api${i + 1} 127.0.0.1:${port} check`).join('\n')}
`;
}

/** The state haproxy's checks give each API instance (`UP`, `DOWN`, `UP 1/2`…), from its stats page. */
export async function haproxyApiStates(): Promise<Record<string, string>> {
  try {
    const res = await fetch(`http://127.0.0.1:${PORTS.haproxyStats}/;csv`, { signal: AbortSignal.timeout(1500) });
    return serverStates(await res.text(), 'api');
  } catch {
    return {};
  }
}

/**
 * Waits until haproxy's checks have every API instance in its pool: an instance healthy on its
 * own port joins only after `rise 2` checks, and a fault that starts before that finds one fewer.
 */
export async function waitForApisInHaproxy(timeoutMs: number): Promise<void> {
  const names = PORTS.api.map((_, i) => `api${i + 1}`);
  await waitWhileRunning(['haproxy', ...names], 'haproxy to have every API instance up', async () => {
    const states = await haproxyApiStates();
    return names.every((name) => states[name] === 'UP');
  }, timeoutMs);
}

// ---- API and workers --------------------------------------------------------------------

function appEnv(variant: Variant): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    DATABASE_URL,
    DATABASE_POOL_MAX: '10',
    DATA_DIR: path.join(DIR, 'data'),
    JWT_SECRET,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    // Short-lived access tokens, so every fault run outlives a few: its clients sign in again on
    // a 401 and its event streams end with their token and resume (15 minutes by default).
    ACCESS_TOKEN_TTL_SECONDS: '45',
    REDIS_PREFIX: 'ops',
    // Production refuses to start without a mail transport; the audit counts the .eml files.
    MAIL_TRANSPORT: 'file',
    ...(variant === 'cluster'
      ? { REDIS_CLUSTER_NODES: PORTS.redisCluster.slice(0, 3).map((p) => `127.0.0.1:${p}`).join(',') }
      : { REDIS_SENTINELS: PORTS.sentinels.map((p) => `127.0.0.1:${p}`).join(','), REDIS_SENTINEL_NAME: 'ops' }),
    ORDER_RATE_LIMIT_PER_MINUTE: '100000',
    LOGIN_MAX_FAILURES_PER_IP: '100000',
    PAYMENT_SIMULATOR_LATENCY_MS: '100',
    WORKER_CONCURRENCY: '5',
    WORKER_LOCK_DURATION_MS: '5000',
    RECONCILE_AFTER_SECONDS: '30',
    // An email claimed by a killed worker is sendable by another after this lease (default 60 s).
    EMAIL_CLAIM_LEASE_SECONDS: '10',
    // Emails whose retries ran out during a database failover are re-enqueued within ~40 s.
    RECONCILE_INTERVAL_MS: '5000',
    TRUST_PROXY: 'loopback',
    METRICS_TOKEN,
    // On SIGTERM an API serves on until haproxy's check (inter 1s, fall 2: ~2 s) has taken it
    // out, with room for checks slowed by a loaded machine.
    SHUTDOWN_DELAY_MS: '4000',
  };
}

/** The last lines of a process's log, to say why it stopped. */
export function logTail(name: string, lines = 15): string {
  const file = path.join(LOGS, `${name}.log`);
  return existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '(no log)';
}

/**
 * Waits for `check` while the processes `names` run: stops at once, with the end of its log, when
 * one of them exits instead, and names their logs' ends when the deadline passes.
 */
export async function waitWhileRunning(names: string[], what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const pids = names.map((name) => [name, pidOf(name)] as const);
  const tails = () => names.map((name) => `the end of ${path.join(LOGS, `${name}.log`)}:\n${logTail(name)}`).join('\n');
  await waitFor(
    what,
    async () => {
      const dead = pids.find(([, pid]) => !isAlive(pid));
      if (dead) throw new Error(`${dead[0]} exited while waiting for ${what}; the end of ${path.join(LOGS, `${dead[0]}.log`)}:\n${logTail(dead[0])}`);
      return check().catch(() => false);
    },
    timeoutMs,
    { rethrow: true },
  ).catch((error: Error) => {
    throw error.message.startsWith('timed out') ? new Error(`${error.message}\n${tails()}`) : error;
  });
}

/** Waits for `url` to answer 200; stops at once, with the log's tail, if the process exits instead. */
async function waitForHealthy(name: string, url: string, timeoutMs: number): Promise<void> {
  await waitWhileRunning([name], `${name} (${url})`, async () => (await httpStatus(url)) === 200, timeoutMs);
}

/**
 * Starts an API as an operator does: through `bin/run-service` (what `npm start` runs), which
 * `exec`s Node, so the PID file names the API itself.
 */
export async function startApi(index: number, variant: Variant): Promise<void> {
  const launch = runServiceCommand([path.join(ROOT, 'dist/server.js')]);
  startProcess(`api${index + 1}`, launch.command, launch.args, { env: { ...appEnv(variant), PORT: String(PORTS.api[index]), PATH: launch.PATH } });
  await waitForHealthy(`api${index + 1}`, `http://127.0.0.1:${PORTS.api[index]}/health/ready`, 60_000);
}

export async function startWorker(index: number, variant: Variant): Promise<void> {
  const launch = runServiceCommand([path.join(ROOT, 'dist/worker.js')]);
  startProcess(`worker${index + 1}`, launch.command, launch.args, {
    env: { ...appEnv(variant), WORKER_METRICS_PORT: String(PORTS.workerMetrics[index]), PATH: launch.PATH },
  });
  await waitForHealthy(`worker${index + 1}`, `http://127.0.0.1:${PORTS.workerMetrics[index]}/health/live`, 60_000);
}

// ---- up / down / status -----------------------------------------------------------------

export function currentVariant(): Variant | undefined {
  const file = path.join(DIR, 'variant');
  return existsSync(file) ? (readFileSync(file, 'utf8').trim() as Variant) : undefined;
}

/** Every process of a finished `up` is running. */
export function isUp(): boolean {
  const names = runningNames();
  return currentVariant() !== undefined && ['api1', 'api2', 'worker1', 'worker2', 'haproxy', 'etcd', 'patroni1', 'patroni2'].every((name) => names.includes(name)) && names.every((name) => isOwnProcess(pidOf(name)));
}

export async function up(variant: Variant): Promise<void> {
  if (runningNames().some((name) => isOwnProcess(pidOf(name)))) throw new Error('the topology is already (partly) up; run `npm run topology -- down` first');
  const started = Date.now();
  await killLeftovers();
  const busy = busyPorts();
  if (busy.length > 0) throw new Error(`ports ${busy.join(', ')} are taken by processes this topology did not start; stop them first`);
  ensurePackages(variant);
  rmSync(DIR, { recursive: true, force: true });
  rmSync(PG_BASE, { recursive: true, force: true });
  for (const dir of [DIR, RUN, LOGS, path.join(DIR, 'data')]) mkdirSync(dir, { recursive: true });
  mkdirSync(PG_BASE, { mode: 0o755 });
  writeFileSync(path.join(DIR, 'variant'), variant);
  log('building the service (npm run build)');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });

  log(`etcd on ${PORTS.etcd}`);
  startProcess('etcd', 'etcd', [
    '--name=topology',
    `--data-dir=${path.join(DIR, 'etcd')}`,
    `--listen-client-urls=http://127.0.0.1:${PORTS.etcd}`,
    `--advertise-client-urls=http://127.0.0.1:${PORTS.etcd}`,
    `--listen-peer-urls=http://127.0.0.1:${PORTS.etcdPeer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${PORTS.etcdPeer}`,
    `--initial-cluster=topology=http://127.0.0.1:${PORTS.etcdPeer}`,
    '--enable-v2=true',
  ]);
  await waitForHealthy('etcd', `http://127.0.0.1:${PORTS.etcd}/version`, 20_000);

  log('Patroni pg1 (bootstraps the primary)');
  startPatroni(0);
  await waitWhileRunning(['etcd', 'patroni1'], 'pg1 primary', async () => (await patroniRole(0)) === 'primary', 90_000);
  log('Patroni pg2 (synchronous standby)');
  startPatroni(1);
  await waitWhileRunning(['etcd', 'patroni1', 'patroni2'], 'pg2 replica', async () => (await patroniRole(1)) === 'replica', 90_000);
  await waitWhileRunning(['etcd', 'patroni1', 'patroni2'], 'pg2 synchronous', async () => (await httpStatus(`http://127.0.0.1:${PORTS.patroni[1]}/sync`)) === 200, 30_000);

  log(`Redis (${variant})`);
  await startRedis(variant);

  log('haproxy');
  const haproxyFile = path.join(DIR, 'haproxy.cfg');
  writeFileSync(haproxyFile, haproxyConfig());
  startProcess('haproxy', 'haproxy', ['-f', haproxyFile, '-db']);
  const admin = `postgres://postgres:topology-pg@127.0.0.1:${PORTS.haproxyPg}/postgres`;
  await waitWhileRunning(['haproxy', 'patroni1', 'patroni2'], 'PostgreSQL through haproxy', async () => {
    const client = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 1000, query_timeout: 10_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = 'ops'");
      if (exists.rowCount === 0) await client.query('CREATE DATABASE ops');
      return true;
    } finally {
      await client.end().catch(() => undefined);
    }
  }, 30_000);

  log('API × 2, worker × 2');
  await startApi(0, variant);
  await startApi(1, variant);
  await startWorker(0, variant);
  await startWorker(1, variant);
  await waitForApisInHaproxy(20_000);
  log(`topology up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await status();
}

export async function down(): Promise<void> {
  // Clients first, then the data tier, so nothing logs a storm of reconnects for long.
  const order = ['api1', 'api2', 'worker1', 'worker2', 'haproxy'];
  for (const name of order) await stopProcess(name, 'SIGTERM', 15_000);
  for (const name of runningNames().filter((n) => n.startsWith('redis-') || n.startsWith('sentinel-'))) await stopProcess(name, 'SIGKILL');
  await stopPostgresNode(0);
  await stopPostgresNode(1);
  for (const name of runningNames()) await stopProcess(name, 'SIGTERM', 10_000);
  await killLeftovers();
  // Keep the logs for inspection; the data goes.
  if (existsSync(DIR)) {
    for (const entry of readdirSync(DIR)) if (entry !== 'logs') rmSync(path.join(DIR, entry), { recursive: true, force: true });
    rmSync(PG_BASE, { recursive: true, force: true });
  }
  log('topology down (logs kept in .topology/logs)');
}

export async function status(): Promise<void> {
  const names = runningNames();
  if (names.length === 0) {
    log('topology is down');
    return;
  }
  for (const name of names.sort()) log(`${name.padEnd(16)} pid ${String(pidOf(name)).padEnd(8)} ${isOwnProcess(pidOf(name)) ? 'running' : 'DEAD'}`);
  for (const node of [0, 1]) log(`pg${node + 1} (patroni :${PORTS.patroni[node]}, postgres :${PORTS.pg[node]}): ${await patroniRole(node)}`);
  const variant = currentVariant();
  if (variant === 'cluster') log(`redis cluster: ${(await redisInfo(PORTS.redisCluster[0]!, 'CLUSTER', 'INFO')).match(/cluster_state:\w+/)?.[0] ?? 'unreachable'}`);
  if (variant === 'sentinel') log(`redis primary (per Sentinel): ${await queueMasterPort('sentinel').catch(() => 'unknown')}`);
  log(`API ${API_URL}  PostgreSQL primary 127.0.0.1:${PORTS.haproxyPg}  haproxy stats http://127.0.0.1:${PORTS.haproxyStats}/`);
}
