export type { Cache } from './cache.js';
export { createMemoryCache } from './memory-cache.js';
export { createRedisCache } from './redis-cache.js';
