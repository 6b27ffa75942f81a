import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { envSchema } from './env.schema.js';
import { ConfigError, loadConfig } from './index.js';

// 48 random bytes in base64url: passes the production entropy check.
const SECRET = 'q3VtR8mZp1XkLw0sYb7HcN2fJd5GaE9uTiOxKrQyWvM4nBlC6hSgUeAoIjFzDP-_';
const ENV_EXAMPLE = path.resolve(import.meta.dirname, '../../.env.example');

/** Loads from `env` only: no `.env` file is read. */
const load = (env: Record<string, string> = {}) => loadConfig(env, undefined);

function configError(env: Record<string, string>, dotenvPath?: string): ConfigError {
  try {
    loadConfig(env, dotenvPath);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected ConfigError for ${JSON.stringify(env)}`);
}

const tempDirs: string[] = [];
function writeDotenv(content: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ops-config-'));
  tempDirs.push(dir);
  const file = path.join(dir, '.env');
  writeFileSync(file, content);
  return file;
}

afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('loadConfig', () => {
  it('when nothing is set, then every setting has its documented default', () => {
    const config = load();
    expect(config).toMatchObject({
      env: 'development',
      http: { port: 5000, host: '0.0.0.0', trustProxy: undefined },
      log: { level: 'info' },
      db: { url: undefined, poolMax: 10 },
      dataDir: path.resolve('./data'),
      redis: { url: undefined, prefix: 'ops' },
      jwt: {
        secret: undefined,
        issuer: 'order-service',
        audience: 'order-service-api',
        accessTtlSeconds: 900,
        refreshTtlSeconds: 30 * 24 * 3600,
      },
      admin: { email: undefined, password: undefined },
      limits: { loginFailuresPerAccountAndAddress: 10, loginFailuresPerAccount: 100, registrationsPerAddressPerHour: 100, loginFailuresPerIp: 100, loginWindowSeconds: 900, ordersPerMinute: 120 },
      currency: 'USD',
      seedDemoData: true,
      payment: { declineAboveCents: undefined },
      mail: { smtpUrl: undefined, gmail: undefined, from: 'Order Service <no-reply@order-service.local>' },
    });
  });

  it('when every variable is set empty (or blank), then each has its default, as if unset', () => {
    const names = ['PORT', 'HOST', 'DATA_DIR', 'PAYMENT_DECLINE_ABOVE_CENTS', 'REGISTER_RATE_LIMIT_PER_ADDRESS_PER_HOUR', 'RATE_LIMIT_PER_ADDRESS_PER_MINUTE', 'REDIS_PORT', 'MAIL_FROM', 'WORKER_METRICS_PORT', 'LOG_LEVEL'];
    const empty = loadConfig(Object.fromEntries(names.map((name, i) => [name, i % 2 === 0 ? '' : '  '])), undefined);
    const unset = loadConfig({}, undefined);
    expect(empty).toEqual(unset);
    expect(empty.payment.declineAboveCents).toBeUndefined();
  });

  it('when the environment sets a variable empty, then the .env file\'s value applies', () => {
    const dotenv = writeDotenv('PORT=6000\n');
    expect(loadConfig({ PORT: '' }, dotenv).http.port).toBe(6000);
  });

  it('when loaded, then the config is frozen', () => {
    expect(Object.isFrozen(load())).toBe(true);
  });

  it('when a variable is set both in the environment and in .env, then the environment wins', () => {
    const dotenv = writeDotenv('PORT=6000\nLOG_LEVEL=debug\nCURRENCY=EUR\n');
    const config = loadConfig({ PORT: '7000', CURRENCY: 'GBP' }, dotenv);
    expect(config.http.port).toBe(7000);
    expect(config.currency).toBe('GBP');
    expect(config.log.level).toBe('debug');
  });

  it('when the .env file does not exist, then only the environment is read', () => {
    const config = loadConfig({ PORT: '7001' }, path.join(tmpdir(), 'ops-no-such-dir', '.env'));
    expect(config.http.port).toBe(7001);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['JWT_SECRET', 'too-short'],
    ['ACCESS_TOKEN_TTL_SECONDS', '3600'],
    ['DATABASE_POOL_MAX', '0'],
    ['DATABASE_STATEMENT_TIMEOUT_MS', '0'],
    ['REDIS_PORT', 'six'],
    ['LOG_LEVEL', 'loud'],
    ['CURRENCY', 'usd'],
    ['SEED_DEMO_DATA', 'maybe'],
    ['SMTP_URL', 'not a url'],
    ['NODE_ENV', 'staging'],
  ])('when %s=%j, then it throws a one-line ConfigError naming the variable', (name, value) => {
    const error = configError({ [name]: value });
    expect(error.message).toContain(name);
    expect(error.message).not.toMatch(/[\r\n]/);
  });

  // Node fires a timer set beyond 2147483647 ms after 1 ms (TimeoutOverflowWarning): a poll or a
  // reconciler "every 30 days" ran in a tight loop, a keep-alive "of 30 days" closed at once. A
  // lifetime beyond what a timestamp holds failed every statement that used it: with
  // REFRESH_TOKEN_TTL_SECONDS=9007199254740991 every registration and login answered 400.
  const TIMER_MS = [
    'WORKER_LOCK_DURATION_MS', 'JOB_BACKOFF_BASE_MS', 'JOB_BACKOFF_MAX_MS', 'OUTBOX_POLL_MS', 'RECONCILE_INTERVAL_MS',
    'HTTP_REQUEST_TIMEOUT_MS', 'HTTP_HEADERS_TIMEOUT_MS', 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 'SSE_POLL_MS', 'SSE_STALL_MS',
    'WEBHOOK_RETRY_BASE_MS', 'WEBHOOK_POLL_MS',
  ];
  const LIFETIMES: [string, number][] = [
    ['REFRESH_TOKEN_TTL_SECONDS', 315_360_000],
    ['LOGIN_FAILURE_WINDOW_SECONDS', 315_360_000],
    ['EMAIL_CLAIM_LEASE_SECONDS', 315_360_000],
    ['RECONCILE_AFTER_SECONDS', 315_360_000],
    ['ORDER_EVENTS_RETENTION_HOURS', 87_600],
  ];
  it.each([...TIMER_MS.map((name) => [name, 2_147_483_647] as [string, number]), ...LIFETIMES])(
    'when %s is beyond %d (what a timer or a timestamp holds), then it throws a one-line ConfigError naming it, and the bound itself loads',
    (name, max) => {
      for (const value of [String(max + 1), '9007199254740991']) {
        const error = configError({ [name]: value });
        expect(error.message).toMatch(new RegExp(`^Invalid configuration: ${name}: must be at most`));
        expect(error.message).not.toMatch(/[\r\n]/);
      }
      expect(() => load({ [name]: String(max) })).not.toThrow();
    },
  );

  it('when a bad value comes from the .env file, then the error names the variable too', () => {
    const dotenv = writeDotenv('ORDER_RATE_LIMIT_PER_MINUTE=-5\n');
    const error = configError({}, dotenv);
    expect(error.message).toContain('ORDER_RATE_LIMIT_PER_MINUTE');
    expect(error.message).not.toMatch(/[\r\n]/);
  });

  it('when NODE_ENV=production and JWT_SECRET is missing, then it throws naming JWT_SECRET', () => {
    const error = configError({ NODE_ENV: 'production' });
    expect(error.message).toContain('JWT_SECRET');
    expect(error.message).not.toMatch(/[\r\n]/);
  });

  it('when NODE_ENV=production and JWT_SECRET is set, then it loads with JSON logs', () => {
    const config = load({ NODE_ENV: 'production', JWT_SECRET: SECRET, ALLOW_EMBEDDED_DB_IN_PRODUCTION: 'true', MAIL_TRANSPORT: 'file' });
    expect(config.env).toBe('production');
    expect(config.jwt.secret).toBe(SECRET);
    expect(config.log.format).toBe('json');
  });

  it('when only one of ADMIN_EMAIL and ADMIN_PASSWORD is set, then it throws naming both', () => {
    const error = configError({ ADMIN_EMAIL: 'root@example.com' });
    expect(error.message).toContain('ADMIN_EMAIL');
    expect(error.message).toContain('ADMIN_PASSWORD');
  });

  it('when EMAIL_USER is set without EMAIL_PASS, then it throws naming EMAIL_PASS', () => {
    expect(configError({ EMAIL_USER: 'shop@example.com' }).message).toContain('EMAIL_PASS');
  });

  it('when EMAIL_USER and EMAIL_PASS are set, then Gmail credentials are configured', () => {
    expect(load({ EMAIL_USER: 'shop@example.com', EMAIL_PASS: 'app-pass' }).mail.gmail).toEqual({
      user: 'shop@example.com',
      pass: 'app-pass',
    });
  });

  describe('Redis', () => {
    it('when REDIS_HOST and REDIS_PORT are set, then they become a redis URL', () => {
      expect(load({ REDIS_HOST: 'cache.internal', REDIS_PORT: '6380' }).redis.url).toBe('redis://cache.internal:6380');
    });

    it('when only REDIS_HOST is set, then the port defaults to 6379', () => {
      expect(load({ REDIS_HOST: 'cache.internal' }).redis.url).toBe('redis://cache.internal:6379');
    });

    it('when REDIS_URL and REDIS_HOST are both set, then REDIS_URL wins', () => {
      const config = load({ REDIS_URL: 'redis://primary:6379/2', REDIS_HOST: 'other', REDIS_PORT: '7000' });
      expect(config.redis.url).toBe('redis://primary:6379/2');
    });

    it('when REDIS_URL is empty, then Redis is not configured', () => {
      expect(load({ REDIS_URL: '' }).redis.url).toBeUndefined();
      expect(load({ REDIS_URL: '' }).redis.target).toBeUndefined();
    });

    it('when REDIS_URL is set, then the mode is single', () => {
      expect(load({ REDIS_URL: 'redis://primary:6379/2' }).redis.target).toEqual({ mode: 'single', url: 'redis://primary:6379/2' });
    });

    it('when REDIS_SENTINELS is set, then the mode is Sentinel with the named primary and the default Sentinel port', () => {
      const config = load({ REDIS_SENTINELS: 's1:26380, s2', REDIS_SENTINEL_NAME: 'orders', REDIS_PASSWORD: 'pw' });
      expect(config.redis.target).toEqual({
        mode: 'sentinel',
        name: 'orders',
        sentinels: [
          { host: 's1', port: 26380 },
          { host: 's2', port: 26379 },
        ],
        password: 'pw',
      });
      expect(config.redis.url).toBeUndefined();
    });

    it('when REDIS_CLUSTER_NODES is set, then the mode is Cluster', () => {
      expect(load({ REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:7001' }).redis.target).toEqual({
        mode: 'cluster',
        nodes: [
          { host: '10.0.0.1', port: 7000 },
          { host: '10.0.0.2', port: 7001 },
        ],
      });
    });

    it('when several Redis modes are set, then the most specific wins: Cluster, then Sentinel, then the URL', () => {
      expect(load({ REDIS_URL: 'redis://a:6379', REDIS_SENTINELS: 's:26379', REDIS_CLUSTER_NODES: 'b:7000' }).redis.target?.mode).toBe('cluster');
      expect(load({ REDIS_URL: 'redis://a:6379', REDIS_SENTINELS: 's:26379' }).redis.target?.mode).toBe('sentinel');
    });

    it('when a node list is malformed, then loading fails naming the variable', () => {
      expect(() => load({ REDIS_CLUSTER_NODES: 'b:notaport' })).toThrow(/REDIS_CLUSTER_NODES must be host:port/);
    });
  });

  describe('TRUST_PROXY', () => {
    it.each([
      ['1', 1],
      ['2', 2],
      ['true', true],
      ['false', false],
      ['loopback', 'loopback'],
      ['10.0.0.0/8, loopback', '10.0.0.0/8, loopback'],
      ['10.0.0.0/255.0.0.0', '10.0.0.0/255.0.0.0'],
      ['linklocal,uniquelocal, ::1, fd00::/8, 192.168.1.7', 'linklocal,uniquelocal, ::1, fd00::/8, 192.168.1.7'],
    ])('when set to %j, then Express gets %j', (value, expected) => {
      const { trustProxy } = load({ TRUST_PROXY: value }).http;
      expect(trustProxy).toEqual(expected);
      expect(() => express().set('trust proxy', trustProxy)).not.toThrow();
    });

    // Express compiles the setting only when the app is built, after migrations and seeding, and
    // then stopped start-up with a stack trace that did not name the variable.
    it.each(['foo', '10.0.0.0/8, nonsense', '1.2.3.4/33', '::1/129', '10.0.0.0/255.0.255.0', '10.0.0.1,', 'loopback/8'])(
      'when set to %j (no address, subnet or hop count), then it throws a one-line ConfigError naming TRUST_PROXY',
      (value) => {
        expect(() => express().set('trust proxy', value)).toThrow();
        const error = configError({ TRUST_PROXY: value });
        expect(error.message).toMatch(/^Invalid configuration: TRUST_PROXY: /);
        expect(error.message).not.toMatch(/[\r\n]/);
      },
    );
  });

  describe('server mode without Redis', () => {
    it('when NODE_ENV=production and DATABASE_URL is set without Redis, then start-up stops naming REDIS_URL', () => {
      expect(() => load({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), DATABASE_URL: 'postgres://a@b/c' })).toThrow(/REDIS_URL/);
    });

    it('outside production, then a single instance may use the in-process queue', () => {
      expect(load({ DATABASE_URL: 'postgres://a@b/c' }).redis.url).toBeUndefined();
    });
  });

  describe('SEED_DEMO_DATA', () => {
    const DATABASE_URL = 'postgres://orders@127.0.0.1:5432/orders';

    it('when DATABASE_URL is unset (embedded), then demo data is seeded by default', () => {
      expect(load().seedDemoData).toBe(true);
    });

    it('when DATABASE_URL is set, then demo data is off by default', () => {
      const config = load({ DATABASE_URL });
      expect(config.db.url).toBe(DATABASE_URL);
      expect(config.seedDemoData).toBe(false);
    });

    it('when DATABASE_URL is an empty string, then it counts as unset', () => {
      const config = load({ DATABASE_URL: '' });
      expect(config.db.url).toBeUndefined();
      expect(config.seedDemoData).toBe(true);
    });

    it.each([
      [{ DATABASE_URL, SEED_DEMO_DATA: 'true' }, true],
      [{ SEED_DEMO_DATA: 'false' }, false],
      [{ SEED_DEMO_DATA: '0' }, false],
      [{ DATABASE_URL, SEED_DEMO_DATA: 'yes' }, true],
    ])('when set explicitly (%j), then the explicit value wins', (env, expected) => {
      expect(load(env).seedDemoData).toBe(expected);
    });
  });

  it('when the legacy MONGO_URI is set, then it is accepted and ignored', () => {
    const config = load({ MONGO_URI: 'mongodb://127.0.0.1:27017/orders' });
    expect(JSON.stringify(config)).not.toContain('mongodb');
    expect(config.db.url).toBeUndefined();
  });
});

describe('.env.example', () => {
  it('when read, then it mentions every variable of the schema', () => {
    const text = readFileSync(ENV_EXAMPLE, 'utf8');
    const mentioned = new Set([...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]));
    const missing = Object.keys(envSchema.shape).filter((name) => !mentioned.has(name));
    expect(missing).toEqual([]);
  });

  it('when used as the .env file, then it is a valid configuration', () => {
    const config = loadConfig({}, ENV_EXAMPLE);
    expect(config.http.port).toBe(5000);
    expect(config.mail.from).toBe('Order Service <no-reply@order-service.local>');
  });

  it('when every commented example is enabled, then it is still a valid configuration', () => {
    const text = readFileSync(ENV_EXAMPLE, 'utf8').replace(/^#\s*([A-Z][A-Z0-9_]*=)/gm, '$1');
    const config = loadConfig({}, writeDotenv(text));
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.db.url).toMatch(/^postgres:\/\//);
  });
});
