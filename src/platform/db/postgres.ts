import pg from 'pg';
import { ServiceUnavailableError } from '../../shared/errors.js';
import { sqlState, withRetries, type Database, type Queryable, type QueryOptions, type QueryResult, type Session } from './database.js';

// int8 (counts, sums of cents) as numbers, like PGlite does; values stay far below 2^53.
const types = {
  getTypeParser: ((oid: number, format?: string): unknown =>
    oid === 20 ? (value: string) => Number(value) : (pg.types.getTypeParser(oid, format as 'text') as unknown)) as typeof pg.types.getTypeParser,
};

/**
 * Connection-level failures: the server is down, restarting, out of connections, or — after a
 * failover — our connection still points at a former primary that is now read-only (25006).
 * Errors without a SQLSTATE ("Connection terminated unexpectedly", ECONNREFUSED, pg's "Query read
 * timeout" of a statement past its bound) count too.
 */
function isUnavailable(error: unknown): boolean {
  const state = sqlState(error);
  if (!state) return !(error instanceof Error && 'severity' in error);
  return state.startsWith('08') || state.startsWith('57P') || state === '53300' || state === '57014' || state === '25006';
}

/** The connection itself is unusable (terminated, or on a read-only server): drop it, don't reuse it. */
function isBrokenConnection(error: unknown): boolean {
  return isUnavailable(error) && sqlState(error) !== '53300' && sqlState(error) !== '57014';
}

function translate(error: unknown): never {
  if (isUnavailable(error)) throw new ServiceUnavailableError('database');
  throw error;
}

/** The server's `statement_timeout` unless DATABASE_STATEMENT_TIMEOUT_MS says otherwise. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 15_000;
/**
 * How long past the server's statement timeout the client waits for an answer (pg's
 * `query_timeout`). A statement the server cancels is answered at once (57014); one still
 * unanswered this much later is on a network that drops packets, where TCP alone would wait
 * minutes. The connection is then given up with its statement: the pool destroys its socket.
 */
const ANSWER_MARGIN_MS = 2000;

/**
 * Every connection, pooled or LISTENing, has TCP keepalive on, its first probe after this long
 * idle (then the OS's interval and count: Linux 75 s × 9). A NAT or firewall that forgets an idle
 * connection silently left the next statement on it to wait out query_timeout (~17 s) and answer
 * 503, and a LISTEN connection (idle between notifications for hours) deaf until then; the probes
 * keep such a middlebox's entry alive, and a peer that is gone is found without a statement.
 */
export const KEEPALIVE = { keepAlive: true, keepAliveInitialDelayMillis: 10_000 } as const;
/**
 * No client-side bound, for a session's statements (a migration turns the statement timeout off
 * and may run for minutes). pg reads a query's `query_timeout: 0` as "the client's own", so
 * "none" is the longest timer Node holds (about 24 days).
 */
const UNBOUNDED_MS = 2_147_483_647;

/** pg takes `query_timeout` per query too; its types only know it per client. */
type StatementBound = { query_timeout?: number };

const statement = (text: string, params: readonly unknown[] | undefined, options: QueryOptions | undefined, bound: StatementBound = {}): pg.QueryConfig => ({
  text,
  values: params as unknown[],
  ...(options?.name ? { name: options.name } : {}),
  ...bound,
});

/** A transaction's connection; `onBroken` hears of failures that make the connection unusable. */
function wrap(client: pg.PoolClient, onBroken: () => void, bound: StatementBound = {}): Queryable {
  const fail = (error: unknown): never => {
    if (isBrokenConnection(error)) onBroken();
    return translate(error);
  };
  return {
    async query<Row>(text: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<Row>> {
      const result = await client.query(statement(text, params, options, bound)).catch(fail);
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
    },
    async exec(script: string) {
      await client.query(statement(script, undefined, undefined, bound)).catch(fail);
    },
  };
}

/** A transaction on a connection held by a session (no retries: its work is DDL, run once). */
async function transactionOn<T>(connection: Queryable, work: (tx: Queryable) => Promise<T>): Promise<T> {
  await connection.query('BEGIN');
  try {
    const result = await work(connection);
    await connection.query('COMMIT');
    return result;
  } catch (error) {
    await connection.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * How long closing a connection waits for the server to answer its goodbye. `end()` sends
 * Terminate and a FIN, then waits for the socket to close; over a network that silently drops
 * packets that is TCP's retransmission timeout (minutes), past every grace period.
 */
const END_WITHIN_MS = 1000;
/** The same for the whole pool, whose checked-out connections end once their statements do. */
const POOL_END_WITHIN_MS = 2000;

/** Ends `client`, and destroys its socket if the server has not closed it within END_WITHIN_MS. */
async function endWithin(client: pg.Client): Promise<void> {
  const ended = client.end().catch(() => undefined);
  const timer = setTimeout(() => client.connection.stream.destroy(), END_WITHIN_MS);
  await ended;
  clearTimeout(timer);
}

/**
 * LISTEN needs a connection of its own for as long as it listens (a pooled one would be
 * handed to queries). It reconnects after a loss, every second until it works, and calls
 * `onNotify` when back: what was notified meanwhile was lost, and the caller looks again.
 */
function listenOnOwnConnection(url: string, channel: string, queryTimeoutMs: number, onNotify: () => void): () => Promise<void> {
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
    // The bound covers its LISTEN statement only: a connection idle between notifications has none in flight.
    const next = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000, query_timeout: queryTimeoutMs, ...KEEPALIVE });
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
      if (stopped) await endWithin(next);
      else if (again) onNotify();
    } catch {
      await endWithin(next);
      reconnectSoon();
    }
  }
  void connect(false);
  return async () => {
    stopped = true;
    clearTimeout(retry);
    if (client) await endWithin(client);
  };
}

