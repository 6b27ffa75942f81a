import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './index.js';
import { secretWeakness } from './secret-strength.js';

// The guard rails for the database and mail opted out of, so only the secret is judged.
const production = (JWT_SECRET: string) => () =>
  loadConfig({ NODE_ENV: 'production', JWT_SECRET, ALLOW_EMBEDDED_DB_IN_PRODUCTION: 'true', MAIL_TRANSPORT: 'file' }, undefined);

describe('JWT_SECRET strength in production', () => {
  it.each([
    ['one letter repeated', 'a'.repeat(64)],
    ['a short alphabet repeated', 'abcdefgh'.repeat(8)],
    ['32 hex digits (128 bits)', '0123456789abcdef0123456789abcdef'],
    ['a 40-character phrase of 15 letters', 'correcthorsebatterystaplecorrecthorsebat'],
  ])('refuses %s with one line naming JWT_SECRET', (_label, secret) => {
    expect(production(secret)).toThrow(ConfigError);
    expect(production(secret)).toThrow(/^Invalid configuration: JWT_SECRET (has only \d+ distinct characters|is too weak \(about \d+ bits)[^\n]*openssl rand -base64 48$/);
  });

  it.each([
    ['openssl rand -base64 48', 'Zk3Jx0b9QmV1rT7yW2eN5uH8cL4pA6sD0gF3jK9oI1zX2vB7nM5qR8tY4wE6uP0a'],
    ['openssl rand -hex 32', '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'],
    // Random hex that happens to lack a digit (here 'e'): 2.5 % of 64-digit draws.
    ['64 random hex digits without an e', '9f86d081884c7d659a2f0aa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'],
  ])('accepts %s', (_label, secret) => {
    expect(secretWeakness(secret)).toBeUndefined();
    expect(production(secret)().jwt.secret).toBe(secret);
  });

  it('outside production, then a weak secret is still accepted (tests and local runs)', () => {
    expect(loadConfig({ NODE_ENV: 'development', JWT_SECRET: 'x'.repeat(32) }, undefined).jwt.secret).toBe('x'.repeat(32));
  });
});
