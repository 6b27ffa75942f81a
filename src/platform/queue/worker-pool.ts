import { cpus } from 'node:os';
import type { Logger } from '../logger.js';
import { errorFields } from '../logger.js';
import { whenReady, type RedisClient } from '../redis.js';
import { DEFAULT_POOL_LIMITS, nextPoolState, STANDBY, type PoolLimits, type PoolRole, type PoolState, type WorkerLoad } from './worker-pool-rules.js';

/** What a worker measured over its last tick. */
export interface PoolSample extends WorkerLoad {
  /** Idle cores on its host. */
  hostIdle: number;
}

export interface WorkerPoolOptions {
  redis: RedisClient;
  /** The pool's Redis keys start with this (one pool per queue); it carries a hash tag, so they share a slot on a Cluster. */
  keyPrefix: string;
  /** This worker's name in the pool (unique per process). */
  id: string;
  /** Starts fetching jobs. */
  activate(): void;
  /** Stops fetching jobs; resolves once the jobs in hand are done. */
  deactivate(): Promise<void>;
  /** Jobs waiting for a worker (asked by a standby only). */
  waiting(): Promise<number>;
  /** Measures the tick that just ended (`startSampler` in production; tests pass their own figures). */
  sample(): PoolSample;
  logger: Logger;
  onRole?(role: PoolRole): void;
  limits?: Partial<PoolLimits>;
  /** Every how often the worker measures and decides (default 1 s); the lease lasts three ticks. */
  tickMs?: number;
  /** Tick on a timer (default); tests turn it off and call `tick()` themselves. */
  timer?: boolean;
}

export interface WorkerPool {
  role(): PoolRole;
  /** One tick now (tests; the timer runs them every `tickMs`). */
  tick(): Promise<void>;
  /** Stops ticking, gives up the lease and the load entry so a standby takes over at once. */
  stop(): Promise<void>;
}

/** The lease, and a load entry, count for this many ticks: a worker that stopped ticking is gone after them. */
const LEASE_TICKS = 3;

/** Redis's clock in ms, and whether a load entry (`cpu slots at`) is fresh: both scripts judge by the same rule. */
const FRESHNESS_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function fresh(entry, window)
  local at = tonumber(string.match(entry, '(%d+)$'))
  return at ~= nil and now - at <= window
end
`;

/**
 * One round trip a tick (ARGV: id, window ms, active 0/1, cpu, slots): take or renew the lease, write this worker's load (active workers,
 * and one that takes the lease now), and read the fresh loads of every active worker. Redis's
 * own clock judges freshness, so the hosts' clocks need not agree.
 */
const TICK_SCRIPT = `${FRESHNESS_LUA}
local lead = redis.call('GET', KEYS[1])
local holds = 0
if lead == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  holds = 1
elseif not lead then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  holds = 1
end
if ARGV[3] == '1' or holds == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[4] .. ' ' .. ARGV[5] .. ' ' .. now)
else
  redis.call('HDEL', KEYS[2], ARGV[1])
end
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2]) * 10)
local entries = redis.call('HGETALL', KEYS[2])
local loads = {}
for i = 1, #entries, 2 do
  if fresh(entries[i + 1], tonumber(ARGV[2])) then
    table.insert(loads, entries[i + 1])
  else
    redis.call('HDEL', KEYS[2], entries[i])
  end
end
return { holds, loads, lead or ARGV[1] }
`;

const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`;

const DEFAULT_TICK_MS = 1000;

/** Active workers whose load is fresh (the tick script's rule), read without writing. */
const COUNT_SCRIPT = `${FRESHNESS_LUA}
local count = 0
for _, entry in ipairs(redis.call('HVALS', KEYS[1])) do
  if fresh(entry, tonumber(ARGV[1])) then count = count + 1 end
end
return count
`;

/** How many pool members fetch jobs now (leader and helpers), for the admin's pipeline view. */
export async function countFetchingWorkers(redis: RedisClient, keyPrefix: string, tickMs = DEFAULT_TICK_MS): Promise<number> {
  return Number(await redis.eval(COUNT_SCRIPT, 1, `${keyPrefix}:loads`, String(tickMs * LEASE_TICKS)));
}

/**
 * Decides, once a tick, whether this worker fetches jobs (rules in `worker-pool-rules.ts`). The
 * leader's lease lasts three ticks: a killed leader is replaced by a standby within ~4 s, and its
 * jobs come back through BullMQ's stall check as before. While Redis cannot be reached the role
 * stays as it was (a worker without Redis fetches nothing anyway).
 */
