import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { seedEmbeddedDataDir } from '../../../test/harness.js';
import { freePort, spawnService, waitUntil, type ChildService } from '../../../test/processes.js';
import { startSmtp, type TestSmtp } from '../../../test/smtp.js';
import { settledWithin } from '../../../test/wait.js';

/** The API's grace period after SIGTERM (server.ts), with SHUTDOWN_DELAY_MS unset. */
const SHUTDOWN_GRACE_MS = 10_000;

/**
 * The embedded default sends its emails in the API process (in-process queue). An email in
 * flight to an SMTP server that went silent mid-conversation waits for the socket timeout
 * (15 s): closing the queue at shutdown must not wait that long, and the email cut off must
 * neither be lost nor count as sent.
 */
describe('stopping the embedded default while an email waits on a silent SMTP server', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function startApi(dataDir: string, smtp: TestSmtp): Promise<{ api: ChildService; base: string }> {
    const port = await freePort();
    const api = await spawnService('src/server.ts', { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, SMTP_URL: smtp.url, LOG_LEVEL: 'info' }, /listening on/, 60_000);
    cleanups.push(async () => {
      api.child.kill('SIGKILL');
      await api.exited;
    });
    return { api, base: `http://127.0.0.1:${port}` };
  }

  async function call(base: string, method: string, route: string, body?: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${base}${route}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('when SIGTERM comes, then the API exits 0 within its grace period, and the next start sends the email once', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ops-email-stop-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    seedEmbeddedDataDir(dataDir);
    const silent = await startSmtp({ silentAfterData: true });
    cleanups.push(() => silent.stop());

    const first = await startApi(dataDir, silent);
    const buyer = await call(first.base, 'POST', '/api/auth/register', { email: 'buyer@example.com', password: 'buyer-password', name: 'Buyer' });
    expect(buyer.status).toBe(201);
    const token = buyer.body.accessToken as string;
    const products = await call(first.base, 'GET', '/api/products');
    const productId = (products.body.items as { id: string }[])[0]!.id;
    const order = await call(first.base, 'POST', '/api/orders', { items: [{ productId, quantity: 1 }] }, token);
    expect(order.status).toBe(201);
    const orderId = order.body.id as string;
    await waitUntil(() => silent.unanswered.length > 0, 20_000, 'the confirmation email to reach the silent server');
    expect(silent.unanswered[0]!.messageId).toContain(orderId);

    first.api.child.kill('SIGTERM');
    const code = await settledWithin(first.api.exited, SHUTDOWN_GRACE_MS + 2000);
    expect(code, `the API was still running ${SHUTDOWN_GRACE_MS + 2000} ms after SIGTERM:\n${first.api.output()}`).toBeDefined();
    expect(code, first.api.output()).toBe(0);
    expect(first.api.output()).toContain('"message":"stopped"');
    expect(first.api.output()).toContain('cut off by the shutdown; the next start sends them');

    const working = await startSmtp();
    cleanups.push(() => working.stop());
    const again = await startApi(dataDir, working);
    // At once, not after the claim's lease (EMAIL_CLAIM_LEASE_SECONDS, 60 s): the claim was given back.
    await waitUntil(() => working.messages.length > 0, 10_000, 'the email to be sent again').catch((error: Error) => {
      throw new Error(`${error.message}\n${again.api.output()}`);
    });
    expect(working.messages.map((mail) => mail.messageId)).toEqual([silent.unanswered[0]!.messageId]);
    const emails = await call(again.base, 'GET', `/api/orders/${orderId}`, undefined, token);
    expect(emails.body.status).toBe('completed');

    again.api.child.kill('SIGTERM');
    expect(await settledWithin(again.api.exited, SHUTDOWN_GRACE_MS + 2000)).toBe(0);
    expect(working.messages).toHaveLength(1);
  }, 120_000);
});
