import type { Database, Queryable, QueryResult } from '../src/platform/db/index.js';

/**
 * `db`, running `after` with the result of every statement prepared as `name` (inside
 * transactions too) before the caller sees it: to observe a statement, or to act while its
 * transaction is still open.
 */
export function afterStatement(db: Database, name: string, after: (result: QueryResult<unknown>) => void | Promise<void>): Database {
  const observed = (target: Queryable): Queryable => ({
    async query(text, params, options) {
      const result = await target.query<never>(text, params, options);
      if (options?.name === name) await after(result);
      return result;
    },
    exec: (script) => target.exec(script),
  });
  return { ...db, ...observed(db), transaction: (work) => db.transaction((tx) => work(observed(tx))) };
}
