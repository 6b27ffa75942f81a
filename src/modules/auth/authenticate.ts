import type { Request, RequestHandler } from 'express';
import { currentContext } from '../../platform/request-context.js';
import { ForbiddenError, UnauthenticatedError } from '../../shared/errors.js';
import type { Principal, Role } from '../../shared/principal.js';

interface Authenticator {
  authenticate(accessToken: string): Promise<Principal>;
}

/** Requires `Authorization: Bearer <access token>` and records who is calling. */
export function authenticate(auth: Authenticator): RequestHandler {
  return async (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    if (!match?.[1]) throw new UnauthenticatedError('UNAUTHENTICATED', 'Send an access token as Authorization: Bearer <token>');
    req.auth = await auth.authenticate(match[1]);
    const context = currentContext();
    if (context) context.userId = req.auth.userId;
    next();
  };
}

export function requireRole(role: Role): RequestHandler {
  return (req, _res, next) => {
    if (req.auth?.role !== role) throw new ForbiddenError(`This requires the ${role} role`);
    next();
  };
}

/** The caller of a route behind `authenticate`. */
export function principalOf(req: Request): Principal {
  if (!req.auth) throw new UnauthenticatedError();
  return req.auth;
}

/** For public routes that show more to some callers: a token is optional, but an invalid one is still 401. */
export function optionalAuthenticate(auth: Authenticator): RequestHandler {
  const required = authenticate(auth);
  return (req, res, next) => (req.get('authorization') ? required(req, res, next) : next());
}
