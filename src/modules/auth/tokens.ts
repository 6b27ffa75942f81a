import { createHash, randomBytes } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { ROLES, type Principal, type Role } from '../../shared/principal.js';

/** The only algorithm we sign with and the only one we accept: `alg: none` or RS/ES tokens are refused. */
const ALGORITHM = 'HS256';
/** A claim that makes an access token unusable anywhere else a JWT could be presented. */
const ACCESS_TOKEN_TYPE = 'access';

export interface AccessTokenSettings {
  secret: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export interface AccessTokens {
  sign(principal: Principal): Promise<string>;
  /** Returns the principal of a valid token, or `undefined` for any invalid, expired or foreign token. */
  verify(token: string): Promise<Principal | undefined>;
  readonly ttlSeconds: number;
}

export function createAccessTokens(settings: AccessTokenSettings): AccessTokens {
  const key = new TextEncoder().encode(settings.secret);
  return {
    ttlSeconds: settings.ttlSeconds,
    sign: (principal) =>
      new SignJWT({ role: principal.role, typ: ACCESS_TOKEN_TYPE })
        .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
        .setSubject(principal.userId)
        .setIssuer(settings.issuer)
        .setAudience(settings.audience)
        .setIssuedAt()
        .setExpirationTime(`${settings.ttlSeconds}s`)
        .sign(key),
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [ALGORITHM],
          issuer: settings.issuer,
          audience: settings.audience,
          requiredClaims: ['sub', 'exp', 'iat'],
          maxTokenAge: `${settings.ttlSeconds}s`,
        });
        const role = payload.role as Role;
        if (payload.typ !== ACCESS_TOKEN_TYPE || !ROLES.includes(role) || !payload.sub) return undefined;
        return { userId: payload.sub, role };
      } catch (error) {
        if (error instanceof joseErrors.JOSEError || error instanceof TypeError) return undefined;
        throw error;
      }
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
