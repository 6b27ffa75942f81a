import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { BEARER, commonProblems, json, noContent, problem, UNAUTHENTICATED } from '../responses.js';
import { LoginRequest, Me, RefreshRequest, RegisterRequest, Session, TokenPair } from '../schemas.js';

const tags = ['Auth'];
const body = (schema: typeof RegisterRequest | typeof LoginRequest | typeof RefreshRequest) => ({
  required: true,
  content: { 'application/json': { schema } },
});
const invalid = (what: string) => commonProblems({ body: true, database: true, validation: what });

export function registerAuthPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/api/auth/register',
    operationId: 'register',
    tags,
    summary: 'Create a customer account and sign in',
    description: 'Every new account is a customer; a `role` in the body is ignored. Emails compare case-insensitively.',
    request: { body: body(RegisterRequest) },
    responses: {
      201: json('Registered and signed in.', Session),
      ...invalid('email is not an address, password is not 8..128 characters, or name is not 1..100 characters.'),
      409: problem(409, [{ code: 'EMAIL_TAKEN', when: 'An account with this email already exists.' }]),
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/api/auth/login',
    operationId: 'login',
    tags,
    summary: 'Sign in; starts a new refresh-token family',
    request: { body: body(LoginRequest) },
    responses: {
      200: json('Signed in.', Session),
      ...invalid('email or password is missing or malformed.'),
      401: problem(401, [{ code: 'INVALID_CREDENTIALS', when: 'Unknown email or wrong password (the same answer for both).' }]),
      429: problem(429, [{ code: 'RATE_LIMITED', when: 'Too many failed logins for this account or client address; see Retry-After.' }]),
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/api/auth/refresh',
    operationId: 'refreshTokens',
    tags,
    summary: 'Rotate a refresh token',
    description:
      'Each refresh token works once. Presenting one that was already rotated is treated as theft: ' +
      'every refresh token of that login is revoked.',
    request: { body: body(RefreshRequest) },
    responses: {
      200: json('A new token pair; the presented refresh token no longer works.', TokenPair),
      ...invalid('refreshToken is missing.'),
      401: problem(401, [{ code: 'INVALID_REFRESH_TOKEN', when: 'The refresh token is unknown, expired, revoked or already used.' }]),
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/api/auth/logout',
    operationId: 'logout',
    tags,
    summary: 'Revoke the refresh-token family of one login (idempotent)',
    request: { body: body(RefreshRequest) },
    responses: {
      204: noContent('Signed out (also when the token was already revoked or unknown).'),
      ...invalid('refreshToken is missing.'),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/auth/me',
    operationId: 'getMe',
    tags,
    summary: 'The signed-in user',
    security: BEARER,
    responses: {
      200: json('The caller.', Me),
      ...commonProblems({ body: false, database: true }),
      401: problem(401, [UNAUTHENTICATED]),
    },
  });
}
