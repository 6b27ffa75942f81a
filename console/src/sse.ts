import { ApiError, authorizedFetch, problemOf } from './api.js';
import type { Order } from './types.js';

export interface OrderStreamOptions {
  /** `/api/orders/:id/events` or `/api/orders/events[?scope=all]`. */
  path: string;
  onOrder(order: Order): void;
  /** Called with true while the stream is connected, false while it is not (the caller may poll meanwhile). */
  onConnected(connected: boolean): void;
  /**
   * The server refused the stream for good (403: admin rights ended; 404: the order is no longer
   * the caller's to see): asking again would be refused again, so the stream stops, saying why.
   */
  onRefused(reason: string): void;
  signal: AbortSignal;
}

const wait = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

/** A stream that stayed open this long is resumed at once: no faster than once a second, even in a failure loop. */
const LASTED_MS = 1000;

/**
 * The server sends a keep-alive at least every 15 s; three of them missing means the connection
 * is dead though nothing said so (a laptop that slept, a network path that dropped, a proxy that
 * holds the socket): the stream is given up and resumed, instead of *Live* showing over nothing.
 */
const STALL_MS = 45_000;

/**
 * Server-Sent Events read with fetch, so the token goes in the Authorization header (EventSource
 * cannot send one, and a token never goes in a URL). Reconnects with `Last-Event-ID`, so no
 * change is missed, backing off while the server is away.
 */
export async function streamOrders(options: OrderStreamOptions): Promise<void> {
  const { signal } = options;
  let lastEventId: string | undefined;
  // Why the server ended the last stream, when it said so in a comment line (not a keep-alive).
  let endedBecause: string | undefined;
  let delayMs = 1000;
  while (!signal.aborted) {
    try {
      const headers: Record<string, string> = { Accept: 'text/event-stream' };
      if (lastEventId) headers['Last-Event-ID'] = lastEventId;
      const res = await authorizedFetch(options.path, { headers, signal });
      if (!res.ok || !res.body) throw await problemOf(res);
      options.onConnected(true);
      delayMs = 1000;
      endedBecause = undefined;
      const connectedAt = Date.now();
      await readEvents(res.body, signal, {
        onEvent(id, data) {
          // An id without data still moves the resume point on (the server skips a repeat that way).
          if (id) lastEventId = id;
          if (data !== null) options.onOrder(JSON.parse(data) as Order);
        },
        onComment(text) {
          if (text !== 'keep-alive') endedBecause = text;
        },
      });
      // The server ended the stream (its access token expired, a restart, or a single order
      // reached its final status): the caller unsubscribes in the last case, so reconnecting
      // here is always right. A stream that lasted (the token's end) is resumed at once.
      if (Date.now() - connectedAt >= LASTED_MS) continue;
      options.onConnected(false);
    } catch (error) {
      if (signal.aborted) return;
      options.onConnected(false);
      // Signed out: nothing to reconnect for.
      if (error instanceof ApiError && error.status === 401) return;
      if (error instanceof ApiError && (error.status === 403 || error.status === 404)) {
        options.onRefused(endedBecause ? `${endedBecause} (${error.message})` : error.message);
        return;
      }
    }
    await wait(delayMs, signal);
    delayMs = Math.min(delayMs * 2, 15_000);
  }
}

/** Reads the stream into the parser; a stream silent for STALL_MS is cancelled and throws, as a dropped one. */
async function readEvents(body: ReadableStream<Uint8Array>, signal: AbortSignal, handlers: StreamHandlers): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parse = eventParser(handlers);
  signal.addEventListener('abort', () => void reader.cancel().catch(() => undefined), { once: true });
  let stalled = false;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  const watch = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      stalled = true;
      void reader.cancel().catch(() => undefined);
    }, STALL_MS);
  };
  try {
    for (watch(); ; watch()) {
      const { value, done } = await reader.read();
      if (stalled) throw new Error(`no byte from the event stream for ${STALL_MS / 1000} s`);
      if (done) return;
      parse(decoder.decode(value, { stream: true }));
    }
  } finally {
    clearTimeout(watchdog);
  }
}

interface StreamHandlers {
  onEvent: (id: string | undefined, data: string | null) => void;
  onComment: (text: string) => void;
}

/** Parses the event-stream format: `field: value` lines, a blank line ends an event, `:` lines are comments. */
function eventParser({ onEvent, onComment }: StreamHandlers): (chunk: string) => void {
  let buffer = '';
  let data: string[] = [];
  let id: string | undefined;
  let type = 'message';
  return (chunk) => {
    buffer += chunk;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') {
        onEvent(id, data.length > 0 && type === 'order' ? data.join('\n') : null);
        data = [];
        type = 'message';
        continue;
      }
      if (line.startsWith(':')) {
        onComment(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const text = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') data.push(text);
      else if (field === 'id') id = text;
      else if (field === 'event') type = text;
    }
  };
}
