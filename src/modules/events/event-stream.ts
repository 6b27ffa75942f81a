import { isTerminalStatus } from '../orders/index.js';
import type { StreamSink } from './event-hub.js';
import type { OrderEvent } from './order-event.js';

/** The HTTP response as a stream sees it (routes adapt Express's). */
export interface SseWriter {
  /** Sends the status and headers; called once, before the stream's first bytes. */
  open(): void;
  write(chunk: string): void;
  /** Bytes written but not yet taken by the client. */
  bufferedBytes(): number;
  end(): void;
  /** Resolves once the client has taken enough of what was written to go on ('drain'), or the connection closed. */
  drained(): Promise<void>;
  /** Resolves once the ended response has left the process in full, or the connection closed. */
  finished(): Promise<void>;
  /** Closes the connection at once, dropping what the client has not taken. */
  abort(): void;
}

export interface EventStream extends StreamSink {
  /**
   * Sends the status and headers now, unless bytes already did (they go out with the first
   * bytes). A stream that failed before it sent anything (its reads of the log) is refused with
   * a problem instead; once its status is out, a failure can only cut it short.
   */
  open(): void;
  readonly opened: boolean;
  /** Sends a replayed (or initial) event. */
  send(event: Pick<OrderEvent, 'seq' | 'order'>): void;
  /**
   * A replay waits here while the client is more than the limit behind, as fast as it reads;
   * a client that takes nothing for `stallMs` meanwhile is cut off.
   */
  paced(): Promise<void>;
  /**
   * A per-order stream whose order, as read, is ahead of the log (its latest changes committed,
   * their events not yet positioned) shows nothing until the log's event that has caught up with
   * it (`historyLength` changes), which goes out as the first message under its own id.
   */
  showOnceLogged(historyLength: number): void;
  /** Nothing at or before `seq` is sent (a stream without Last-Event-ID starts at the hub’s position, a resumed one after its id). */
  startAfter(seq: number): void;
  /** Replay is over: live events held meanwhile go out, then live ones as they come. */
  goLive(): void;
  /** The access token that opened the stream expired: says so in a comment line, then ends. */
  expire(): void;
  /** The caller lost the admin rights this stream needs (demoted, deleted): says so, then ends. */
  revoke(): void;
  readonly ended: boolean;
}

// A live client this far behind is cut off (it reconnects with Last-Event-ID and misses
// nothing); a replay this far ahead of its client waits for it.
const MAX_BUFFERED_BYTES = 1024 * 1024;
const MAX_HELD_EVENTS = 10_000;
// At shutdown a client gets this long to take what is left before its connection is closed: the
// API's shutdown grace is 10 s, and SSE_STALL_MS (30 s by default) would outlast it, so the
// process would be killed with the stream still open instead of exiting cleanly.
const SHUTDOWN_FLUSH_MS = 2_000;

/**
 * One SSE connection: ids strictly increase (an event at or below the last id sent is dropped,
 * so replay and live delivery can overlap without repeats), live events wait while the replay
 * runs, and a per-order stream ends after a terminal status.
 */
export function createEventStream(writer: SseWriter, options: { endAfterTerminal: boolean; stallMs: number }): EventStream {
  let lastSeq = -1;
  let opened = false;
  let awaitedHistoryLength = 0;
  let live = false;
  let ended = false;
  const held: OrderEvent[] = [];

  function open(): void {
    if (opened) return;
    opened = true;
    writer.open();
  }

  function write(chunk: string): void {
    open();
    writer.write(chunk);
  }

  /**
   * The end waits behind what the client has not taken yet; a client that takes nothing for
   * `stallMs` would otherwise keep the connection, its buffer and its stream's place (released
   * when the connection closes) for as long as it keeps the socket open.
   */
  function end(waitMs = options.stallMs): void {
    if (ended) return;
    ended = true;
    held.length = 0;
    open();
    writer.end();
    const stalled = setTimeout(() => writer.abort(), waitMs);
    stalled.unref();
    void writer.finished().then(() => clearTimeout(stalled));
  }

  /** Ends with a comment line saying why (the client sees it; EventSource ignores it). */
  function endSaying(why: string): void {
    if (!ended) write(`: ${why}\n\n`);
    end();
  }

  /**
   * A live client this far behind is not taking what it is sent: an orderly end would wait
   * behind the same unread megabyte, and the connection, its buffer and its stream's place (the
   * caps are released when the connection closes) would stay taken for as long as the client
   * keeps the socket open. The client resumes from the last whole event it read.
   */
  function cutOff(): void {
    if (ended) return;
    ended = true;
    held.length = 0;
    writer.abort();
  }

  function send(event: Pick<OrderEvent, 'seq' | 'order'>): void {
    if (ended || event.seq <= lastSeq) return;
    lastSeq = event.seq;
    // Older than the order as read (showOnceLogged): not shown. Every message the client sees
    // carries the id of the log's event for what it shows, so a reconnect with that id resumes
    // exactly after it (shown ahead of the log, under any earlier id, its changes came again).
    if (event.order.history.length < awaitedHistoryLength) return;
    awaitedHistoryLength = 0;
    write(`event: order\nid: ${event.seq}\ndata: ${JSON.stringify(event.order)}\n\n`);
    if (options.endAfterTerminal && isTerminalStatus(event.order.status)) end();
    // Live, these bytes are what the client left unread. A replay's say nothing about the client
    // (it writes as fast as the log reads): it waits for them (paced).
    else if (live && writer.bufferedBytes() > MAX_BUFFERED_BYTES) cutOff();
  }

  /**
   * Waiting, not ending past the limit: ended there, a client more than the limit behind got
   * about that much per connection and, with the log growing meanwhile, might never catch up.
   */
  async function paced(): Promise<void> {
    if (ended || writer.bufferedBytes() <= MAX_BUFFERED_BYTES) return;
    const stalled = setTimeout(cutOff, options.stallMs);
    stalled.unref();
    await writer.drained();
    clearTimeout(stalled);
  }

  return {
    open,
    get opened() {
      return opened;
    },
    send,
    paced,
    deliver(event) {
      if (live) send(event);
      else if (held.push(event) > MAX_HELD_EVENTS) end();
    },
    showOnceLogged(historyLength) {
      awaitedHistoryLength = historyLength;
    },
    startAfter(seq) {
      lastSeq = Math.max(lastSeq, seq);
    },
    goLive() {
      live = true;
      for (const event of held.splice(0)) send(event);
    },
    keepAlive() {
      if (!ended) write(': keep-alive\n\n');
    },
    expire: () => endSaying('access token expired; reconnect with a fresh one and Last-Event-ID'),
    revoke: () => endSaying('admin rights ended; this stream needs them'),
    end: () => end(Math.min(options.stallMs, SHUTDOWN_FLUSH_MS)),
    get ended() {
      return ended;
    },
  };
}
