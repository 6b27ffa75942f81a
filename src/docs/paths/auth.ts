import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { BEARER, commonProblems, json, noContent, problem, PUBLIC, rateLimited, UNAUTHENTICATED } from '../responses.js';
import { ChangePasswordRequest, LoginRequest, Me, RefreshRequest, RegisterRequest, Session, TokenPair } from '../schemas.js';

const tags = ['Auth'];
const body = (schema: typeof RegisterRequest | typeof LoginRequest | typeof RefreshRequest | typeof ChangePasswordRequest) => ({
  required: true,
  content: { 'application/json': { schema } },
});
const invalid = (what: string) => commonProblems({ body: true, database: true, validation: what });
/** The 503 of a route that checks or hashes a password: a dependency down, or the hashing queue full. */
const busyHashing = {
  503: problem(503, [
    {
      code: 'SERVICE_UNAVAILABLE',
      when:
        'A dependency (database, Redis) is unreachable, or more password checks already wait for a hashing slot than this server allows ' +
        '(PASSWORD_HASH_QUEUE_LIMIT, by default 32 per slot: about 2 s of waiting); answered at once, retry after the seconds in Retry-After.',
    },
  ]),
};

export function registerAuthPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/api/auth/register',
    operationId: 'register',
    tags,
    summary: 'Create a customer account and sign in',
    description:
      'Every new account is a customer; a `role` in the body is ignored. Emails compare case-insensitively. ' +
      '`name` defaults to the part of the email before `@`.',
    security: PUBLIC,
    request: { body: body(RegisterRequest) },
    responses: {
      201: json('Registered and signed in.', Session),
      ...invalid('email is not an address, password is not 8..128 characters (or holds a NUL), or name is not 1..100 printable characters on one line.'),
      409: problem(409, [{ code: 'EMAIL_TAKEN', when: 'An account with this email already exists.' }]),
      ...rateLimited('Too many registrations from this client address (REGISTER_RATE_LIMIT_PER_ADDRESS_PER_HOUR, default 100 an hour).'),
      ...busyHashing,
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/api/auth/login',
    operationId: 'login',
    tags,
    summary: 'Sign in; starts a new refresh-token family',
    security: PUBLIC,
    request: { body: body(LoginRequest) },
    responses: {
      200: json('Signed in.', Session),
      ...invalid('email or password is missing or malformed.'),
      401: problem(401, [{ code: 'INVALID_CREDENTIALS', when: 'Unknown email or wrong password (the same answer for both).' }]),
      ...rateLimited('Too many failed logins for this account from this address (10 in 15 min), for this account from anywhere (100) or from this address (100). Even the right password is refused until the window ends.'),
      ...busyHashing,
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/api/auth/password',
    operationId: 'changePassword',
    tags,
    summary: 'Change the signed-in user\'s password; signs out every other session (beyond the contract)',
    description:
      'Checks `currentPassword` under the login limits (a wrong one counts as a failed login of the account), sets `newPassword` ' +
      '(the rules of a registration\'s password), and revokes every refresh token of the account: every session, this one\'s too, ' +
      'ends at its next refresh. The answer is a new sign-in (the body of a login), so the caller stays signed in. Access tokens ' +
      'already issued keep working until they run out (at most 15 minutes).',
    security: BEARER,
    request: { body: body(ChangePasswordRequest) },
    responses: {
      200: json('Password changed; a new sign-in (every earlier refresh token is revoked).', Session),
      ...invalid('currentPassword is missing or longer than 1024 characters, or newPassword is not 8..128 characters (or holds a NUL).'),
      401: problem(401, [
        UNAUTHENTICATED,
        { code: 'INVALID_CREDENTIALS', when: 'currentPassword is wrong (or the password was changed meanwhile). The access token is fine: WWW-Authenticate carries no error.' },
      ]),
      ...rateLimited('Too many failed logins or wrong current passwords for this account (the login limits). Even the right password is refused until the window ends.'),
      ...busyHashing,
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
    security: PUBLIC,
    request: { body: body(RefreshRequest) },
    responses: {
      200: json('A new token pair; the presented refresh token no longer works.', TokenPair),
      ...invalid('refreshToken is missing.'),
      401: problem(401, [{ code: 'INVALID_REFRESH_TOKEN', when: 'The refresh token is unknown, expired, revoked or already used.' }]),
      ...rateLimited('Too many requests from this client address (only when RATE_LIMIT_PER_ADDRESS_PER_MINUTE is set).'),
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/api/auth/logout',
    operationId: 'logout',
    tags,
    summary: 'Revoke the refresh-token family of one login (idempotent)',
    security: PUBLIC,
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
