import { describe, expect, it } from 'vitest';
import { STORAGE_KINDS } from '../../../test/harness.js';
import { webhooksServiceOn } from '../../../test/webhooks-service.js';
import type { Page } from '../../shared/pagination.js';
import { CURSOR_KEYS, decodeKeysetCursor } from '../../shared/pagination.js';

/**
 * Endpoints and deliveries written by one statement share `now()` to the microsecond (the events
 * relay writes an event's deliveries, and a pass's events, in one statement). Paging through them
 * must show every row once: a cursor cut to milliseconds skipped the rest of such a batch.
 */
describe.each(STORAGE_KINDS)('webhook and delivery pages on %s', (kind) => {
  const context = webhooksServiceOn(kind);

  async function everyPage<T extends { id: string }>(list: (after: { createdAt: string; id: string } | undefined) => Promise<Page<T>>): Promise<string[]> {
    const seen: string[] = [];
    let after: { createdAt: string; id: string } | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = await list(after);
      seen.push(...page.items.map((item) => item.id));
      if (!page.nextCursor) return seen;
      const { key, id } = decodeKeysetCursor(page.nextCursor, CURSOR_KEYS.timestampMicros);
      after = { createdAt: key, id };
    }
    throw new Error('more pages than rows');
  }

  it('lists deliveries written by one statement once each, newest first, across pages', async () => {
    const webhook = await context.webhooks.createWebhook({ url: 'http://127.0.0.1:9/hook', events: ['order.placed'] });
    const { rows } = await context.database.db.query<{ id: string }>(
      `INSERT INTO webhook_deliveries (id, webhook_id, event_seq, type, payload)
       SELECT gen_random_uuid(), $1, seq, 'order.placed', '{}' FROM generate_series(1, 30) AS seq RETURNING id`,
      [webhook.id],
    );
    const seen = await everyPage((after) => context.webhooks.listDeliveries(webhook.id, { status: undefined, limit: 7, after }));
    expect(seen).toHaveLength(30);
    expect([...seen].sort()).toEqual(rows.map((row) => row.id).sort());
    expect(seen).toEqual([...seen].sort().reverse());
  });

  it('lists endpoints created by one statement once each, across pages', async () => {
    const { rows } = await context.database.db.query<{ id: string }>(
      `INSERT INTO webhooks (id, url, events, secret)
       SELECT gen_random_uuid(), 'http://127.0.0.1:9/hook', '{order.placed}', 'whsec_x' FROM generate_series(1, 12) RETURNING id`,
    );
    const seen = await everyPage((after) => context.webhooks.listWebhooks({ limit: 5, after }));
    expect(seen).toEqual(expect.arrayContaining(rows.map((row) => row.id)));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('answers items without the cursor key', async () => {
    const page = await context.webhooks.listWebhooks({ limit: 1, after: undefined });
    expect(Object.keys(page.items[0]!).sort()).toEqual(['createdAt', 'description', 'enabled', 'events', 'id', 'updatedAt', 'url']);
  });
});
