import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './index.js';

// 48 random bytes in base64url: strong enough for production's entropy check.
const SECRET = randomBytes(48).toString('base64url');
const SERVER = { DATABASE_URL: 'postgres://orders@db.internal:5432/orders', REDIS_URL: 'redis://redis.internal:6379' };

/** The one line a bad setting stops start-up with. */
function problem(env: Record<string, string>): string {
  try {
    loadConfig(env, undefined);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toMatch(/[\r\n]/);
    return message;
  }
  throw new Error(`expected a configuration error for ${JSON.stringify(env)}`);
}

describe('DATABASE_URL', () => {
  it.each(['localhost:5432/orders', 'mysql://a@b/c', 'http://db/orders', 'postgres:/missing-slashes'])('when it is %j, then start-up stops naming the expected form', (url) => {
    const message = problem({ DATABASE_URL: url });
    expect(message).toContain('DATABASE_URL');
    expect(message).toContain('postgres://');
  });

  it.each(['postgres://a@b:5432/c', 'postgresql://user:p%40ss@127.0.0.1/orders?sslmode=require', 'POSTGRES://a@b/c'])('when it is %j, then it is accepted', (url) => {
    expect(loadConfig({ DATABASE_URL: url }, undefined).db.url).toBe(url);
  });
});

describe('production guard rails', () => {
  it('when NODE_ENV=production is given the test-only password hash profile, then start-up stops naming PASSWORD_HASH_PROFILE', () => {
    const message = problem({ NODE_ENV: 'production', JWT_SECRET: SECRET, ...SERVER, MAIL_TRANSPORT: 'file', PASSWORD_HASH_PROFILE: 'test-only-weak' });
    expect(message).toContain('PASSWORD_HASH_PROFILE=test-only-weak');
    expect(message).toContain('NODE_ENV=production');
  });

  it('when no password hash profile is set, then new hashes use the OWASP parameters, in production and outside it', () => {
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET, ...SERVER, MAIL_TRANSPORT: 'file' }, undefined).passwordHashProfile).toBe('owasp');
    expect(loadConfig({}, undefined).passwordHashProfile).toBe('owasp');
    expect(loadConfig({ PASSWORD_HASH_PROFILE: 'test-only-weak' }, undefined).passwordHashProfile).toBe('test-only-weak');
    expect(problem({ PASSWORD_HASH_PROFILE: 'fast' })).toContain('PASSWORD_HASH_PROFILE');
  });

  it('when NODE_ENV=production runs the embedded database, then start-up stops naming DATABASE_URL and the opt-in', () => {
    const message = problem({ NODE_ENV: 'production', JWT_SECRET: SECRET, MAIL_TRANSPORT: 'file' });
    expect(message).toContain('DATABASE_URL');
    expect(message).toContain('ALLOW_EMBEDDED_DB_IN_PRODUCTION=true');
  });

  it('when the embedded database is allowed explicitly, then production starts on it', () => {
    const config = loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET, MAIL_TRANSPORT: 'file', ALLOW_EMBEDDED_DB_IN_PRODUCTION: 'true' }, undefined);
    expect(config.db.url).toBeUndefined();
  });

  it('when production has no mail transport, then start-up stops naming SMTP_URL and MAIL_TRANSPORT=file', () => {
    const message = problem({ NODE_ENV: 'production', JWT_SECRET: SECRET, ...SERVER });
    expect(message).toContain('SMTP_URL');
    expect(message).toContain('MAIL_TRANSPORT=file');
  });

  it('when production writes mail to files on purpose, or has SMTP, then it starts', () => {
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET, ...SERVER, MAIL_TRANSPORT: 'file' }, undefined).mail.transport).toBe('file');
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET, ...SERVER, SMTP_URL: 'smtp://mail:587' }, undefined).mail.transport).toBe('smtp');
  });

  it('outside production, then mail goes to files unless SMTP is configured, and MAIL_TRANSPORT=file wins over SMTP', () => {
    expect(loadConfig({}, undefined).mail.transport).toBe('file');
    expect(loadConfig({ EMAIL_USER: 'a@gmail.com', EMAIL_PASS: 'app-password' }, undefined).mail.transport).toBe('smtp');
    expect(loadConfig({ SMTP_URL: 'smtp://mail:587', MAIL_TRANSPORT: 'file' }, undefined).mail.transport).toBe('file');
  });

  it('when MAIL_TRANSPORT=smtp has no server, then start-up stops naming SMTP_URL', () => {
    expect(problem({ MAIL_TRANSPORT: 'smtp' })).toContain('SMTP_URL');
  });
});
