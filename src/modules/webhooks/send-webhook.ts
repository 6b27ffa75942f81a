import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { guardedLookup, refuseLiteralHost, refuseScheme } from './webhook-url.js';

export interface SendOutcome {
  ok: boolean;
  statusCode: number | undefined;
  error: string | undefined;
}

const USER_AGENT = 'order-service-webhooks/1';

/**
 * One POST: success is a 2xx status line and headers within `timeoutMs` (the body is not
 * waited for). Redirects are not followed (a 3xx is a
 * failure), and unless private URLs are allowed the socket only connects to a public address,
 * checked on the address actually connected to.
 */
export function sendWebhook(options: { url: string; headers: Record<string, string>; body: string; timeoutMs: number; allowPrivate: boolean }): Promise<SendOutcome> {
  const url = new URL(options.url);
  const refusal = refuseScheme(url) ?? (options.allowPrivate ? undefined : refuseLiteralHost(url));
  if (refusal) return Promise.resolve({ ok: false, statusCode: undefined, error: `refused: ${refusal}` });
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: SendOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'User-Agent': USER_AGENT, 'Content-Length': String(Buffer.byteLength(options.body)), ...options.headers },
        ...(options.allowPrivate ? {} : { lookup: guardedLookup }),
        agent: false,
      },
      (res: IncomingMessage) => {
        const statusCode = res.statusCode ?? 0;
        const ok = statusCode >= 200 && statusCode < 300;
        finish({ ok, statusCode, error: ok ? undefined : `answered ${statusCode}` });
        // The status line decides: the body is never read, and the connection (never reused,
        // `agent: false`) is closed rather than drained, so a slow or endless body neither turns
        // a success into a time-out nor holds the attempt or its memory.
        res.on('error', () => undefined);
        res.destroy();
      },
    );
    const timer = setTimeout(() => {
      finish({ ok: false, statusCode: undefined, error: `no answer within ${options.timeoutMs} ms` });
      req.destroy();
    }, options.timeoutMs);
    req.on('error', (error) => finish({ ok: false, statusCode: undefined, error: error.message }));
    req.end(options.body);
  });
}
