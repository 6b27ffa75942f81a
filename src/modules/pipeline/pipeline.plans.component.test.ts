import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/harness.js';
import type { Queryable, QueryResult } from '../../platform/db/index.js';
import { countByBucket, readLatency } from './pipeline.repository.js';

/**
 * The snapshot's finished-order reads go through `orders_finished_idx`, so an open console page
 * (a snapshot every 5 s) reads its window, not every order the shop ever had. Checked with
 * sequential scans priced out: the index must match the queries' predicate to be chosen at all.
 */
describe('pipeline snapshot reads on PostgreSQL', () => {
  let database: TestDatabase;
  const plans: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    await database.drop();
  });

  it('read the finished orders of the window through their index', async () => {
    const since = Math.floor(Date.now() / 1000) - 600;
    await database.db.transaction(async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off');
      // auto_explain is not loaded here: plans are read by running each statement under EXPLAIN.
      const explaining: Queryable = {
        async query<Row>(text: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
          const { rows } = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, params);
          plans.push(rows.map((row) => row['QUERY PLAN']).join('\n'));
          return { rows: [], rowCount: 0 };
        },
        exec: (text) => tx.exec(text),
      };
      await countByBucket(explaining, since, 10);
      await readLatency(explaining, since);
    });
    expect(plans).toHaveLength(2);
    for (const plan of plans) expect(plan).toContain('orders_finished_idx');
  });
});
