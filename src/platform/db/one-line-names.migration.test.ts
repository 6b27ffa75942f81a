import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestDatabase, STORAGE_KINDS } from '../../../test/harness.js';
import { MIGRATIONS_DIR } from './migrate.js';

const MIGRATION = readFileSync(path.join(MIGRATIONS_DIR, '20261202120000_one_line_names.sql'), 'utf8');

describe.each(STORAGE_KINDS)('migration 20261202120000_one_line_names on %s', (storage) => {
  it('turns control characters in stored names into single spaces and leaves clean names alone', async () => {
    const database = await createTestDatabase(storage);
    try {
      const { db } = database;
      const insert = (email: string, name: string) =>
        db.query<{ id: string }>("INSERT INTO users (email, name, password_hash) VALUES ($1, $2, 'x') RETURNING id", [email, name]);
      const dirty = (await insert('dirty@example.com', 'Eve\r\nBcc: victim@example.com')).rows[0]!.id;
      const empty = (await insert('only.controls@example.com', '\r\n\t')).rows[0]!.id;
      const clean = (await insert('clean@example.com', 'Zoë Lee')).rows[0]!.id;
      await db.query("INSERT INTO products (sku, name, price_cents, currency, on_hand) VALUES ('MIG-1', E'Mug\\u2028Red', 100, 'USD', 1)");

      await db.exec(MIGRATION);

      const names = async (id: string) => (await db.query<{ name: string }>('SELECT name FROM users WHERE id = $1', [id])).rows[0]?.name;
      expect(await names(dirty)).toBe('Eve Bcc: victim@example.com');
      expect(await names(empty)).toBe('only.controls');
      expect(await names(clean)).toBe('Zoë Lee');
      const { rows } = await db.query<{ name: string }>("SELECT name FROM products WHERE sku = 'MIG-1'");
      expect(rows[0]?.name).toBe('Mug Red');
    } finally {
      await database.drop();
    }
  });
});
