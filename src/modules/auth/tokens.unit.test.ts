import { SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { createAccessTokens, generateRefreshToken, hashRefreshToken } from './tokens.js';

const settings = { secret: 's'.repeat(48), issuer: 'order-service', audience: 'order-service-api', ttlSeconds: 900 };
const tokens = createAccessTokens(settings);
const key = new TextEncoder().encode(settings.secret);
const principal = { userId: '6f1c1f39-4a3c-4d53-9d7e-3c2f1f0b8a11', role: 'customer' as const };

function claims(overrides: Record<string, unknown> = {}) {
  return { role: 'customer', typ: 'access', ...overrides };
}

function forge(options: { alg?: string; secret?: Uint8Array; payload?: Record<string, unknown>; sub?: unknown; iss?: string; aud?: string; exp?: number | string } = {}) {
  const now = Math.floor(Date.now() / 1000);
  // A subject of any type: the forger is not bound by jose's types.
  return new SignJWT({ sub: 'sub' in options ? options.sub : principal.userId, ...(options.payload ?? claims()) } as JWTPayload)
    .setProtectedHeader({ alg: options.alg ?? 'HS256' })
    .setIssuer(options.iss ?? settings.issuer)
    .setAudience(options.aud ?? settings.audience)
    .setIssuedAt(now - 10)
    .setExpirationTime(options.exp ?? now + 600)
    .sign(options.secret ?? key);
}

describe('access tokens', () => {
  it('round-trips a principal and carries sub, role, iat, exp, iss, aud and the token type', async () => {
    const token = await tokens.sign(principal);
    const [header, payload] = token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>);
    expect(header).toMatchObject({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toMatchObject({ sub: principal.userId, role: 'customer', typ: 'access', iss: 'order-service', aud: 'order-service-api' });
    expect((payload!.exp as number) - (payload!.iat as number)).toBe(900);
    // The principal says when its token expires: event streams end then.
    expect(await tokens.verify(token)).toEqual({ ...principal, expiresAtMs: (payload!.exp as number) * 1000 });
  });

  it('accepts a token forged the way we sign (control for the attacks below)', async () => {
    expect(await tokens.verify(await forge())).toMatchObject(principal);
  });

  it.each([
    ['signed with another key', () => forge({ secret: new TextEncoder().encode('x'.repeat(48)) })],
    ['signed with HS512 and our key', () => forge({ alg: 'HS512' })],
    ['expired', () => forge({ exp: Math.floor(Date.now() / 1000) - 1 })],
    ['from another issuer', () => forge({ iss: 'evil' })],
    ['for another audience', () => forge({ aud: 'other-api' })],
    ['without the access token type', () => forge({ payload: { role: 'customer' } })],
    ['of another token type', () => forge({ payload: claims({ typ: 'refresh' }) })],
    ['with an unknown role', () => forge({ payload: claims({ role: 'root' }) })],
    // Only the secret's holder could sign these; they must still answer 401, not reach SQL.
    ['whose subject is not a user id', () => forge({ sub: 'not-a-uuid' })],
    ['whose subject is a number', () => forge({ sub: 12345 })],
    [
      'with alg none',
      () =>
        Promise.resolve(
          new UnsecuredJWT(claims()).setSubject(principal.userId).setIssuer(settings.issuer).setAudience(settings.audience).setIssuedAt().setExpirationTime('10m').encode(),
        ),
    ],
    [
      'tampered to claim admin',
      async () => {
        const [header, , signature] = (await tokens.sign(principal)).split('.');
        const payload = Buffer.from(JSON.stringify({ ...claims({ role: 'admin' }), sub: principal.userId, iss: settings.issuer, aud: settings.audience, iat: 1, exp: 9e9 })).toString('base64url');
        return `${header}.${payload}.${signature}`;
      },
    ],
    ['that is not a JWT', () => Promise.resolve(generateRefreshToken())],
  ])('rejects a token %s', async (_label, make) => {
    expect(await tokens.verify(await make())).toBeUndefined();
  });
});

describe('access tokens across API instances whose clocks differ slightly', () => {
  it('when one instance signs a token a fraction of a second "before" another instance\'s clock, then the other accepts it', async () => {
    // Instance A's clock runs 300 ms ahead of B's: at 12:00:00.100 on A it is 11:59:59.800 on B,
    // so the token's iat (whole seconds) is one second in B's future.
    const onA = createAccessTokens({ ...settings, now: () => Date.UTC(2026, 0, 1, 12, 0, 0, 100) });
    const onB = createAccessTokens({ ...settings, now: () => Date.UTC(2026, 0, 1, 11, 59, 59, 800) });
    expect(await onB.verify(await onA.sign(principal))).toMatchObject(principal);
  });

  it('still refuses a token issued further in the future than clocks drift apart, or issued longer ago than the lifetime', async () => {
    const nowS = Math.floor(Date.now() / 1000);
    const make = (iat: number, exp: number) =>
      new SignJWT({ sub: principal.userId, ...claims() }).setProtectedHeader({ alg: 'HS256' }).setIssuer(settings.issuer).setAudience(settings.audience).setIssuedAt(iat).setExpirationTime(exp).sign(key);
    expect(await tokens.verify(await make(nowS + 3600, nowS + 3600 + 900))).toBeUndefined();
    expect(await tokens.verify(await make(nowS - 901, nowS + 60))).toBeUndefined();
    expect(await tokens.verify(await make(nowS - 10, nowS + 890))).toMatchObject(principal);
  });
});

describe('remembered verifications', () => {
  it('stop being accepted when the token expires', async () => {
    let nowMs = Date.UTC(2026, 0, 1, 12, 0, 0, 250);
    const shortLived = createAccessTokens({ ...settings, ttlSeconds: 2, now: () => nowMs });
    const token = await shortLived.sign(principal);
    const verified = { ...principal, expiresAtMs: Date.UTC(2026, 0, 1, 12, 0, 2) };
    expect(shortLived.recall(token)).toBeUndefined();
    expect(await shortLived.verify(token)).toEqual(verified);
    expect(shortLived.recall(token)).toEqual(verified);
    nowMs += 1_500;
    expect(shortLived.recall(token)).toEqual(verified);
    expect(await shortLived.verify(token)).toEqual(verified);
    nowMs += 1_000; // past exp (whole seconds: signed at 12:00:00, expires at 12:00:02)
    expect(shortLived.recall(token)).toBeUndefined();
    expect(await shortLived.verify(token)).toBeUndefined();
  });

  it('are never made for a token that failed verification', async () => {
    const forged = await forge({ secret: new TextEncoder().encode('x'.repeat(48)) });
    expect(await tokens.verify(forged)).toBeUndefined();
    expect(tokens.recall(forged)).toBeUndefined();
  });
});

describe('refresh tokens', () => {
  it('are 256-bit random, URL-safe and never repeat', () => {
    const seen = new Set(Array.from({ length: 1000 }, generateRefreshToken));
    expect(seen.size).toBe(1000);
    for (const token of seen) expect(Buffer.from(token, 'base64url')).toHaveLength(32);
  });

  it('hash to a stable SHA-256 hex digest that differs from the token', () => {
    const token = generateRefreshToken();
    expect(hashRefreshToken(token)).toBe(hashRefreshToken(token));
    expect(hashRefreshToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashRefreshToken(token)).not.toContain(token);
  });
});
