import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, STORAGE_KINDS, type TestDatabase } from '../../../test/harness.js';
import { auditStock, seedDemoCatalog } from './index.js';

describe.each(STORAGE_KINDS)('seedDemoCatalog on %s', (storage) => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase(storage);
  });
  // Each case starts from an empty catalog; one database per storage is enough for that.
  beforeEach(() => database.db.exec('TRUNCATE products CASCADE'));
  afterAll(() => database.drop());

  it('fills an empty catalog once, with initial ledger rows, and is a no-op afterwards', async () => {
    const inserted = await seedDemoCatalog(database.db, 'EUR');
    expect(inserted).toBeGreaterThanOrEqual(8);
    expect(inserted).toBeLessThanOrEqual(12);
    const { rows } = await database.db.query<{ n: number; currencies: string[] }>(
      'SELECT count(*)::int AS n, array_agg(DISTINCT currency) AS currencies FROM products',
    );
    expect(rows[0]).toEqual({ n: inserted, currencies: ['EUR'] });
    const audit = await auditStock(database.db);
    expect(audit).toHaveLength(inserted);
    for (const row of audit) {
      expect(row.onHand).toBeGreaterThan(0);
      expect(row).toEqual({ ...row, ledgerOnHand: row.onHand, ledgerReserved: row.reserved });
    }
    expect(await seedDemoCatalog(database.db, 'EUR')).toBe(0);
  });

  it('when seeded concurrently, then the catalog is seeded exactly once', async () => {
    const counts = await Promise.all([seedDemoCatalog(database.db, 'USD'), seedDemoCatalog(database.db, 'USD')]);
    const { rows } = await database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM products');
    expect(counts[0] + counts[1]).toBe(rows[0]!.n);
    const { rows: initial } = await database.db.query<{ n: number }>("SELECT count(*)::int AS n FROM stock_movements WHERE kind = 'initial'");
    expect(initial[0]!.n).toBe(rows[0]!.n);
  });

  it('does nothing when the catalog already has a product', async () => {
    await database.db.query(
      "INSERT INTO products (sku, name, price_cents, currency, on_hand) VALUES ('OWN-1', 'Own product', 100, 'USD', 0)",
    );
    expect(await seedDemoCatalog(database.db, 'USD')).toBe(0);
    const { rows } = await database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM products');
    expect(rows[0]!.n).toBe(1);
  });
});
