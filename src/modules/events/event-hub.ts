import type { Database } from '../../platform/db/index.js';
import { errorFields, type Logger } from '../../platform/logger.js';
import type { Signal } from '../../platform/signal.js';
import { AppError, RateLimitedError, ServiceUnavailableError } from '../../shared/errors.js';
import type { OrderEvent } from './order-event.js';
import { eventsAfter, lastSeq } from './order-events.repository.js';

export type StreamScope = { kind: 'order'; orderId: string } | { kind: 'user'; userId: string } | { kind: 'all' };

/** One open stream as the hub sees it. */
export interface StreamSink {
  deliver(event: OrderEvent): void;
  keepAlive(): void;
  /** The process is shutting down. */
  end(): void;
}

export interface EventHubSettings {
  pollMs: number;
  keepAliveMs: number;
  maxStreamsPerUser: number;
  maxStreamsPerProcess: number;
}

export interface EventHub {
  /**
   * Registers a stream. Every event after the returned `position` reaches `sink`, in order;
   * throws a 429 past the per-user cap and a 503 past the per-process cap.
   */
  open(ownerId: string, scope: StreamScope, sink: StreamSink): Promise<{ position: number; close(): void }>;
  /** Ends every open stream and refuses new ones with a 503 (shutdown). */
  closeAll(): void;
  openStreams(): number;
}

const PAGE = 500;

/**
 * One reader of the event log per process, shared by all its streams: a signal (Redis pub/sub,
 * or in-process) or a slow poll wakes it, it reads the events after its position once, and
 * hands each to the streams in scope. It runs only while streams are open.
 */
export function createEventHub(deps: { db: Database; signal: Signal; settings: EventHubSettings; logger: Logger }): EventHub {
  const { db, settings, logger } = deps;
  const byOrder = new Map<string, Set<StreamSink>>();
  const byUser = new Map<string, Set<StreamSink>>();
  const everything = new Set<StreamSink>();
  const perOwner = new Map<string, number>();
  const sinks = new Set<StreamSink>();
  let reserved = 0;
  let position = 0;
  let started: Promise<void> | undefined;
  let stopRunning: (() => void) | undefined;
  let pulling = false;
  let pullAgain = false;
  let shuttingDown = false;

  function dispatch(event: OrderEvent): void {
    for (const sink of byOrder.get(event.orderId) ?? []) sink.deliver(event);
    for (const sink of byUser.get(event.userId) ?? []) sink.deliver(event);
    for (const sink of everything) sink.deliver(event);
  }

  async function pull(): Promise<void> {
    for (;;) {
      const events = await eventsAfter(db, position, {}, PAGE);
      for (const event of events) {
        position = event.seq;
        dispatch(event);
      }
      if (events.length < PAGE) return;
    }
  }

  function wake(): void {
    if (pulling) {
      pullAgain = true;
      return;
    }
    pulling = true;
    pull()
      .catch((error: unknown) => logger.warn('event stream read failed; retrying on the next poll', errorFields(error)))
      .finally(() => {
        pulling = false;
        if (pullAgain && stopRunning) {
          pullAgain = false;
          wake();
        }
      });
  }

  async function start(): Promise<void> {
    position = await lastSeq(db);
    const listener = deps.signal.listen(wake);
    const poll = setInterval(wake, settings.pollMs);
    const keepAlive = setInterval(() => sinks.forEach((sink) => sink.keepAlive()), settings.keepAliveMs);
    poll.unref();
    keepAlive.unref();
    stopRunning = () => {
      listener.close();
      clearInterval(poll);
      clearInterval(keepAlive);
      stopRunning = undefined;
      started = undefined;
    };
  }

  function index(scope: StreamScope): Set<StreamSink> {
    if (scope.kind === 'all') return everything;
    const [map, key] = scope.kind === 'order' ? [byOrder, scope.orderId] : [byUser, scope.userId];
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    return set;
  }

  function release(ownerId: string): void {
    reserved--;
    const left = (perOwner.get(ownerId) ?? 1) - 1;
    if (left > 0) perOwner.set(ownerId, left);
    else perOwner.delete(ownerId);
    if (reserved === 0) stopRunning?.();
  }

  async function open(ownerId: string, scope: StreamScope, sink: StreamSink) {
    // A proxy may still send a reconnecting client here over a kept-alive connection; a stream
    // opened now would hold the shutdown until its grace period ran out.
    if (shuttingDown) throw new ServiceUnavailableError('this instance', 'This instance is shutting down; reconnect with Last-Event-ID and another one answers');
    if ((perOwner.get(ownerId) ?? 0) >= settings.maxStreamsPerUser) {
      throw new RateLimitedError(5, `At most ${settings.maxStreamsPerUser} event streams may be open per user`);
    }
    if (reserved >= settings.maxStreamsPerProcess) throw new AppError('unavailable', 'STREAMS_AT_CAPACITY', 'This server has as many event streams open as it allows; retry shortly');
    reserved++;
    perOwner.set(ownerId, (perOwner.get(ownerId) ?? 0) + 1);
    try {
      await (started ??= start());
    } catch (error) {
      started = undefined;
      release(ownerId);
      logger.warn('event streams could not start', errorFields(error));
      throw new ServiceUnavailableError('database');
    }
    // closeAll ran while the hub started: it ended the streams it knew of, not this one.
    if (shuttingDown) {
      release(ownerId);
      throw new ServiceUnavailableError('this instance', 'This instance is shutting down; reconnect with Last-Event-ID and another one answers');
    }
    const set = index(scope);
    set.add(sink);
    sinks.add(sink);
    let closed = false;
    return {
      position,
      close() {
        if (closed) return;
        closed = true;
        set.delete(sink);
        sinks.delete(sink);
        if (set.size === 0 && scope.kind !== 'all') (scope.kind === 'order' ? byOrder : byUser).delete(scope.kind === 'order' ? scope.orderId : scope.userId);
        release(ownerId);
      },
    };
  }

  return {
    open,
    closeAll() {
      shuttingDown = true;
      [...sinks].forEach((sink) => sink.end());
    },
    openStreams: () => reserved,
  };
}
