import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { LRUCache } from 'lru-cache';
import { clientKeyOf } from '../../middleware/client-address.js';
import { ForbiddenError, UnauthenticatedError } from '../../shared/errors.js';
import type { AuthService } from './auth.service.js';

/**
 * Admin access for browser pages (the queue dashboard), which cannot send a Bearer token:
 * HTTP Basic with an admin's email and password, checked under the login limits, or a Bearer
 * access token for scripts. A verified Basic header is remembered for a few minutes so each
 * page asset does not cost a password hash.
 */
export function requireAdminForBrowser(auth: Pick<AuthService, 'authenticate' | 'verifyCredentials' | 'currentCredentials'>): RequestHandler {
  // Header fingerprint → the account it proved and a stamp of that account's password then. Both
  // are read again on every request: a demoted admin is refused at once, and so is a password
  // that was reset meanwhile (the header is then checked afresh, and fails).
  const verified = new LRUCache<string, { userId: string; credentialStamp: string }>({ max: 100, ttl: 5 * 60_000 });
  const challenge = (res: Parameters<RequestHandler>[1]) => res.setHeader('WWW-Authenticate', 'Basic realm="admin", charset="UTF-8"');

  return async (req, res, next) => {
    const header = req.get('authorization') ?? '';
    if (/^Bearer /i.test(header)) {
      const principal = await auth.authenticate(header.slice(7).trim());
      if (principal.role !== 'admin') throw new ForbiddenError('This requires the admin role');
      next();
      return;
    }
    const basic = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header)?.[1];
    if (!basic) {
      challenge(res);
      throw new UnauthenticatedError('UNAUTHENTICATED', 'Sign in with an admin account');
    }
    const fingerprint = createHash('sha256').update(basic).digest('hex');
    const remembered = verified.get(fingerprint);
    const current = remembered && (await auth.currentCredentials(remembered.userId));
    const knownRole = current?.credentialStamp === remembered?.credentialStamp ? current?.role : undefined;
    if (knownRole === undefined) {
      verified.delete(fingerprint);
      const decoded = Buffer.from(basic, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      // A NUL can never be part of an email or password of ours; refuse before any lookup.
      if (colon < 0 || decoded.includes('\u0000')) {
        challenge(res);
        throw new UnauthenticatedError('INVALID_CREDENTIALS', 'Email or password is incorrect');
      }
      const { user, credentialStamp } = await auth
        .verifyCredentials({ email: decoded.slice(0, colon), password: decoded.slice(colon + 1) }, clientKeyOf(req))
        .catch((error: unknown) => {
          if (error instanceof UnauthenticatedError) challenge(res);
          throw error;
        });
      if (user.role !== 'admin') throw new ForbiddenError('This requires the admin role');
      verified.set(fingerprint, { userId: user.id, credentialStamp });
    } else if (knownRole !== 'admin') {
      throw new ForbiddenError('This requires the admin role');
    }
    next();
  };
}
