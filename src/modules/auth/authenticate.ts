import type { NextFunction, Request, RequestHandler } from 'express';
import { ForbiddenError, UnauthenticatedError } from '../../shared/errors.js';
import type { Principal, Role } from '../../shared/principal.js';

/** What the middleware needs from the auth service. */
export interface Authenticator {
  /** The caller right away for a token verified before (the hot path); a promise the first time. */
  authenticate(accessToken: string): Principal | Promise<Principal>;
}

const BEARER = /^Bearer ([^\s]+)$/i;

/** Requires `Authorization: Bearer <access token>` and records who is calling. */
export function authenticate(auth: Authenticator): RequestHandler {
  return (req, _res, next) => {
    const token = BEARER.exec(req.get('authorization') ?? '')?.[1];
    if (!token) throw new UnauthenticatedError('UNAUTHENTICATED', 'Send an access token as Authorization: Bearer <token>');
    const principal = auth.authenticate(token);
    // A known token costs no promise and no extra tick; Express forwards a rejection to the error handler.
    if (principal instanceof Promise) return principal.then((verified) => identify(req, verified, next));
    identify(req, principal, next);
  };
}

function identify(req: Request, principal: Principal, next: NextFunction): void {
  req.auth = principal;
  next();
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
