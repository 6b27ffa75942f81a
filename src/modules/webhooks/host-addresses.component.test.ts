import { execFileSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { getServers, setServers, type LookupAddress } from 'node:dns';
import { closeSync, constants, mkdtempSync, open, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settledWithin } from '../../../test/wait.js';
import { guardedLookup, refuseUrl } from './webhook-url.js';

const HOST = 'hooks.shop-partner.example';
const PUBLIC_ADDRESS = [93, 184, 216, 34];

/**
 * A DNS server on loopback: `HOST` has one A record and no AAAA; every other name does not exist.
 * `silent`: a dead server, which never answers.
 */
async function startDnsServer(silent: boolean): Promise<{ server: string; close(): Promise<void> }> {
  const socket: Socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    if (silent) return;
    let end = 12;
    const labels: string[] = [];
    while (query[end]! > 0) {
      labels.push(query.subarray(end + 1, end + 1 + query[end]!).toString());
      end += query[end]! + 1;
    }
    const type = query.readUInt16BE(end + 1);
    const question = query.subarray(12, end + 5);
    const known = labels.join('.').toLowerCase() === HOST;
    const answer = known && type === 1 ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...PUBLIC_ADDRESS]) : Buffer.alloc(0);
    // QR, RD, RA; rcode 3 (no such name) unless the name is known.
    const header = Buffer.from([0, 0, 0x81, known ? 0x80 : 0x83, 0, 1, 0, answer.length > 0 ? 1 : 0, 0, 0, 0, 0]);
    query.copy(header, 0, 0, 2);
    socket.send(Buffer.concat([header, question, answer]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { server: `127.0.0.1:${socket.address().port}`, close: () => new Promise((resolve) => socket.close(resolve)) };
}

/**
 * Holds every thread of libuv's pool (as a run of argon2 hashes or a stuck disk would) without
 * using CPU: each thread blocks opening a FIFO no one writes to, until `release()`.
 */
function holdThreadPool(): { release(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'threadpool-'));
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const opened: Promise<number>[] = [];
  for (let i = 0; i < Number(process.env.UV_THREADPOOL_SIZE ?? 4); i++) {
    opened.push(new Promise((resolve, reject) => open(fifo, 'r', (error, fd) => (error ? reject(error) : resolve(fd)))));
  }
  return {
    release() {
      // A writer lets every blocked reader's open return. Opened read-write, as Linux allows for a
      // FIFO (fifo(7)), it never fails: a write-only non-blocking open answers ENXIO while no
      // reader has begun its open yet (their opens still queued behind other work on the pool, as
      // in a clean clone's first CI run), which left the pool held for the rest of the file.
      const writer = openSync(fifo, constants.O_RDWR);
      void Promise.all(opened).then((fds) => {
        for (const fd of [writer, ...fds]) closeSync(fd);
        rmSync(dir, { recursive: true, force: true });
      });
    },
  };
}

const lookupAll = (host: string) =>
  new Promise<LookupAddress[]>((resolve, reject) => guardedLookup(host, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses as LookupAddress[]))));

/** Host lookups for webhooks use the DNS servers directly, never libuv's thread pool. */
describe('looking up a webhook host', () => {
  const servers = getServers();
  let alive: Awaited<ReturnType<typeof startDnsServer>>;
  let dead: Awaited<ReturnType<typeof startDnsServer>>;

  beforeAll(async () => {
    alive = await startDnsServer(false);
    dead = await startDnsServer(true);
  });
  afterAll(async () => {
    setServers(servers);
    await alive.close();
    await dead.close();
  });

  it('when every thread of the pool is busy, then a host still resolves at once, to the address DNS gives', async () => {
    setServers([alive.server]);
    const pool = holdThreadPool();
    try {
      // On the thread pool this waits until it is released: 5 s is many times what DNS takes.
      expect(await settledWithin(lookupAll(HOST), 5000)).toEqual([{ address: '93.184.216.34', family: 4 }]);
    } finally {
      pool.release();
    }
  });

  it('when DNS never answers, then the lookup fails within its bound, holding no thread meanwhile', async () => {
    setServers([dead.server]);
    const pool = holdThreadPool();
    try {
      const outcome = settledWithin(lookupAll(HOST).then(() => 'resolved', (error: NodeJS.ErrnoException) => error.code), 15_000);
      expect(await outcome).toBe('ETIMEOUT');
    } finally {
      pool.release();
    }
  });

  it('when DNS does not know a name, then /etc/hosts still answers for it (localhost is refused as loopback)', async () => {
    setServers([alive.server]);
    expect(await refuseUrl('http://localhost:8080/hook', false)).toMatch(/localhost resolves to an address that is a loopback address/);
    await expect(lookupAll('localhost')).rejects.toMatchObject({ code: 'WEBHOOK_URL_FORBIDDEN' });
  });
});
