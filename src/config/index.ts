import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import type { RedisNode, RedisTarget } from '../platform/redis.js';
import { envSchema, type Env } from './env.schema.js';
import { colourLogs } from './log-colour.js';
import { secretWeakness } from './secret-strength.js';

export class ConfigError extends Error {}

export interface Config {
  env: Env['NODE_ENV'];
  http: {
    port: number;
    host: string;
    trustProxy: string | number | boolean | undefined;
    requestTimeoutMs: number;
    headersTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxConnections: number;
    /** How long a SIGTERM'd API keeps serving before it stops accepting connections. */
    shutdownDelayMs: number;
  };
  /** Undefined: /metrics is open (404 in production). */
  metricsToken: string | undefined;
  /** `colour`: pretty lines get colour codes (stdout is a terminal, or FORCE_COLOR). */
  log: { level: Env['LOG_LEVEL']; format: 'json' | 'pretty'; colour: boolean };
  /** `url` undefined → embedded PGlite in `dataDir`. */
  /** `statementTimeoutMs`: the server's statement_timeout; the client gives a statement up 2 s past it. */
  db: { url: string | undefined; poolMax: number; statementTimeoutMs: number };
  dataDir: string;
  /**
   * `target` undefined → in-process queue and cache. `url` is set in single-server mode only
   * (REDIS_URL/REDIS_HOST); Sentinel and Cluster modes have a `target` without a URL.
   */
  redis: { url: string | undefined; prefix: string; target: RedisTarget | undefined };
  jwt: {
    secret: string | undefined;
    issuer: string;
    audience: string;
    accessTtlSeconds: number;
    refreshTtlSeconds: number;
  };
  admin: { email: string | undefined; password: string | undefined };
  /** Parameters of new password hashes; a stored hash carries its own, so either verifies. */
  passwordHashProfile: Env['PASSWORD_HASH_PROFILE'];
  /** Password checks that may wait for a hashing slot; undefined: the default (passwords.ts). */
  passwordHashQueueLimit: number | undefined;
  limits: {
    loginFailuresPerAccountAndAddress: number;
    loginFailuresPerAccount: number;
    /** 0: no limit. */
    registrationsPerAddressPerHour: number;
    loginFailuresPerIp: number;
    loginWindowSeconds: number;
    ordersPerMinute: number;
    /** Undefined: no general per-address limit (the default). */
    requestsPerAddressPerMinute: number | undefined;
  };
  currency: string;
  seedDemoData: boolean;
  payment: { declineAboveCents: number | undefined; simulatedTransientFailures: number; simulatedLatencyMs: number };
  worker: { concurrency: number; metricsPort: number; lockDurationMs: number; standby: boolean; standbyMinIdleCores: number };
  jobs: {
    backoff: { baseMs: number; maxMs: number };
    outboxPollMs: number;
    outboxRelayDelayMs: number;
    reconcileIntervalMs: number;
    reconcileAfterSeconds: number;
  };
  events: {
    keepAliveMs: number;
    pollMs: number;
    maxStreamsPerUser: number;
    maxStreamsPerProcess: number;
    /** How long a stream waits for a client that takes nothing it was sent. */
    stallMs: number;
    retentionHours: number;
  };
  webhooks: {
    allowPrivateUrls: boolean;
    timeoutMs: number;
    maxAttempts: number;
    retryBaseMs: number;
    concurrency: number;
    pollMs: number;
  };
  mail: {
    /** `file`: `.eml` files in `dataDir/mail`, even when SMTP is configured. */
    transport: 'smtp' | 'file';
    smtpUrl: string | undefined;
    gmail: { user: string; pass: string } | undefined;
    from: string;
    claimLeaseSeconds: number;
    /** An email still failing this long after its first failure becomes `undeliverable` (an MTA's queue lifetime). */
    maxRetryHours: number;
  };
}

/**
 * Reads `.env` (if present) under the real environment: variables already set win. An empty (or
 * blank) value counts as unset everywhere, so `PAYMENT_DECLINE_ABOVE_CENTS=` means "no limit", not
 * 0, and `PORT=` the default port rather than any free one.
 */
function readEnvironment(source: NodeJS.ProcessEnv, dotenvPath: string | undefined): NodeJS.ProcessEnv {
  const fromFile = dotenvPath && existsSync(dotenvPath) ? parseEnv(readFileSync(dotenvPath, 'utf8')) : {};
  return { ...withoutEmpty(fromFile), ...withoutEmpty(source) };
}

function withoutEmpty(variables: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(variables).filter(([, value]) => value !== undefined && value.trim() !== ''));
}

function firstProblem(error: { issues: readonly { path: PropertyKey[]; message: string }[] }): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid configuration';
  return `${issue.path.map(String).join('.')}: ${issue.message}`;
}

function redisUrl(env: Env): string | undefined {
  if (env.REDIS_URL) return env.REDIS_URL;
  if (env.REDIS_HOST) return `redis://${env.REDIS_HOST}:${env.REDIS_PORT ?? 6379}`;
  return undefined;
}

