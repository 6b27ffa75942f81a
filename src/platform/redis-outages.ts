import type { Redis } from 'ioredis';
import type { Logger } from './logger.js';

/**
 * Says once when `client` loses (or never reaches) Redis, naming the address, and once when it
 * is back: an unreachable Redis is otherwise silent, since commands fail fast by design.
 */
export function logRedisOutages(client: Redis, url: string, logger: Logger, consequence: string): void {
  const { hostname, port } = new URL(url);
  const address = `${hostname}:${port || '6379'}`;
  let down = false;
  client.on('error', (error: Error) => {
    if (down) return;
    down = true;
    logger.warn(`Redis at ${address} is unreachable; ${consequence}`, { redis: address, error: error.message });
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info(`Redis at ${address} is reachable again`, { redis: address });
  });
}
