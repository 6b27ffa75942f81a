/**
 * Baseline for `POST /api/orders`: a bare Express route running the plain reservation
 * transaction with `pg`, one statement per row:
 *   BEGIN; UPDATE products … WHERE on_hand - reserved >= q (per line); INSERT INTO orders;
 *   INSERT INTO order_items (per line); INSERT INTO outbox_events; COMMIT
 * No auth, no schema validation, no rate limit, no logging, no metrics, no stock ledger.
 */
import { randomUUID } from 'node:crypto';
import express from 'express';
import pg from 'pg';

interface Line {
  productId: string;
  quantity: number;
}

const port = Number(process.env.PORT ?? 0);
const userIds = (process.env.BASELINE_USER_IDS ?? '').split(',').filter(Boolean);
if (userIds.length === 0) throw new Error('BASELINE_USER_IDS is required');
// The service's default pool size (DATABASE_POOL_MAX=10).
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_MAX ?? 10) });
pool.on('error', () => undefined);

const app = express();
app.get('/health', (_req, res) => void res.json({ status: 'ok' }));
app.use(express.json());

app.post('/orders', async (req, res) => {
  const items = ((req.body as { items?: Line[] }).items ?? []).slice().sort((a, b) => (a.productId < b.productId ? -1 : 1));
  if (items.length === 0) {
    res.status(400).json({ error: 'items required' });
    return;
  }
  const userId = userIds[Math.floor(Math.random() * userIds.length)];
  const orderId = randomUUID();
  const now = new Date().toISOString();
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const priced: { productId: string; sku: string; name: string; quantity: number; unitPriceCents: number }[] = [];
    for (const line of items) {
      const { rows } = await client.query<{ sku: string; name: string; price_cents: string }>(
        'UPDATE products SET reserved = reserved + $2 WHERE id = $1 AND on_hand - reserved >= $2 RETURNING sku, name, price_cents',
        [line.productId, line.quantity],
      );
      const row = rows[0];
      if (!row) {
        await client.query('ROLLBACK');
        res.status(409).json({ error: 'OUT_OF_STOCK', productId: line.productId });
        return;
      }
      priced.push({ productId: line.productId, sku: row.sku, name: row.name, quantity: line.quantity, unitPriceCents: Number(row.price_cents) });
    }
    const totalCents = priced.reduce((sum, line) => sum + line.unitPriceCents * line.quantity, 0);
    const history = [{ status: 'pending', at: now }];
    await client.query(
      `INSERT INTO orders (id, user_id, status, total_cents, currency, history, created_at, updated_at)
       VALUES ($1, $2, 'pending', $3, 'USD', $4::jsonb, $5, $5)`,
      [orderId, userId, totalCents, JSON.stringify(history), now],
    );
    let lineNo = 0;
    for (const line of priced) {
      lineNo++;
      await client.query(
        `INSERT INTO order_items (order_id, line_no, product_id, sku, name, quantity, unit_price_cents, line_total_cents)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [orderId, lineNo, line.productId, line.sku, line.name, line.quantity, line.unitPriceCents, line.unitPriceCents * line.quantity],
      );
    }
    await client.query("INSERT INTO outbox_events (topic, aggregate_id) VALUES ('order.placed', $1)", [orderId]);
    await client.query('COMMIT');
    res.status(201).json({
      id: orderId,
      userId,
      status: 'pending',
      items: priced.map((line) => ({ ...line, lineTotalCents: line.unitPriceCents * line.quantity })),
      totalCents,
      currency: 'USD',
      failureReason: null,
      history,
      createdAt: now,
      updatedAt: now,
    });
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
});

const server = app.listen(port, '127.0.0.1', () => process.stdout.write(`baseline place-order listening on ${port}\n`));
process.on('SIGTERM', () => {
  server.close();
  void pool.end();
});
