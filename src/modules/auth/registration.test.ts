import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORAGE_KINDS, startTestApp, type TestApp } from '../../../test/harness.js';
import { uniqueEmail } from '../../../test/users.js';

describe.each(STORAGE_KINDS)('registration on %s', (storage) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ storage, env: { REGISTER_RATE_LIMIT_PER_ADDRESS_PER_HOUR: '1000' } });
  });
  afterAll(() => app.close());

  it('when name is left out, then it is the part of the email before @', async () => {
    const res = await app.http.post('/api/auth/register').send({ email: 'Grace.Hopper@example.com', password: 'long enough' });
    expect(res.status).toBe(201);
    expect(res.body.user.name).toBe('Grace.Hopper');
  });

  it.each([
    ['a line break', 'Ann\r\nBcc: victim@example.com'],
    ['a tab', 'Ann\tLee'],
    ['a NUL', 'Ann\u0000'],
    ['an escape sequence', 'Ann\u001b[31m'],
    ['a Unicode line separator', 'Ann\u2028Lee'],
    ['a right-to-left override', 'Ann\u202Egpj.exe'],
    ['a bidi isolate', 'Ann\u2066Lee\u2069'],
    ['a zero width space', 'Ann\u200BLee'],
    ['a zero width no-break space (byte order mark)', 'Ann\uFEFFLee'],
    ['a word joiner', 'Ann\u2060Lee'],
    ['a soft hyphen', 'Ann\u00ADLee'],
  ])('when the name holds %s, then 400 naming `name` and no account is made', async (_label, name) => {
    const email = uniqueEmail('ctl');
    const res = await app.http.post('/api/auth/register').send({ email, password: 'long enough', name });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'name' })]));
    const { rows } = await app.db.query('SELECT 1 FROM users WHERE lower(email) = lower($1)', [email]);
    expect(rows).toHaveLength(0);
  });

  it('accepts names in any script, with punctuation', async () => {
    const res = await app.http.post('/api/auth/register').send({ email: uniqueEmail('intl'), password: 'long enough', name: "Zoë O'Brien-Łukasz 李" });
    expect(res.status).toBe(201);
  });

  it.each([
    ['a zero width joiner (an emoji sequence)', 'Ada \u{1F469}\u200D\u{1F4BB}'],
    ['a zero width non-joiner (Persian)', '\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645'],
  ])('when the name holds %s, then it is accepted and kept as sent', async (_label, name) => {
    const res = await app.http.post('/api/auth/register').send({ email: uniqueEmail('zwj'), password: 'long enough', name });
    expect(res.status).toBe(201);
    expect(res.body.user.name).toBe(name);
  });
});

describe('registration limit per client address', () => {
  it('when an address registers more than REGISTER_RATE_LIMIT_PER_ADDRESS_PER_HOUR, then 429 RATE_LIMITED with Retry-After; other addresses go on', async () => {
    const app = await startTestApp({ storage: 'postgres', redis: true, env: { REGISTER_RATE_LIMIT_PER_ADDRESS_PER_HOUR: '3', TRUST_PROXY: '1' } });
    try {
      const register = (address: string) =>
        app.http.post('/api/auth/register').set('X-Forwarded-For', address).send({ email: uniqueEmail('flood'), password: 'long enough' });
      for (let i = 0; i < 3; i++) expect((await register('203.0.113.5')).status).toBe(201);
      const refused = await register('203.0.113.5');
      expect(refused.status).toBe(429);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(refused.body.code).toBe('RATE_LIMITED');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(3000);
      expect((await register('198.51.100.5')).status).toBe(201);
    } finally {
      await app.close();
    }
  });

  it('when set to 0, then there is no limit', async () => {
    const app = await startTestApp({ storage: 'postgres', env: { REGISTER_RATE_LIMIT_PER_ADDRESS_PER_HOUR: '0' } });
    try {
      expect(app.config.limits.registrationsPerAddressPerHour).toBe(0);
      const statuses = await Promise.all(
        Array.from({ length: 5 }, async () => (await app.http.post('/api/auth/register').send({ email: uniqueEmail('free'), password: 'long enough' })).status),
      );
      expect(statuses).toEqual([201, 201, 201, 201, 201]);
    } finally {
      await app.close();
    }
  });
});
