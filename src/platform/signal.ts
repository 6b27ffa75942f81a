import { EventEmitter } from 'node:events';
import { createRedis, type Redis } from './redis.js';

/**
 * A wake-up call between processes: "something new was written, go and read it". It carries
 * no data, so a lost signal only delays readers until their next poll; the database stays the
 * source of truth. Redis pub/sub across processes; an in-process emitter in the embedded default.
 */
export interface Signal {
  notify(): void;
  /** Calls `onSignal` on every notify, from any process, until closed. */
  listen(onSignal: () => void): { close(): void };
}

export function createInProcessSignal(): Signal {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    notify: () => void emitter.emit('signal'),
    listen(onSignal) {
      emitter.on('signal', onSignal);
      return { close: () => void emitter.off('signal', onSignal) };
    },
  };
}

/** `publisher` is the process's request-path connection; each listener gets its own subscriber connection. */
export function createRedisSignal(options: { url: string; channel: string; publisher: Redis }): Signal {
  const local = createInProcessSignal();
  return {
    notify() {
      // Readers in this process hear it even while Redis is down; others catch up by polling.
      local.notify();
      options.publisher.publish(options.channel, '1').catch(() => undefined);
    },
    listen(onSignal) {
      const own = local.listen(onSignal);
      const subscriber: Redis = createRedis(options.url, 'blocking');
      subscriber.on('message', onSignal);
      subscriber.subscribe(options.channel).catch(() => undefined);
      return {
        close() {
          own.close();
          subscriber.disconnect();
        },
      };
    },
  };
}