/** Parses `host:port,host:port` (REDIS_SENTINELS, REDIS_CLUSTER_NODES); undefined if any entry is malformed. */
function parseRedisNodes(list: string, defaultPort: number): RedisNode[] | undefined {
  const nodes: RedisNode[] = [];
  for (const entry of list.split(',').map((part) => part.trim()).filter(Boolean)) {
    const match = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(entry);
    const port = match?.[2] ? Number(match[2]) : defaultPort;
    if (!match?.[1] || port < 1 || port > 65535) return undefined;
    nodes.push({ host: match[1].replace(/^\[|\]$/g, ''), port });
  }
  return nodes.length > 0 ? nodes : undefined;
}

/**
 * One Redis mode, or none (the embedded default). The more specific wins when several are set:
 * REDIS_CLUSTER_NODES, then REDIS_SENTINELS, then REDIS_URL/REDIS_HOST.
 */
function redisTarget(env: Env): RedisTarget | undefined {
  const url = redisUrl(env);
  const credentials = env.REDIS_PASSWORD ? { password: env.REDIS_PASSWORD } : {};
  if (env.REDIS_CLUSTER_NODES) {
    const nodes = parseRedisNodes(env.REDIS_CLUSTER_NODES, 6379);
    if (!nodes) throw new ConfigError('Invalid configuration: REDIS_CLUSTER_NODES must be host:port[,host:port…]');
    return { mode: 'cluster', nodes, ...credentials };
  }
  if (env.REDIS_SENTINELS) {
    const sentinels = parseRedisNodes(env.REDIS_SENTINELS, 26379);
    if (!sentinels) throw new ConfigError('Invalid configuration: REDIS_SENTINELS must be host:port[,host:port…]');
    return { mode: 'sentinel', sentinels, name: env.REDIS_SENTINEL_NAME, ...credentials };
  }
  return url ? { mode: 'single', url } : undefined;
}

/**
 * Parses and validates the environment once. Throws `ConfigError` whose message is one line
 * naming the offending variable, so start-up can print it and stop.
 */
