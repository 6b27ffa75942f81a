import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { TestApp } from './harness.js';
import { bearer, type TestUser } from './users.js';

export interface TestProduct {
  id: string;
  sku: string;
  priceCents: number;
}

export async function createProduct(app: TestApp, admin: TestUser, fields: { stock: number; priceCents?: number; name?: string }): Promise<TestProduct> {
  const sku = `SKU-${randomBytes(4).toString('hex')}`;
  const res = await app.http
    .post('/api/products')
    .set(bearer(admin))
    .send({ sku, name: fields.name ?? `Product ${sku}`, priceCents: fields.priceCents ?? 1000, stock: fields.stock });
  expect(res.status).toBe(201);
  return { id: res.body.id as string, sku, priceCents: res.body.priceCents as number };
}

export async function stockOf(app: TestApp, productId: string): Promise<{ onHand: number; reserved: number }> {
  const { rows } = await app.db.query<{ onHand: number; reserved: number }>(
    'SELECT on_hand AS "onHand", reserved FROM products WHERE id = $1',
    [productId],
  );
  if (!rows[0]) throw new Error(`no product ${productId}`);
  return rows[0];
}
