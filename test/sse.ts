/** A Server-Sent Events client for tests, over fetch (as browsers stream with an Authorization header). */
export interface SseMessage {
  event: string | undefined;
  id: string | undefined;
  data: string;
}

export interface SseClient {
  status: number;
  headers: Headers;
  messages: SseMessage[];
  comments: string[];
  /** Ids seen in blocks without data (they only move Last-Event-ID on). */
  lastEventId: string | undefined;
  /** Resolves when the server ends the stream (or the client closes it). */
  ended: Promise<void>;
  isEnded(): boolean;
  /** Waits until at least `count` messages arrived. */
  waitForMessages(count: number, timeoutMs?: number): Promise<SseMessage[]>;
  waitFor(check: (client: SseClient) => boolean, timeoutMs: number, what: string): Promise<void>;
  close(): void;
}

function parseBlock(block: string, client: SseClient): void {
  let event: string | undefined;
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      client.comments.push(line.slice(1).trim());
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'id') id = value;
    else if (field === 'data') data.push(value);
  }
  if (id !== undefined) client.lastEventId = id;
  if (data.length > 0) client.messages.push({ event, id, data: data.join('\n') });
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: controller.signal });
  let ended = false;
  let notify: () => void = () => undefined;
  const client: SseClient = {
    status: res.status,
    headers: res.headers,
    messages: [],
    comments: [],
    lastEventId: undefined,
    ended: Promise.resolve(),
    isEnded: () => ended,
    async waitForMessages(count, timeoutMs = 60_000) {
      await client.waitFor((c) => c.messages.length >= count, timeoutMs, `${count} SSE messages`);
      return client.messages;
    },
    async waitFor(check, timeoutMs, what) {
      const deadline = Date.now() + timeoutMs;
      while (!check(client)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(client.messages.map((m) => m.id))}${ended ? ' (stream ended)' : ''}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 200));
          notify = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    close: () => controller.abort(),
  };
  client.ended = (async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          parseBlock(buffer.slice(0, end), client);
          buffer = buffer.slice(end + 2);
        }
        notify();
      }
    } catch {
      // aborted by close()
    } finally {
      ended = true;
      notify();
    }
  })();
  return client;
}

export const orderOf = (message: SseMessage) => JSON.parse(message.data) as { id: string; status: string; history: { status: string }[] };