export function loadConfig(
  source: NodeJS.ProcessEnv = process.env,
  dotenvPath: string | undefined = path.resolve('.env'),
): Readonly<Config> {
  const parsed = envSchema.safeParse(readEnvironment(source, dotenvPath));
  if (!parsed.success) throw new ConfigError(`Invalid configuration: ${firstProblem(parsed.error)}`);
  const env = parsed.data;

  if (env.NODE_ENV === 'production' && !env.JWT_SECRET) {
    throw new ConfigError('Invalid configuration: JWT_SECRET is required when NODE_ENV=production');
  }
  if (env.NODE_ENV === 'production' && env.PASSWORD_HASH_PROFILE !== 'owasp') {
    throw new ConfigError(
      `Invalid configuration: PASSWORD_HASH_PROFILE=${env.PASSWORD_HASH_PROFILE} is for test suites and is refused when NODE_ENV=production; unset it (owasp)`,
    );
  }
  if (env.EMAIL_USER && !env.EMAIL_PASS) {
    throw new ConfigError('Invalid configuration: EMAIL_PASS is required when EMAIL_USER is set');
  }
  const redis = redisTarget(env);
  if (env.NODE_ENV === 'production' && env.DATABASE_URL && !redis) {
    throw new ConfigError(
      'Invalid configuration: REDIS_URL (or REDIS_HOST, REDIS_SENTINELS, REDIS_CLUSTER_NODES) is required with DATABASE_URL in production; the in-process queue and cache are for the embedded default only',
    );
  }
  if (env.NODE_ENV === 'production' && !env.DATABASE_URL && !env.ALLOW_EMBEDDED_DB_IN_PRODUCTION) {
    throw new ConfigError(
      'Invalid configuration: DATABASE_URL is required when NODE_ENV=production (the embedded database is one process with no backups); set ALLOW_EMBEDDED_DB_IN_PRODUCTION=true to run it anyway',
    );
  }
  const smtpConfigured = Boolean(env.SMTP_URL || env.EMAIL_USER);
  if (env.MAIL_TRANSPORT === 'smtp' && !smtpConfigured) {
    throw new ConfigError('Invalid configuration: MAIL_TRANSPORT=smtp needs SMTP_URL (or EMAIL_USER and EMAIL_PASS)');
  }
  if (env.NODE_ENV === 'production' && !env.MAIL_TRANSPORT && !smtpConfigured) {
    throw new ConfigError(
      'Invalid configuration: SMTP_URL (or EMAIL_USER and EMAIL_PASS) is required when NODE_ENV=production, or customers get no email; set MAIL_TRANSPORT=file to write .eml files to DATA_DIR/mail instead',
    );
  }
  if (Boolean(env.ADMIN_EMAIL) !== Boolean(env.ADMIN_PASSWORD)) {
    throw new ConfigError('Invalid configuration: ADMIN_EMAIL and ADMIN_PASSWORD must be set together');
  }
  if (env.NODE_ENV === 'production' && env.JWT_SECRET) {
    const weakness = secretWeakness(env.JWT_SECRET);
    if (weakness) throw new ConfigError(`Invalid configuration: JWT_SECRET ${weakness}; generate one with: openssl rand -base64 48`);
  }

  const embedded = !env.DATABASE_URL;
  const config: Config = {
    env: env.NODE_ENV,
    http: {
      port: env.PORT,
      host: env.HOST,
      trustProxy: env.TRUST_PROXY,
      requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
      headersTimeoutMs: Math.min(env.HTTP_HEADERS_TIMEOUT_MS, env.HTTP_REQUEST_TIMEOUT_MS),
      keepAliveTimeoutMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: env.HTTP_MAX_CONNECTIONS,
      shutdownDelayMs: env.SHUTDOWN_DELAY_MS,
    },
    metricsToken: env.METRICS_TOKEN,
    log: {
      level: env.LOG_LEVEL,
      format: env.LOG_FORMAT ?? (env.NODE_ENV !== 'production' && process.stdout.isTTY ? 'pretty' : 'json'),
      colour: colourLogs({ isTTY: process.stdout.isTTY, noColor: env.NO_COLOR, forceColor: env.FORCE_COLOR }),
    },
    db: { url: env.DATABASE_URL, poolMax: env.DATABASE_POOL_MAX, statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS },
    dataDir: path.resolve(env.DATA_DIR),
    redis: { url: redisUrl(env), prefix: env.REDIS_PREFIX, target: redis },
    jwt: {
      secret: env.JWT_SECRET,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      accessTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
      refreshTtlSeconds: env.REFRESH_TOKEN_TTL_SECONDS,
    },
    admin: { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD },
    passwordHashProfile: env.PASSWORD_HASH_PROFILE,
    passwordHashQueueLimit: env.PASSWORD_HASH_QUEUE_LIMIT,
    limits: {
      loginFailuresPerAccountAndAddress: env.LOGIN_MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS,
      loginFailuresPerAccount: env.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      registrationsPerAddressPerHour: env.REGISTER_RATE_LIMIT_PER_ADDRESS_PER_HOUR,
      loginFailuresPerIp: env.LOGIN_MAX_FAILURES_PER_IP,
      loginWindowSeconds: env.LOGIN_FAILURE_WINDOW_SECONDS,
      ordersPerMinute: env.ORDER_RATE_LIMIT_PER_MINUTE,
      requestsPerAddressPerMinute: env.RATE_LIMIT_PER_ADDRESS_PER_MINUTE,
    },
    currency: env.CURRENCY,
    seedDemoData: env.SEED_DEMO_DATA ?? embedded,
    payment: {
      declineAboveCents: env.PAYMENT_DECLINE_ABOVE_CENTS,
      simulatedTransientFailures: env.PAYMENT_SIMULATOR_TRANSIENT_FAILURES,
      simulatedLatencyMs: env.PAYMENT_SIMULATOR_LATENCY_MS,
    },
    worker: { concurrency: env.WORKER_CONCURRENCY, metricsPort: env.WORKER_METRICS_PORT, lockDurationMs: env.WORKER_LOCK_DURATION_MS, standby: env.WORKER_STANDBY, standbyMinIdleCores: env.WORKER_STANDBY_MIN_IDLE_CORES },
    jobs: {
      backoff: { baseMs: env.JOB_BACKOFF_BASE_MS, maxMs: env.JOB_BACKOFF_MAX_MS },
      outboxPollMs: env.OUTBOX_POLL_MS,
      outboxRelayDelayMs: env.OUTBOX_RELAY_DELAY_MS,
      reconcileIntervalMs: env.RECONCILE_INTERVAL_MS,
      reconcileAfterSeconds: env.RECONCILE_AFTER_SECONDS,
    },
    events: {
      keepAliveMs: env.SSE_KEEPALIVE_MS,
      pollMs: env.SSE_POLL_MS,
      maxStreamsPerUser: env.SSE_MAX_STREAMS_PER_USER,
      maxStreamsPerProcess: env.SSE_MAX_STREAMS,
      stallMs: env.SSE_STALL_MS,
      retentionHours: env.ORDER_EVENTS_RETENTION_HOURS,
    },
    webhooks: {
      allowPrivateUrls: env.WEBHOOK_ALLOW_PRIVATE_URLS,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      maxAttempts: env.WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: env.WEBHOOK_RETRY_BASE_MS,
      concurrency: env.WEBHOOK_CONCURRENCY,
      pollMs: env.WEBHOOK_POLL_MS,
    },
    mail: {
      transport: env.MAIL_TRANSPORT ?? (smtpConfigured ? 'smtp' : 'file'),
      smtpUrl: env.SMTP_URL,
      gmail: env.EMAIL_USER && env.EMAIL_PASS ? { user: env.EMAIL_USER, pass: env.EMAIL_PASS } : undefined,
      from: env.MAIL_FROM,
      claimLeaseSeconds: env.EMAIL_CLAIM_LEASE_SECONDS,
      maxRetryHours: env.EMAIL_MAX_RETRY_HOURS,
    },
  };
  return Object.freeze(config);
}
