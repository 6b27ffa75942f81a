import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../../test/wait.js';
import { sendWebhook } from './send-webhook.js';

/** A receiver's answers whose body is slow or endless, over real HTTP on loopback. */
describe('sending one webhook', () => {
  let server: Server;
  let base: string;
  const closed = new Set<string>();
  const answers: Record<string, (res: ServerResponse) => void> = {
    // The status line and headers at once, then a body that never ends.
    '/body-never-ends': (res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('received, still thinking');
    },
    // A body as fast as the connection takes it, for ever.
    '/endless-body': (res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
      };
      res.on('drain', pump);
      pump();
    },
    '/refused-slowly': (res) => {
      res.writeHead(500);
      res.write('oops');
    },
  };

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const path = req.url ?? '/';
      res.on('close', () => closed.add(path));
      req.resume();
      req.on('end', () => answers[path]?.(res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const send = (path: string, timeoutMs: number) => sendWebhook({ url: `${base}${path}`, headers: {}, body: '{}', timeoutMs, allowPrivate: true });

  it('when a 2xx status arrives in time but its body does not end, then the attempt succeeds and the connection is closed', async () => {
    // The body never ends: waiting for it would run the attempt into its time-out.
    expect(await send('/body-never-ends', 3000)).toEqual({ ok: true, statusCode: 200, error: undefined });
    await waitUntil(() => closed.has('/body-never-ends'), 5000, 'the receiver to see the connection closed');
  });

  it('when a 2xx comes with an endless body, then the attempt succeeds without reading it and the connection is closed', async () => {
    expect(await send('/endless-body', 3000)).toEqual({ ok: true, statusCode: 200, error: undefined });
    await waitUntil(() => closed.has('/endless-body'), 5000, 'the receiver to see the connection closed');
  });

  it('when a non-2xx status arrives, then the attempt fails with that status, whatever its body does', async () => {
    expect(await send('/refused-slowly', 3000)).toEqual({ ok: false, statusCode: 500, error: 'answered 500' });
  });
});
