import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitUntil } from './processes.js';

/** Throw-away Redis deployments on loopback for component tests: a Cluster (3 + 3) and Sentinel. */
export interface RedisNodeProcess {
  port: number;
  child: ChildProcess;
}

export interface LocalRedisTopology {
  nodes: RedisNodeProcess[];
  /** Sentinel only. */
  sentinels: RedisNodeProcess[];
  stop(): Promise<void>;
}

function startNode(args: string[], dir: string): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return waitUntil(
    () => {
      if (child.exitCode !== null) throw new Error(`redis-server ${args.join(' ')} exited:\n${output}`);
      return /Ready to accept connections|Sentinel ID is/.test(output) && child;
    },
    15_000,
    `redis-server ${args[0]}`,
  );
}

async function info(port: number, section: string): Promise<string> {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    return (section === 'cluster' ? await redis.call('CLUSTER', 'INFO') : await redis.call('INFO', section)) as string;
  } catch {
    return '';
  } finally {
    redis.disconnect();
  }
}

function stopper(processes: ChildProcess[], dir: string) {
  return async () => {
    for (const child of processes) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(
      processes.map((child) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r)))),
    );
    rmSync(dir, { recursive: true, force: true });
  };
}

/** 3 masters + 3 replicas; a dead master is replaced after `nodeTimeoutMs` plus an election. */
export async function startRedisCluster(nodeTimeoutMs = 1000): Promise<LocalRedisTopology> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ops-redis-cluster-'));
  const ports: number[] = [];
  for (let i = 0; i < 6; i++) ports.push(await freePort());
  const nodes: RedisNodeProcess[] = [];
  try {
    for (const port of ports) {
      // The bus port is picked too: its default, port + 10,000, may be anyone's.
      const args = ['--port', String(port), '--cluster-port', String(await freePort()), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--cluster-enabled', 'yes'];
      args.push('--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', String(nodeTimeoutMs), '--maxmemory-policy', 'noeviction');
      // A replica that never finished its first sync cannot take over; don't wait 5 s for it.
      args.push('--repl-diskless-sync-delay', '0');
      nodes.push({ port, child: await startNode(args, dir) });
    }
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${created.stdout}${created.stderr}`);
    await waitUntil(async () => (await Promise.all(ports.map((p) => info(p, 'cluster')))).every((text) => text.includes('cluster_state:ok')), 20_000, 'cluster_state:ok');
    await waitUntil(
      async () => (await Promise.all(ports.map((p) => info(p, 'replication')))).every((text) => text.includes('role:master') || text.includes('master_link_status:up')),
      20_000,
      'replicas in sync',
    );
  } catch (error) {
    await stopper(nodes.map((n) => n.child), dir)();
    throw error;
  }
  return { nodes, sentinels: [], stop: stopper(nodes.map((n) => n.child), dir) };
}

/** 1 primary + 1 replica watched by 3 Sentinels (quorum 2) under the name `name`. */
export async function startRedisSentinel(name = 'opsmaster', downAfterMs = 1000): Promise<LocalRedisTopology> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ops-redis-sentinel-'));
  const processes: ChildProcess[] = [];
  const nodes: RedisNodeProcess[] = [];
  const sentinels: RedisNodeProcess[] = [];
  try {
    const primary = await freePort();
    const replica = await freePort();
    const base = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--repl-diskless-sync-delay', '0'];
    nodes.push({ port: primary, child: await startNode(['--port', String(primary), ...base], dir) });
    nodes.push({ port: replica, child: await startNode(['--port', String(replica), ...base, '--replicaof', '127.0.0.1', String(primary)], dir) });
    processes.push(...nodes.map((n) => n.child));
    await waitUntil(async () => (await info(replica, 'replication')).includes('master_link_status:up'), 15_000, 'replica in sync');
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const file = path.join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `sentinel monitor ${name} 127.0.0.1 ${primary} 2`,
          `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      const child = await startNode([file, '--sentinel'], dir);
      sentinels.push({ port, child });
      processes.push(child);
    }
    await waitUntil(async () => (await info(sentinels[0]!.port, 'sentinel')).includes('sentinels=3'), 20_000, 'sentinels to see each other');
  } catch (error) {
    await stopper(processes, dir)();
    throw error;
  }
  return { nodes, sentinels, stop: stopper(processes, dir) };
}

/**
 * A lone replica of a primary that is not running (`--replicaof` a free port): it answers PING
 * and reads, and refuses every write with READONLY, as a demoted primary or a mistaken
 * REDIS_URL pointing at a replica does.
 */
export async function startRedisReplica(): Promise<LocalRedisTopology> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ops-redis-replica-'));
  const port = await freePort();
  const child = await startNode(['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--replicaof', '127.0.0.1', String(await freePort())], dir);
  return { nodes: [{ port, child }], sentinels: [], stop: stopper([child], dir) };
}
