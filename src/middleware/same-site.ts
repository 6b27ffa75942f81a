import type { RequestHandler } from 'express';
import { ForbiddenError } from '../shared/errors.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF defence for pages signed in with credentials the browser resends by itself (HTTP Basic on
 * the queue dashboard): a request that changes anything must come from our own origin.
 * Browsers send `Sec-Fetch-Site` (and `Origin` on POST); scripts send neither and pass.
 */
export const refuseCrossSite: RequestHandler = (req, _res, next) => {
  if (SAFE_METHODS.has(req.method)) {
    next();
    return;
  }
  const site = req.get('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new ForbiddenError('Cross-site requests cannot change anything here');
  const origin = req.get('origin');
  if (origin !== undefined && !sameHost(origin, req.get('host'))) {
    throw new ForbiddenError('Cross-site requests cannot change anything here');
  }
  next();
};

/** Host only, not scheme: behind a TLS proxy the page is https while this hop is http. */
function sameHost(origin: string, host: string | undefined): boolean {
  if (origin === 'null' || host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