/**
 * `statementTimeoutMs`: the server cancels a pool statement after this (`statement_timeout`), and
 * the client stops waiting for its answer ANSWER_MARGIN_MS later.
 */
export function createPostgresDatabase(url: string, poolMax: number, { statementTimeoutMs = DEFAULT_STATEMENT_TIMEOUT_MS } = {}): Database {
  const queryTimeoutMs = statementTimeoutMs + ANSWER_MARGIN_MS;
  const pool = new pg.Pool({
    connectionString: url,
    max: poolMax,
    types,
    // Fail fast when the server is unreachable instead of queueing requests forever.
    connectionTimeoutMillis: 3000,
    // A safety net: a statement stuck this long is cancelled (57014) and answered 503.
    statement_timeout: statementTimeoutMs,
    // When even the cancel goes unanswered (the network drops packets): 503 all the same, and the
    // connection is destroyed (isBrokenConnection), never handed to the next statement.
    query_timeout: queryTimeoutMs,
    idle_in_transaction_session_timeout: 30_000,
    ...KEEPALIVE,
  });
  // Every open connection, so a close can cut those the network no longer answers on.
  const clients = new Set<pg.PoolClient>();
  // An idle client losing its connection must not crash the process; the next checkout reconnects.
  pool.on('error', () => undefined);
  // Neither may a checked-out one: a failover's "terminating connection" (57P01) can arrive while
  // a transaction waits between statements, and pg emits it as an 'error' event with no query to
  // fail. The next statement on that client then fails and the client is dropped.
  pool.on('connect', (client) => {
    clients.add(client);
    client.on('error', () => undefined);
  });
  pool.on('remove', (client) => clients.delete(client));

  // Like pool.query, but a client whose connection broke is destroyed instead of returned to
  // the pool, so after a failover the pool reconnects (through haproxy to the new primary)
  // instead of handing out connections to the old one.
  async function onClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect().catch(translate);
    try {
      const result = await work(client);
      client.release();
      return result;
    } catch (error) {
      client.release(isBrokenConnection(error) ? (error as Error) : undefined);
      return translate(error);
    }
  }

  return {
    kind: 'postgres',
    async query<Row>(text: string, params?: readonly unknown[], options?: QueryOptions) {
      const result = await onClient((client) => client.query(statement(text, params, options)));
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
    },
    async exec(script: string) {
      await onClient((client) => client.query(script));
    },
    transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
      return withRetries(async () => {
        const client = await pool.connect().catch(translate);
        let broken = false;
        const markBroken = () => {
          broken = true;
        };
        try {
          await client.query('BEGIN').catch((error: unknown) => {
            if (isBrokenConnection(error)) markBroken();
            return translate(error);
          });
          const result = await work(wrap(client, markBroken));
          await client.query('COMMIT').catch((error: unknown) => {
            if (isBrokenConnection(error)) markBroken();
            return translate(error);
          });
          return result;
        } catch (error) {
          if (!broken) {
            await client.query('ROLLBACK').catch(() => {
              broken = true;
            });
          }
          throw error;
        } finally {
          client.release(broken);
        }
      });
    },
    async session<T>(work: (session: Session) => Promise<T>): Promise<T> {
      const client = await pool.connect().catch(translate);
      try {
        const connection = wrap(client, () => undefined, { query_timeout: UNBOUNDED_MS });
        return await work({ ...connection, transaction: (inner) => transactionOn(connection, inner) });
      } finally {
        // Its settings and session locks must not reach the pool's next user.
        client.release(true);
      }
    },
    async ping() {
      await onClient(async (client) => {
        // A server that takes no writes (a hot standby, a primary demoted by a failover) answers
        // SELECT 1 yet fails every order with 25006: for readiness that is a database down. The
        // error carries 25006 so this connection is replaced, as after a failed write.
        const { rows } = await client.query<{ readOnly: string }>(`SELECT current_setting('transaction_read_only') AS "readOnly"`);
        if (rows[0]?.readOnly === 'on') throw Object.assign(new Error('the database server is read-only'), { code: '25006' });
      });
    },
    listen: (channel, onNotify) => Promise.resolve(listenOnOwnConnection(url, channel, queryTimeoutMs, onNotify)),
    async close() {
      // A statement or a goodbye still unanswered by then gets no answer: its socket is destroyed
      // (the statement fails; the server rolls its transaction back when it sees the connection go).
      const cut = setTimeout(() => {
        // The pool's clients are pg.Client instances; its types only say PoolClient.
        for (const client of clients) (client as unknown as pg.Client).connection.stream.destroy();
      }, POOL_END_WITHIN_MS);
      await pool.end();
      clearTimeout(cut);
    },
  };
}
