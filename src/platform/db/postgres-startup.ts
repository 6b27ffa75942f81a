import pg from 'pg';
import { StartupError } from '../../shared/startup-error.js';
import { sqlState } from './database.js';

const CONNECT_TIMEOUT_MS = 3000;

interface Target {
  host: string;
  port: string;
  database: string;
  user: string;
}

/** Where DATABASE_URL points, without its password (this ends up in a terminal or a log). */
function targetOf(url: string): Target {
  const parsed = new URL(url);
  const host = parsed.hostname || 'localhost';
  const user = decodeURIComponent(parsed.username) || process.env.USER || 'postgres';
  return { host, port: parsed.port || '5432', database: decodeURIComponent(parsed.pathname.slice(1)) || user, user };
}

/** Node reports a refused connection to a name with several addresses as an AggregateError. */
function networkCode(error: unknown): string | undefined {
  const { code, errors } = (error ?? {}) as { code?: unknown; errors?: unknown[] };
  if (typeof code === 'string') return code;
  return errors?.length ? networkCode(errors[0]) : undefined;
}

/** One line saying what failed, where, and what fixes it. */
export function describePostgresFailure(url: string, error: unknown): string {
  let target: Target;
  try {
    target = targetOf(url);
  } catch {
    return 'Invalid configuration: DATABASE_URL is not a valid URL; expected postgres://user:password@host:5432/database';
  }
  const { host, port, database, user } = target;
  const where = `${host}:${port}`;
  const message = error instanceof Error ? error.message : String(error);
  const state = sqlState(error);
  const code = networkCode(error);
  if (state === '3D000') {
    return `PostgreSQL at ${where} has no database "${database}": create it with \`createdb -h ${host} -p ${port} -U ${user} ${database}\`, or fix the database name in DATABASE_URL`;
  }
  if (state === '28P01' || state === '28000') return `PostgreSQL at ${where} refused user "${user}" (${message}): fix the user or password in DATABASE_URL`;
  if (state === '57P03') return `PostgreSQL at ${where} is starting up (${message}); start again in a moment`;
  if (code === 'ECONNREFUSED') return `Cannot connect to PostgreSQL at ${where} (connection refused): start PostgreSQL there, or set DATABASE_URL to a running server`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `Cannot connect to PostgreSQL: the host "${host}" in DATABASE_URL does not resolve (${code}); fix the host in DATABASE_URL`;
  if (/timeout/i.test(message)) return `Cannot connect to PostgreSQL at ${where}: no answer within ${CONNECT_TIMEOUT_MS / 1000} s; check the host and port in DATABASE_URL (and any firewall)`;
  return `Cannot connect to PostgreSQL at ${where}, database "${database}" (${code ?? state ?? message}${code || state ? `: ${message}` : ''}); check DATABASE_URL`;
}

/**
 * Connects once before anything else uses the database, so a wrong DATABASE_URL stops start-up
 * with one line instead of a pool error and a stack from the first migration.
 */
export async function checkPostgresConnection(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw new StartupError(describePostgresFailure(url, error), { cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}
