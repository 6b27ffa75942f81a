import { randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../../platform/db/index.js';
import type { Logger } from '../../platform/logger.js';
import type { RateLimiter } from '../../platform/rate-limit.js';
import { ConflictError, UnauthenticatedError } from '../../shared/errors.js';
import type { Principal, Role } from '../../shared/principal.js';
import * as repo from './auth.repository.js';
import { email } from './auth.schemas.js';
import type { User } from './auth.repository.js';
import { burnPasswordCheck, credentialStampOf, hashPassword, verifyPassword, type PasswordHashProfile } from './passwords.js';
import { generateRefreshToken, hashRefreshToken, type AccessTokens } from './tokens.js';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

export interface Session extends TokenPair {
  user: User;
}

/** A checked sign-in: the account, and a stamp of its password then (see `credentialStampOf`). */
export interface VerifiedCredentials {
  user: User;
  credentialStamp: string;
}

export interface AuthServiceDeps {
  db: Database;
  accessTokens: AccessTokens;
  refreshTtlSeconds: number;
  passwordHashProfile: PasswordHashProfile;
  /** Password checks that may wait for a hashing slot before more are refused (503); default in passwords.ts. */
  passwordHashQueueLimit?: number | undefined;
  loginLimits: LoginLimits;
  /** Registrations per client address; absent when turned off. */
  registrationLimit?: RateLimiter;
  logger: Logger;
}

/**
 * Failed logins per account (lower-cased email) and client address, per account across all
 * addresses (set high, so no one elsewhere can lock the real user out) and per client address.
 */
export interface LoginLimits {
  perAccountAndAddress: RateLimiter;
  perAccount: RateLimiter;
  perAddress: RateLimiter;
}

type Reservation = readonly (readonly [RateLimiter, string])[];

/**
 * Takes one point from every limit before a password is checked, so parallel guesses cannot all
 * pass a check made before any of them is counted. If any limit is used up, the points taken
 * from the others are given back and the caller gets that limit's 429.
 */
async function reserve(reservation: Reservation): Promise<void> {
  const outcomes = await Promise.allSettled(reservation.map(([limit, key]) => limit.consume(key)));
  const refused = outcomes.find((outcome) => outcome.status === 'rejected');
  if (!refused) return;
  const taken = reservation.filter((_, i) => outcomes[i]?.status === 'fulfilled');
  await Promise.all(taken.map(([limit, key]) => limit.refund(key)));
  throw refused.reason;
}

export type AuthService = ReturnType<typeof createAuthService>;

const wrongCurrentPassword = () => new UnauthenticatedError('INVALID_CREDENTIALS', 'The current password is incorrect');

export function createAuthService(deps: AuthServiceDeps) {
  const { db, accessTokens, loginLimits, logger } = deps;
  const passwordQueue = { queueLimit: deps.passwordHashQueueLimit };

  async function issueTokens(user: { id: string; role: Role }, familyId: string, tx: Queryable = db): Promise<TokenPair> {
    const refreshToken = generateRefreshToken();
    await repo.insertRefreshToken(tx, {
      userId: user.id,
      familyId,
      tokenHash: hashRefreshToken(refreshToken),
      ttlSeconds: deps.refreshTtlSeconds,
    });
    const accessToken = await accessTokens.sign({ userId: user.id, role: user.role });
    return { accessToken, refreshToken, tokenType: 'Bearer', expiresIn: accessTokens.ttlSeconds };
  }

  async function register(input: { email: string; password: string; name: string }, clientAddress: string): Promise<Session> {
    await deps.registrationLimit?.consume(clientAddress);
    let passwordHash: string;
    try {
      passwordHash = await hashPassword(input.password, deps.passwordHashProfile, passwordQueue);
    } catch (error) {
      // Refused as busy: nothing was registered, so it must not count against the address.
      await deps.registrationLimit?.refund(clientAddress).catch(() => undefined);
      throw error;
    }
    // Clients never choose their role: every registration is a customer.
    const user = await repo.insertUser(db, { email: input.email, name: input.name, role: 'customer', passwordHash });
    if (!user) throw new ConflictError('EMAIL_TAKEN', 'An account with this email already exists');
    logger.info('user registered', { userId: user.id });
    return { user, ...(await issueTokens(user, randomUUID())) };
  }

  /** Checks a password under the login limits; the caller decides what the sign-in grants. */
  async function verifyCredentials(input: { email: string; password: string }, clientAddress: string): Promise<VerifiedCredentials> {
    // The limits count by the address as JavaScript lower-cases it; the account is found as
    // PostgreSQL lower-cases it. The two agree on the addresses accounts can have (`email`), not
    // beyond: "İ" is one more way to write "i" for PostgreSQL, and would be a fresh count for each
    // spelling. Callers that skipped the schema (the dashboard's Basic sign-in) are held to it here.
    const address = email.safeParse(input.email);
    if (!address.success) throw new UnauthenticatedError('INVALID_CREDENTIALS', 'Email or password is incorrect');
    const accountKey = address.data.toLowerCase();
    const reservation: Reservation = [
      [loginLimits.perAccountAndAddress, `${accountKey} ${clientAddress}`],
      [loginLimits.perAccount, accountKey],
      [loginLimits.perAddress, clientAddress],
    ];
    await reserve(reservation);

    let found: repo.UserWithPassword | undefined;
    let matches: boolean;
    try {
      found = await repo.findUserByEmail(db, address.data);
      if (!found) await burnPasswordCheck(input.password, deps.passwordHashProfile, passwordQueue);
      matches = found !== undefined && (await verifyPassword(found.passwordHash, input.password, passwordQueue));
    } catch (error) {
      // Nothing was checked (database down, hashing busy): the attempt must not count against the user.
      await Promise.all(reservation.map(([limit, key]) => limit.refund(key))).catch(() => undefined);
      throw error;
    }
    if (!found || !matches) {
      // The reservation stays counted: it was a failure.
      logger.info('login failed', { reason: found ? 'wrong password' : 'unknown email' });
      throw new UnauthenticatedError('INVALID_CREDENTIALS', 'Email or password is incorrect');
    }
    // A success is not a failure: give the points back, and forget this address's failures.
    await Promise.all([
      loginLimits.perAccountAndAddress.reset(`${accountKey} ${clientAddress}`),
      loginLimits.perAccount.refund(accountKey),
      loginLimits.perAddress.refund(clientAddress),
    ]);
    const { passwordHash, ...user } = found;
    return { user, credentialStamp: credentialStampOf(passwordHash) };
  }

  async function login(input: { email: string; password: string }, clientAddress: string): Promise<Session> {
    const { user } = await verifyCredentials(input, clientAddress);
    // Each login starts its own token family, so logging out one device leaves the others signed in.
    return { user, ...(await issueTokens(user, randomUUID())) };
  }

  /**
   * Sets a new password once the current one is checked (under the login limits, so guessing it
   * here is no easier than at login). Every refresh token of the account is revoked, so every
   * other session ends at its next refresh (access tokens already issued run out within their
   * 15 minutes); the caller gets a new login's tokens and stays signed in.
   */
  async function changePassword(principal: Principal, input: { currentPassword: string; newPassword: string }, clientAddress: string): Promise<Session> {
    const account = await getUser(principal);
    const { user, credentialStamp } = await verifyCredentials({ email: account.email, password: input.currentPassword }, clientAddress).catch((error: unknown) => {
      throw error instanceof UnauthenticatedError ? wrongCurrentPassword() : error;
    });
    const passwordHash = await hashPassword(input.newPassword, deps.passwordHashProfile, passwordQueue);
    const session = await db.transaction(async (tx) => {
      const state = await repo.signInStateOf(tx, user.id);
      // Changed by someone else since it was checked: the current password given is no longer it.
      if (!state || credentialStampOf(state.passwordHash) !== credentialStamp) return undefined;
      if (!(await repo.replacePasswordHash(tx, user.id, state.passwordHash, passwordHash))) return undefined;
      const revoked = await repo.revokeAllOfUser(tx, user.id);
      return { revoked, session: { user, ...(await issueTokens(user, randomUUID(), tx)) } };
    });
    if (!session) throw wrongCurrentPassword();
    logger.info('password changed; every session of the account revoked', { userId: user.id, revokedRefreshTokens: session.revoked });
    return session.session;
  }

  /**
   * Rotates a refresh token. A token that was already rotated is treated as stolen (RFC 9700
   * §4.14.2): its whole family is revoked, the newest token included. Two concurrent refreshes
   * with the same token look exactly like that, so one of them wins and the loser revokes the
   * family; the client must sign in again. That is the safe side of an ambiguous case.
   */
  async function refresh(refreshToken: string): Promise<TokenPair> {
    const tokenHash = hashRefreshToken(refreshToken);
    const outcome = await db.transaction(async (tx) => {
      const claimed = await repo.claimRefreshToken(tx, tokenHash);
      if (claimed) {
        const user = await repo.findUserById(tx, claimed.userId);
        return user ? { tokens: await issueTokens(user, claimed.familyId, tx) } : { tokens: undefined };
      }
      const known = await repo.findRefreshToken(tx, tokenHash);
      if (known?.used) {
        const revoked = await repo.revokeFamily(tx, known.familyId);
        return { tokens: undefined, reuseOf: known.familyId, revoked };
      }
      return { tokens: undefined };
    });
    if ('reuseOf' in outcome) {
      logger.warn('refresh token reuse detected; token family revoked', { familyId: outcome.reuseOf, revoked: outcome.revoked });
    }
    if (!outcome.tokens) throw new UnauthenticatedError('INVALID_REFRESH_TOKEN', 'The refresh token is invalid, expired or revoked');
    return outcome.tokens;
  }

  /** Revokes the family of the presented token. Unknown or already revoked tokens are fine: logout is idempotent. */
  async function logout(refreshToken: string): Promise<void> {
    const known = await repo.findRefreshToken(db, hashRefreshToken(refreshToken));
    if (known) await repo.revokeFamily(db, known.familyId);
  }

  async function getUser(principal: Principal): Promise<User> {
    const user = await repo.findUserById(db, principal.userId);
    // The token outlived its account: treat the caller as signed out.
    if (!user) throw new UnauthenticatedError();
    return user;
  }

  /**
   * Synchronous for a customer's token verified before: the check every authenticated request
   * makes. An admin's token is only as good as the account's role now (one index probe): a
   * demoted or deleted admin loses admin rights at once, not when the token runs out.
   */
  function authenticate(accessToken: string): Principal | Promise<Principal> {
    const known = accessTokens.recall(accessToken);
    if (known) return known.role === 'admin' ? confirmAdmin(known) : known;
    return verifyAccessToken(accessToken);
  }

  async function verifyAccessToken(accessToken: string): Promise<Principal> {
    const principal = await accessTokens.verify(accessToken);
    if (!principal) throw new UnauthenticatedError('UNAUTHENTICATED', 'The access token is invalid or expired');
    return principal.role === 'admin' ? confirmAdmin(principal) : principal;
  }

  async function confirmAdmin(principal: Principal): Promise<Principal> {
    const role = await repo.roleOf(db, principal.userId);
    if (!role) throw new UnauthenticatedError('UNAUTHENTICATED', 'The account of this access token no longer exists');
    return role === principal.role ? principal : { ...principal, role };
  }

  /** The account's role now; undefined when it no longer exists. For credentials remembered across requests. */
  const currentRole = (userId: string): Promise<Role | undefined> => repo.roleOf(db, userId);

  /** The account's role and password stamp now, to check a remembered sign-in against; undefined when it no longer exists. */
  async function currentCredentials(userId: string): Promise<{ role: Role; credentialStamp: string } | undefined> {
    const state = await repo.signInStateOf(db, userId);
    return state && { role: state.role, credentialStamp: credentialStampOf(state.passwordHash) };
  }

  /** For background work (emails): the user behind an order, if the account still exists. */
  const findUser = (userId: string): Promise<User | undefined> => repo.findUserById(db, userId);
  /** Several users at once (a batch of emails reads its recipients in one statement). */
  const findUsers = (userIds: readonly string[]): Promise<User[]> => repo.findUsersByIds(db, userIds);

  return { register, login, changePassword, verifyCredentials, refresh, logout, getUser, findUser, findUsers, authenticate, currentRole, currentCredentials };
}
