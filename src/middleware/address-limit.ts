import type { RequestHandler } from 'express';
import type { RateLimiter } from '../platform/rate-limit.js';
import { clientKeyOf } from './client-address.js';

// Health probes and scrapes come from infrastructure and must never be throttled.
const EXEMPT = /^\/(health|metrics)(\/|$)/;

/**
 * An optional ceiling on requests per client address (RATE_LIMIT_PER_ADDRESS_PER_MINUTE). Off
 * by default: shops behind one proxy, and load tests, send everything from one address.
 */
export function limitPerAddress(limiter: RateLimiter): RequestHandler {
  return async (req, _res, next) => {
    if (!EXEMPT.test(req.path)) await limiter.consume(clientKeyOf(req));
    next();
  };
}
