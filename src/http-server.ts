import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, maxHeaderSize, type RequestListener, type Server } from 'node:http';
import type { Config } from './config/index.js';
import { problemTypePath } from './shared/errors.js';
import type { Principal } from './shared/principal.js';

/**
 * Requests are born with the fields our middleware fills in (see middleware/express.d.ts).
 * Adding them to each request later changes its shape every time, which profiled at ~3 % of a
 * cached read; storing into a field that exists is a plain write. Express swaps the prototype
 * of each request, but own fields stay.
 */
class ApiRequest extends IncomingMessage implements Pick<Express.Request, 'requestId' | 'receivedAt' | 'auth'> {
  requestId = '';
  receivedAt = 0n;
  auth: Principal | undefined = undefined;
}

/** Node checks the request timeouts this often; the default (30 s) would let one run 30 s late. */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

/** A problem+json answer written straight to the socket, for requests that never reach Express. */
function rawProblem(status: number, code: string, title: string, detail: string): string {
  const body = JSON.stringify({ type: problemTypePath(code), title, status, detail, code });
  return (
    `HTTP/1.1 ${status} ${title}\r\n` +
    `Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Request-Id: ${randomUUID()}\r\nConnection: close\r\n\r\n${body}`
  );
}

/**
 * The API's HTTP server. Slow clients are bounded: the headers must arrive within
 * `headersTimeoutMs`, the whole request within `requestTimeoutMs`, an idle keep-alive connection
 * is closed after `keepAliveTimeoutMs`, and at most `maxConnections` are open at once (more are
 * refused at accept), so trickled bodies cannot hold connections for minutes.
 */
export function createHttpServer(app: RequestListener, http: Config['http']): Server {
  const server = createServer(
    {
      IncomingMessage: ApiRequest,
      requestTimeout: http.requestTimeoutMs,
      headersTimeout: http.headersTimeoutMs,
      keepAliveTimeout: http.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_INTERVAL_MS, http.requestTimeoutMs),
      // Answered by middleware/host-required.ts in the API's shape instead of Node's bare 400.
      requireHostHeader: false,
    },
    app,
  );
  server.maxConnections = http.maxConnections;
  // Requests Node's parser rejects (bad header bytes, oversized headers, timeouts) never reach
  // Express; answer them in the same shape, with a request id, instead of a bare status line.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      socket.end(rawProblem(408, 'REQUEST_TIMEOUT', 'Request Timeout', `The request did not arrive within ${http.requestTimeoutMs} ms`));
      return;
    }
    socket.end(
      error.code === 'HPE_HEADER_OVERFLOW'
        ? rawProblem(431, 'HEADERS_TOO_LARGE', 'Request Header Fields Too Large', `The request's headers are larger than ${maxHeaderSize / 1024} KB`)
        : rawProblem(400, 'BAD_REQUEST', 'Bad Request', 'The request could not be parsed as HTTP'),
    );
  });
  return server;
}

const IDLE_SWEEP_MS = 100;
const closingConnections = new WeakSet<Server>();

/**
 * From now on every answer says `Connection: close`, so each connection ends after its current
 * request instead of carrying the next one: a load balancer that still routes here while it
 * notices the shutdown then opens a fresh connection per request, and none is left idle for
 * the close to cut while the balancer sends on it (the keep-alive race that drops a request).
 */
export function answerWithConnectionClose(server: Server): void {
  // Once per server: the drain's first phase turns it on, and closeGracefully makes sure of it.
  if (closingConnections.has(server)) return;
  closingConnections.add(server);
  server.prependListener('request', (_request, response) => response.setHeader('Connection', 'close'));
}

/**
 * Stops taking connections and lets the open ones finish. Node keeps serving new requests on
 * kept-alive connections after `close()` until each sits idle for the keep-alive timeout; with
 * `Connection: close` on every answer each such connection ends after its answer instead. An
 * answer already under way when the drain began (an event stream the hub ends now) leaves its
 * connection idle but open, so idle connections are swept until the server has closed. Behind
 * a balancer, this runs after SHUTDOWN_DELAY_MS, once nothing is routed here any more: a sweep
 * earlier would race the balancer's reuse of the connection.
 */
export function closeGracefully(server: Server): Promise<void> {
  answerWithConnectionClose(server);
  const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
  return new Promise<void>((resolve) =>
    server.close(() => {
      clearInterval(sweep);
      resolve();
    }),
  );
}
