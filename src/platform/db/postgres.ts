import pg from 'pg';
import { ServiceUnavailableError } from '../../shared/errors.js';
import { sqlState, withRetries, type Database, type Queryable, type QueryOptions, type QueryResult } from './database.js';

// int8 (counts, sums of cents) as numbers, like PGlite does; values stay far below 2^53.
const types = {
  getTypeParser: ((oid: number, format?: string): unknown =>
    oid === 20 ? (value: string) => Number(value) : (pg.types.getTypeParser(oid, format as 'text') as unknown)) as typeof pg.types.getTypeParser,
};

/** Connection-level failures: the server is down, restarting or out of connections. */
function isUnavailable(error: unknown): boolean {
  const state = sqlState(error);
  if (!state) return !(error instanceof Error && 'severity' in error);
  return state.startsWith('08') || state.startsWith('57P') || state === '53300' || state === '57014';
}

function translate(error: unknown): never {
  if (isUnavailable(error)) throw new ServiceUnavailableError('database');
  throw error;
}

const statement = (text: string, params: readonly unknown[] | undefined, options: QueryOptions | undefined): pg.QueryConfig => ({
  text,
  values: params as unknown[],
  ...(options?.name ? { name: options.name } : {}),
});

function wrap(client: pg.PoolClient): Queryable {
  return {
    async query<Row>(text: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<Row>> {
      const result = await client.query(statement(text, params, options)).catch(translate);
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
    },
    async exec(script: string) {
      await client.query(script).catch(translate);
    },
  };
}

/**
 * LISTEN needs a connection of its own for as long as it listens (a pooled one would be
 * handed to queries). It reconnects after a loss, every second until it works, and calls
 * `onNotify` when back: what was notified meanwhile was lost, and the caller looks again.
 */
function listenOnOwnConnection(url: string, channel: string, onNotify: () => void): () => Promise<void> {
  let client: pg.Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const reconnectSoon = () => {
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      void connect(true);
    }, 1000);
    retry.unref();
  };
  async function connect(again: boolean): Promise<void> {
    const next = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    client = next;
    next.on('error', () => undefined);
    next.on('end', () => {
      if (client === next) reconnectSoon();
    });
    next.on('notification', (message) => {
      if (message.channel === channel) onNotify();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      if (stopped) await next.end();
      else if (again) onNotify();
    } catch {
      await next.end().catch(() => undefined);
      reconnectSoon();
    }
  }
  void connect(false);
  return async () => {
    stopped = true;
    clearTimeout(retry);
    await client?.end().catch(() => undefined);
  };
}

export function createPostgresDatabase(url: string, poolMax: number): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolMax,
    types,
    // Fail fast when the server is unreachable instead of queueing requests forever.
    connectionTimeoutMillis: 3000,
    // A safety net: a statement stuck this long is cancelled (57014) and answered 503.
    statement_timeout: 15_000,
    idle_in_transaction_session_timeout: 30_000,
  });
  // An idle client losing its connection must not crash the process; the next checkout reconnects.
  pool.on('error', () => undefined);

  return {
    kind: 'postgres',
    async query<Row>(text: string, params?: readonly unknown[], options?: QueryOptions) {
      const result = await pool.query(statement(text, params, options)).catch(translate);
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
    },
    async exec(script: string) {
      await pool.query(script).catch(translate);
    },
    transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      return withRetries(async () => {
        const client = await pool.connect().catch(translate);
        let broken = false;
        try {
          await client.query('BEGIN');
          const result = await work(wrap(client));
          await client.query('COMMIT');
          return result;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {
            broken = true;
          });
          throw error;
        } finally {
          client.release(broken);
        }
      });
    },
    async ping() {
      await pool.query('SELECT 1').catch(translate);
    },
    listen: (channel, onNotify) => Promise.resolve(listenOnOwnConnection(url, channel, onNotify)),
    async close() {
      await pool.end();
    },
  };
}