export function startWorkerPool(options: WorkerPoolOptions): WorkerPool {
  const { redis, id, logger } = options;
  const limits = { ...DEFAULT_POOL_LIMITS, ...options.limits };
  const tickMs = options.tickMs ?? DEFAULT_TICK_MS;
  const keys = { lead: `${options.keyPrefix}:lead`, loads: `${options.keyPrefix}:loads`, joining: `${options.keyPrefix}:joining` };
  let state: PoolState = STANDBY;
  let stopped = false;
  let ticking: Promise<void> | undefined;
  let outage = false;
  let announced = false;
  let leader = '';

  const active = () => state.role !== 'standby';

  async function change(next: PoolState, why: string): Promise<void> {
    const was = state.role;
    state = next;
    if (was === next.role) return;
    options.onRole?.(next.role);
    if (was === 'standby') options.activate();
    if (next.role === 'standby') await options.deactivate();
    logger.info(`worker ${next.role === 'standby' ? 'on standby' : next.role === 'leader' ? 'leads the pool' : 'joined the pool'}: ${why}`, { worker: id });
  }

  async function tickOnce(): Promise<void> {
    const sample = options.sample();
    let holds: boolean;
    let loads: WorkerLoad[];
    try {
      // A new connection (or one reconnecting) gets up to a tick to be ready: commands fail fast meanwhile.
      if (!(await whenReady(redis, tickMs))) throw new Error(`Redis not connected (${redis.status})`);
      const window = String(tickMs * LEASE_TICKS);
      const reply = (await redis.eval(TICK_SCRIPT, 2, keys.lead, keys.loads, id, window, active() ? '1' : '0', sample.cpu.toFixed(3), sample.slots.toFixed(3))) as [number, string[], string];
      holds = reply[0] === 1;
      leader = reply[2];
      loads = reply[1].map((entry) => {
        const [cpu, slots] = entry.split(' ').map(Number);
        return { cpu: cpu ?? 0, slots: slots ?? 0 };
      });
      if (outage) logger.info('worker pool: Redis reachable again', { worker: id });
      outage = false;
    } catch (error) {
      if (!outage) logger.warn('worker pool: cannot reach Redis; keeping the current role', { worker: id, ...errorFields(error) });
      outage = true;
      return;
    }
    const waiting = state.role === 'standby' ? await options.waiting().catch(() => 0) : 0;
    const next = nextPoolState(state, { holdsLease: holds, active: loads, waiting, hostIdle: sample.hostIdle }, limits);
    if (next.join) {
      // One standby joins per two ticks; the others see its load before they decide.
      const token = await redis.set(keys.joining, id, 'PX', tickMs * 2, 'NX').catch(() => null);
      if (token === 'OK') await change({ role: 'helper', pressured: 0, quiet: 0 }, `${next.join}, ${waiting} jobs waiting, ${sample.hostIdle.toFixed(1)} idle cores here`);
      else state = next;
      return;
    }
    const why = next.role === 'leader' ? 'holds the lease' : next.role === 'standby' ? 'the load fits in one worker fewer' : 'lost the lease; stays while needed';
    await change(next, why);
    if (!announced && state.role === 'standby') {
      // An operator who sees a worker fetch nothing learns why from its first lines.
      logger.info(`worker on standby: ${leader} leads; this one joins while the active workers are short of CPU or job slots and this host has a free core (WORKER_STANDBY)`, { worker: id });
    }
    announced = true;
  }

  async function tick(): Promise<void> {
    if (stopped) return;
    // Ticks never overlap: a deactivation waits for jobs in hand.
    ticking ??= tickOnce().finally(() => (ticking = undefined));
    await ticking;
  }

  const timer = options.timer === false ? undefined : setInterval(() => void tick(), tickMs);
  timer?.unref();

  return {
    role: () => state.role,
    tick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await ticking?.catch(() => undefined);
      await redis.eval(RELEASE_SCRIPT, 2, keys.lead, keys.loads, id).catch(() => undefined);
    },
  };
}

/** Measures this process's CPU and its host's idle cores between calls, and the busy share of `slots` job slots. */
export function startSampler(slots: number, clock: () => number = () => performance.now()) {
  const idleMs = () => cpus().reduce((total, cpu) => total + cpu.times.idle, 0);
  let last = { at: clock(), cpu: process.cpuUsage(), idle: idleMs() };
  let busy = 0;
  let busySince = last.at;
  let busyMs = 0;
  const account = (now: number) => {
    busyMs += busy * (now - busySince);
    busySince = now;
  };
  return {
    jobStarted() {
      account(clock());
      busy++;
    },
    jobEnded() {
      account(clock());
      busy--;
    },
    sample(): PoolSample {
      const now = clock();
      account(now);
      const cpu = process.cpuUsage();
      const idle = idleMs();
      const wallMs = Math.max(1, now - last.at);
      const used = (cpu.user - last.cpu.user + cpu.system - last.cpu.system) / 1000;
      const result = { cpu: used / wallMs, slots: busyMs / (wallMs * slots), hostIdle: Math.max(0, idle - last.idle) / wallMs };
      last = { at: now, cpu, idle };
      busyMs = 0;
      return result;
    },
  };
}
