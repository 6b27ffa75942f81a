/**
 * The one SQL interface every repository uses. Two adapters implement it — a `pg` pool for a
 * PostgreSQL server and PGlite for the embedded default — so the same SQL runs on both.
 */
export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface QueryOptions {
  /**
   * Prepares the statement once per connection under this name (on the embedded database, once
   * per database), so hot, large statements are not parsed and planned again on every call.
   */
  name?: string;
}

export interface Queryable {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<Row>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

/** One connection of its own, outside any transaction, for as long as the work that holds it. */
export interface Session extends Queryable {
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /**
   * Runs `work` in one transaction on one connection, committing when it resolves and rolling
   * back when it throws. Serialization failures and deadlocks are retried a few times, so
   * `work` must not have side effects outside the database.
   */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs `work` on one connection held for it (PGlite has only the one), outside any
   * transaction: for what lives in a session, such as advisory locks, settings and statements
   * that cannot run in a transaction (CREATE INDEX CONCURRENTLY). What `work` leaves on the
   * connection goes with it: a server connection is closed afterwards, never pooled again.
   */
  session<T>(work: (session: Session) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  /**
   * Calls `onNotify` for every NOTIFY on `channel` (delivered at commit), and once more after
   * a lost listening connection is back, since notifications sent meanwhile are gone. Resolves
   * to a function that stops listening.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** SQLSTATEs after which re-running the whole transaction is the documented remedy. */
export const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);
export const MAX_TRANSACTION_ATTEMPTS = 5;

export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export async function withRetries<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      const state = sqlState(error);
      if (!state || !RETRYABLE_SQLSTATES.has(state) || tries >= MAX_TRANSACTION_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * tries));
    }
  }
}
