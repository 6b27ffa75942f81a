import { createHash, randomBytes } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { isUuid } from '../../shared/ids.js';
import { ROLES, type Principal, type Role } from '../../shared/principal.js';

/** The only algorithm we sign with and the only one we accept: `alg: none` or RS/ES tokens are refused. */
const ALGORITHM = 'HS256';
/** A claim that makes an access token unusable anywhere else a JWT could be presented. */
const ACCESS_TOKEN_TYPE = 'access';
/**
 * How far in the future a token's `iat` may be. Instances behind one load balancer sign with
 * their own clocks, and `iat` is in whole seconds: a clock a few milliseconds ahead of another's
 * signs tokens whose `iat` is, for that other instance, one second in the future. Without leeway,
 * a fresh token then fails there. The leeway does not extend `exp`.
 */
const ISSUED_AT_LEEWAY_SECONDS = 60;

export interface AccessTokenSettings {
  secret: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
  /** The clock, in epoch milliseconds; tests pass their own to expire tokens without waiting. */
  now?: () => number;
}

export interface AccessTokens {
  sign(principal: Principal): Promise<string>;
  /** Returns the principal of a valid token, or `undefined` for any invalid, expired or foreign token. */
  verify(token: string): Promise<Principal | undefined>;
  /** The principal of a token verified before and not yet expired, without crypto or a promise. */
  recall(token: string): Principal | undefined;
  readonly ttlSeconds: number;
}

export function createAccessTokens(settings: AccessTokenSettings): AccessTokens {
  const key = new TextEncoder().encode(settings.secret);
  const now = settings.now ?? Date.now;
  const nowSeconds = () => Math.floor(now() / 1000);
  // A token verified once stays valid until its exp (access tokens are not revocable), so the
  // signature check is remembered per token string; entries expire with the token.
  // Entries age by the same clock as exp; ttlResolution 0 reads it on every lookup (no cached time).
  // Bounded by maxSize (each entry counts 1) rather than max: `max` allocates all 50,000 slots
  // up front (~5–20 ms per instance), where this grows with use to the same bound.
  const verified = new LRUCache<string, Principal>({ maxSize: 50_000, sizeCalculation: () => 1, perf: { now }, ttlResolution: 0 });

  async function verifySignature(token: string): Promise<(Principal & { expiresAtMs: number }) | undefined> {
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: [ALGORITHM],
        issuer: settings.issuer,
        audience: settings.audience,
        requiredClaims: ['sub', 'exp', 'iat'],
        currentDate: new Date(now()),
      });
      // jose's maxTokenAge would refuse an iat even one second ahead (its clockTolerance also moves exp).
      const age = nowSeconds() - (payload.iat ?? Number.NaN);
      if (!(age >= -ISSUED_AT_LEEWAY_SECONDS && age <= settings.ttlSeconds)) return undefined;
      const role = payload.role as Role;
      // We only sign user ids; any other subject (which only the secret's holder could sign) would
      // reach the database as a bad uuid.
      if (payload.typ !== ACCESS_TOKEN_TYPE || !ROLES.includes(role) || typeof payload.sub !== 'string' || !isUuid(payload.sub) || payload.exp === undefined) return undefined;
      return { userId: payload.sub, role, expiresAtMs: payload.exp * 1000 };
    } catch (error) {
      if (error instanceof joseErrors.JOSEError || error instanceof TypeError) return undefined;
      throw error;
    }
  }

  return {
    ttlSeconds: settings.ttlSeconds,
    sign(principal) {
      const issuedAt = nowSeconds();
      return new SignJWT({ role: principal.role, typ: ACCESS_TOKEN_TYPE })
        .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
        .setSubject(principal.userId)
        .setIssuer(settings.issuer)
        .setAudience(settings.audience)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + settings.ttlSeconds)
        .sign(key);
    },
    recall: (token) => verified.get(token),
    async verify(token) {
      const known = verified.get(token);
      if (known) return known;
      const principal = await verifySignature(token);
      if (!principal) return undefined;
      const ttl = principal.expiresAtMs - now();
      if (ttl > 0) verified.set(token, principal, { ttl });
      return principal;
    },
  };
}

/** 256 random bits, URL-safe. Opaque to clients; only its hash is stored. */
export function generateRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * SHA-256 is enough here (unlike for passwords): the token has 256 bits of entropy, so the
 * hash cannot be brute-forced, and a fast hash keeps lookup by hash indexable.
 */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
