import { z } from 'zod';
import { isTrustedProxyList } from './trust-proxy.js';

const optionalString = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const boolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const positiveInt = z.coerce.number().int().positive();

/** The longest delay a Node timer holds: beyond it setTimeout/setInterval fire after 1 ms (TimeoutOverflowWarning). */
const TIMER_MAX_MS = 2_147_483_647;
/** A delay or period in ms that becomes a timer. */
const durationMs = positiveInt.max(TIMER_MAX_MS, `must be at most ${TIMER_MAX_MS} (about 24 days, the longest delay a timer holds)`);
/** A lifetime stamped on rows or keys: ten years, far inside what a timestamp or an interval holds. */
const MAX_LIFETIME_SECONDS = 315_360_000;
const lifetimeSeconds = positiveInt.max(MAX_LIFETIME_SECONDS, `must be at most ${MAX_LIFETIME_SECONDS} (10 years)`);

/**
 * Every environment variable the service reads, described once. The README's configuration
 * table mirrors these descriptions.
 */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(5000).describe('HTTP port of the API'),
  HOST: z.string().default('0.0.0.0').describe('Interface the API listens on'),
  LOG_LEVEL: z
    .enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'])
    .default('info'),
  LOG_FORMAT: z
    .enum(['json', 'pretty'])
    .optional()
    .describe('Defaults to pretty on a terminal outside production, JSON otherwise'),
  NO_COLOR: optionalString.describe('Any value: pretty log lines without colour codes (no-color.org)'),
  FORCE_COLOR: optionalString.describe('Pretty log lines with colour codes even when stdout is not a terminal; 0 or false: never'),
  TRUST_PROXY: optionalString
    .transform((value) => {
      // Express reads a number as "trust this many hops" and true/false as all/none; a string
      // is a list of addresses or subnet names. The environment only has strings.
      if (value === undefined) return undefined;
      if (/^\d+$/.test(value)) return Number(value);
      if (value === 'true' || value === 'false') return value === 'true';
      return value;
    })
    .refine(
      (value) => typeof value !== 'string' || isTrustedProxyList(value),
      'must be a hop count, true, false, or comma-separated addresses and subnets (10.0.0.0/8, loopback, linklocal, uniquelocal)',
    )
    .describe("Express 'trust proxy': a hop count (1), true, or addresses/subnets (loopback, 10.0.0.0/8), so client addresses come from X-Forwarded-For"),

  DATABASE_URL: optionalString
    .pipe(
      z
        .string()
        // Without a scheme, pg reads "localhost:5432/db" as a socket path and fails much later
        // with "no PostgreSQL user name specified in startup packet".
        .regex(/^postgres(ql)?:\/\/[^\s]+$/i, 'must be a postgres:// or postgresql:// URL, e.g. postgres://user:password@127.0.0.1:5432/orders')
        .optional(),
    )
    .describe('PostgreSQL URL; unset → embedded PostgreSQL (PGlite) in DATA_DIR'),
  ALLOW_EMBEDDED_DB_IN_PRODUCTION: boolean
    .optional()
    .describe('Lets NODE_ENV=production run on the embedded database (one process, no backups of its own)'),
  DATABASE_POOL_MAX: positiveInt.max(200).default(10),
  DATABASE_STATEMENT_TIMEOUT_MS: positiveInt
    .min(100)
    .max(3_600_000, 'must be at most 3600000 (1 hour)')
    .default(15_000)
    .describe("The server cancels a statement running this long (statement_timeout), and a statement still unanswered 2 s later (a network dropping packets) is given up with its connection: 503 for a request, a retry for a job"),
  DATA_DIR: z.string().default('./data').describe('Embedded database, generated secrets, .eml mail'),

  REDIS_URL: optionalString.describe('Redis URL; unset (and no REDIS_HOST) → in-process queue and cache'),
  REDIS_HOST: optionalString,
  REDIS_PORT: positiveInt.max(65535).optional(),
  REDIS_SENTINELS: optionalString.describe('Sentinel mode: host:port,host:port of the Sentinels (instead of REDIS_URL)'),
  REDIS_SENTINEL_NAME: z.string().min(1).default('mymaster').describe('Sentinel mode: the monitored primary name'),
  REDIS_CLUSTER_NODES: optionalString.describe('Cluster mode: host:port,host:port seed nodes of a Redis Cluster (instead of REDIS_URL)'),
  REDIS_PASSWORD: optionalString.describe('Sentinel and Cluster modes: password of the Redis data nodes (a URL carries its own)'),
  REDIS_PREFIX: z.string().min(1).default('ops').describe('Prefix of every Redis key and queue'),

  JWT_SECRET: optionalString.pipe(
    z.string().min(32, 'must be at least 32 characters (256 bits)').optional(),
  ),
  JWT_ISSUER: z.string().min(1).default('order-service'),
  JWT_AUDIENCE: z.string().min(1).default('order-service-api'),
  ACCESS_TOKEN_TTL_SECONDS: positiveInt.max(900, 'must be at most 900 (15 minutes)').default(900),
  REFRESH_TOKEN_TTL_SECONDS: lifetimeSeconds.default(30 * 24 * 3600),

  ADMIN_EMAIL: optionalString.pipe(z.email().optional()),
  ADMIN_PASSWORD: optionalString.pipe(z.string().min(8).max(128).optional()),
  PASSWORD_HASH_PROFILE: z
    .enum(['owasp', 'test-only-weak'])
    .default('owasp')
    .describe('argon2id parameters for new password hashes: owasp (m=19 MiB, t=2) or test-only-weak (m=1 MiB, t=1, for test suites; refused in production)'),

  PASSWORD_HASH_QUEUE_LIMIT: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .describe('Password checks (login, registration, password change) that may wait for a hashing slot; more are answered 503 at once. Unset: 32 per slot'),

  LOGIN_MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS: positiveInt.default(10).describe('Failed logins per account from one client address per window'),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: positiveInt.default(100).describe('Failed logins per account across all addresses per window (high, so no one can lock the real user out)'),
  LOGIN_MAX_FAILURES_PER_IP: positiveInt.default(100).describe('Failed logins per client address across all accounts per window'),
  LOGIN_FAILURE_WINDOW_SECONDS: lifetimeSeconds.default(900),
  REGISTER_RATE_LIMIT_PER_ADDRESS_PER_HOUR: z.coerce.number().int().min(0).default(100).describe('Registrations per client address per hour; 0 turns the limit off'),
  ORDER_RATE_LIMIT_PER_MINUTE: positiveInt.default(120),
  RATE_LIMIT_PER_ADDRESS_PER_MINUTE: positiveInt.optional().describe('Requests per client address per minute, for every route; unset (the default) means no such limit'),

  CURRENCY: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD')
    .default('USD'),
  SEED_DEMO_DATA: boolean.optional().describe('Seed a demo catalog when empty; default on only in the embedded default'),
  PAYMENT_DECLINE_ABOVE_CENTS: z.coerce.number().int().min(0).optional(),
  PAYMENT_SIMULATOR_LATENCY_MS: z.coerce.number().int().min(0).max(60_000).default(0).describe('Testing: how long each simulated charge takes'),
  EMAIL_CLAIM_LEASE_SECONDS: lifetimeSeconds.default(60).describe('How long a sender owns an email before another may send it (longer than one SMTP attempt)'),
  EMAIL_MAX_RETRY_HOURS: positiveInt
    .max(24 * 30)
    .default(72)
    .describe('An email still failing with a retryable reply (a full mailbox, greylisting, an outage) this long after its first failure is given up (undeliverable)'),
  PAYMENT_SIMULATOR_TRANSIENT_FAILURES: z.coerce.number().int().min(0).default(0).describe('Testing: the first N charge attempts of every order fail transiently'),
  WORKER_CONCURRENCY: positiveInt.max(100).default(5),
  WORKER_LOCK_DURATION_MS: durationMs
    .min(1000)
    .default(5000)
    .describe('A job whose worker stops heartbeating for this long is retried elsewhere (found within this + 2 stalled checks of half of it)'),
  WORKER_STANDBY: boolean
    .default(true)
    .describe('Workers beyond the first fetch jobs only while the active ones are short of CPU or job slots and their own host has a free core; false: every worker always fetches'),
  WORKER_STANDBY_MIN_IDLE_CORES: z.coerce
    .number()
    .min(0)
    .max(1024)
    .default(0.75)
    .describe("Idle cores a standby worker's host must have for it to join; 0 joins on the active workers' load alone (containers whose CPU quota the host's idle cores do not show)"),
  JOB_BACKOFF_BASE_MS: durationMs.default(1000),
  JOB_BACKOFF_MAX_MS: durationMs.default(60_000),
  OUTBOX_POLL_MS: durationMs
    .default(1000)
    .describe('Safety-net sweep for unpublished outbox events; a commit wakes its relay at once (or hands over with NOTIFY)'),
  OUTBOX_RELAY_DELAY_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(600_000)
    .default(0)
    .describe('Events are relayed no sooner than this after their commit: a window in which a placed order can still be cancelled'),
  RECONCILE_INTERVAL_MS: durationMs.default(30_000),
  RECONCILE_AFTER_SECONDS: lifetimeSeconds.default(120).describe('Work untouched this long is re-enqueued by the reconciler'),
  METRICS_TOKEN: optionalString.describe('Bearer token /metrics requires (API and worker); unset → open, except 404 in production'),
  HTTP_REQUEST_TIMEOUT_MS: durationMs.default(30_000).describe('A request (headers and body) must arrive within this time, else 408 and the connection closes'),
  HTTP_HEADERS_TIMEOUT_MS: durationMs.default(10_000).describe('The request headers must arrive within this time'),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: durationMs.default(5_000).describe('An idle keep-alive connection is closed after this time'),
  SHUTDOWN_DELAY_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(0)
    .describe('On SIGTERM the API goes on serving this long, with /health/* answering 503 and every answer saying Connection: close, before it stops accepting connections: the time a load balancer needs to take it out'),
  HTTP_MAX_CONNECTIONS: positiveInt.default(1_000).describe('Open connections per API process; further ones are refused until some close'),
  SSE_KEEPALIVE_MS: positiveInt.max(15_000, 'must be at most 15000 (clients and proxies drop quiet streams)').default(15_000).describe('How often an open event stream gets a `: keep-alive` comment'),
  SSE_POLL_MS: durationMs.default(1000).describe('How often each API process reads new order events without a wake-up signal (the Redis/in-process signal usually comes first)'),
  SSE_MAX_STREAMS_PER_USER: positiveInt.default(20).describe('Open event streams per user and API process; past it → 429'),
  SSE_MAX_STREAMS: positiveInt.default(800).describe('Open event streams per API process; past it → 503 (keep it below HTTP_MAX_CONNECTIONS so other requests still get in)'),
  SSE_STALL_MS: durationMs.default(30_000).describe('How long an event stream waits for a client that takes none of what it was sent: a replay waiting for it (over 1 MiB unsent) is then cut off, and a stream ending behind such bytes closed (at shutdown after 2 s at most; a live one past 1 MiB unread is cut at once)'),
  ORDER_EVENTS_RETENTION_HOURS: positiveInt.min(24, 'must be at least 24').max(MAX_LIFETIME_SECONDS / 3600, `must be at most ${MAX_LIFETIME_SECONDS / 3600} (10 years)`).default(48).describe('How long order events are kept for Last-Event-ID resumes'),
  WEBHOOK_ALLOW_PRIVATE_URLS: boolean.default(false).describe('Let webhooks reach loopback/private addresses (tests, trusted networks); off refuses them at registration and delivery'),
  WEBHOOK_TIMEOUT_MS: positiveInt.max(60_000).default(10_000).describe('How long one webhook delivery attempt may take'),
  WEBHOOK_MAX_ATTEMPTS: positiveInt.max(50).default(8).describe('Attempts per webhook delivery before it is failed'),
  WEBHOOK_RETRY_BASE_MS: durationMs.default(15_000).describe('First retry delay of a webhook delivery; each next one ×4, with jitter (8 attempts ≈ a day)'),
  WEBHOOK_CONCURRENCY: positiveInt.max(200).default(10).describe('Webhook deliveries one process sends at once (at most one per endpoint)'),
  WEBHOOK_POLL_MS: durationMs.default(1000).describe('How often a process looks for due webhook deliveries without a wake-up, and for endpoints registered by another process'),
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9100),

  SMTP_URL: optionalString.pipe(z.url().optional()),
  EMAIL_USER: optionalString,
  EMAIL_PASS: optionalString,
  MAIL_TRANSPORT: z
    .enum(['smtp', 'file'])
    .optional()
    .describe('smtp (SMTP_URL or EMAIL_USER/EMAIL_PASS) or file (.eml files in DATA_DIR/mail); default smtp when configured, else file outside production'),
  MAIL_FROM: z.string().default('Order Service <no-reply@order-service.local>'),

  /** A MongoDB setting from an earlier design; PostgreSQL replaced it. Accepted and ignored. */
  MONGO_URI: optionalString,
});

export type Env = z.infer<typeof envSchema>;
