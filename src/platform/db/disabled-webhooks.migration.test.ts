import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestDatabase, STORAGE_KINDS } from '../../../test/harness.js';
import { MIGRATIONS_DIR } from './migrate.js';

const NAME = '20261206100000_disabled_webhooks_end_pending_deliveries';
const MIGRATION = readFileSync(path.join(MIGRATIONS_DIR, `${NAME}.sql`), 'utf8');

describe.each(STORAGE_KINDS)(`migration ${NAME} on %s`, (storage) => {
  it('when an endpoint was disabled before disabling ended its deliveries, then its pending ones end failed; other deliveries are left alone', async () => {
    const database = await createTestDatabase(storage);
    try {
      const { db } = database;
      const webhook = async (enabled: boolean) =>
        (
          await db.query<{ id: string }>(
            "INSERT INTO webhooks (id, url, events, secret, enabled) VALUES (gen_random_uuid(), 'https://shop.example/hook', '{order.placed}', 'whsec_x', $1) RETURNING id",
            [enabled],
          )
        ).rows[0]!.id;
      const delivery = async (webhookId: string, seq: number, fields: { status?: string; leasedForSeconds?: number; lastError?: string } = {}) =>
        (
          await db.query<{ id: string }>(
            `INSERT INTO webhook_deliveries (id, webhook_id, event_seq, type, payload, status, last_error, leased_until, updated_at)
             VALUES (gen_random_uuid(), $1, $2, 'order.placed', '{}', $3, $4, now() + make_interval(secs => $5::double precision), now() - interval '1 day')
             RETURNING id`,
            [webhookId, seq, fields.status ?? 'pending', fields.lastError ?? null, fields.leasedForSeconds ?? null],
          )
        ).rows[0]!.id;
      const disabled = await webhook(false);
      const enabled = await webhook(true);
      const stale = [await delivery(disabled, 1, { lastError: 'answered 503' }), await delivery(disabled, 2), await delivery(disabled, 3, { leasedForSeconds: -60 })];
      const inFlight = await delivery(disabled, 4, { leasedForSeconds: 600 });
      const succeeded = await delivery(disabled, 5, { status: 'succeeded' });
      const owedToEnabled = await delivery(enabled, 1);

      await db.exec(MIGRATION);

      const { rows } = await db.query<{ id: string; status: string; lastError: string | null; touched: boolean }>(
        `SELECT id, status, last_error AS "lastError", updated_at > now() - interval '1 hour' AS touched FROM webhook_deliveries`,
      );
      const byId = new Map(rows.map(({ id, ...rest }) => [id, rest]));
      for (const id of stale) expect(byId.get(id)).toEqual({ status: 'failed', lastError: 'the endpoint was disabled', touched: true });
      expect(byId.get(inFlight)).toEqual({ status: 'pending', lastError: null, touched: false });
      expect(byId.get(succeeded)).toEqual({ status: 'succeeded', lastError: null, touched: false });
      expect(byId.get(owedToEnabled)).toEqual({ status: 'pending', lastError: null, touched: false });
    } finally {
      await database.drop();
    }
  });
});
