import type { Queryable } from '../../platform/db/index.js';

export interface ProductRow {
  id: string;
  sku: string;
  name: string;
  description: string;
  priceCents: number;
  currency: string;
  onHand: number;
  reserved: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewProduct {
  /** Chosen by the caller only for the demo catalog (fixed ids the API docs' examples use). */
  id?: string;
  sku: string;
  name: string;
  description: string;
  priceCents: number;
  currency: string;
  stock: number;
}

/** The keyset position of a product in the catalog's order (sku, then id). */
export interface ProductPosition {
  sku: string;
  id: string;
}

/** products.on_hand is an `integer`; adjustments beyond this would overflow it. */
export const MAX_ON_HAND = 2_147_483_647;

/** A product with its version: what `If-Match` names (the ETag's content). */
export interface VersionedProductRow extends ProductRow {
  version: string;
}

/**
 * The row version's tag: xmin (the transaction that wrote it) changes with every update of the
 * product (details, stock, an order's reservation) and never returns to an earlier value; hashed
 * with the id so it says nothing about the database's transaction count.
 */
const VERSION = `left(encode(sha256(convert_to(id::text || ':' || xmin::text, 'UTF8')), 'hex'), 32)`;

const PRODUCT_COLUMNS = `id, sku, name, description, price_cents AS "priceCents", currency,
  on_hand AS "onHand", reserved, created_at AS "createdAt", updated_at AS "updatedAt"`;
const VERSIONED_COLUMNS = `${PRODUCT_COLUMNS}, ${VERSION} AS version`;

/** A change's condition on the version: any, or one of `versions` (`If-Match`). */
const VERSION_MATCHES = (param: string) => `(${param}::text[] IS NULL OR ${VERSION} = ANY(${param}::text[]))`;

/**
 * Inserts products with their `initial` ledger rows in one statement, so a product never
 * exists without the movement that explains its stock. A taken sku yields no row (ON CONFLICT),
 * which keeps concurrent duplicates race-free. `onlyIntoEmptyCatalog` is the seed's guard.
 */
export async function insertProducts(
  db: Queryable,
  products: readonly NewProduct[],
  options: { actorId: string | null; onlyIntoEmptyCatalog?: boolean },
): Promise<VersionedProductRow[]> {
  const { rows } = await db.query<VersionedProductRow>(
    `WITH created AS (
       INSERT INTO products (id, sku, name, description, price_cents, currency, on_hand)
       SELECT COALESCE(u.id, gen_random_uuid()), u.sku, u.name, u.description, u.price_cents, u.currency, u.on_hand
       FROM unnest($9::uuid[], $1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::int[])
         AS u(id, sku, name, description, price_cents, currency, on_hand)
       WHERE NOT $8::boolean OR NOT EXISTS (SELECT 1 FROM products)
       -- Any unique key: a sku, or a demo product's fixed id when two start-ups seed at once.
       ON CONFLICT DO NOTHING
       RETURNING ${VERSIONED_COLUMNS}
     ), ledger AS (
       INSERT INTO stock_movements (product_id, kind, quantity, actor_id)
       SELECT id, 'initial', "onHand", $7::uuid FROM created WHERE "onHand" > 0
     )
     SELECT * FROM created ORDER BY sku`,
    [
      products.map((p) => p.sku),
      products.map((p) => p.name),
      products.map((p) => p.description),
      products.map((p) => p.priceCents),
      products.map((p) => p.currency),
      products.map((p) => p.stock),
      options.actorId,
      options.onlyIntoEmptyCatalog ?? false,
      products.map((p) => p.id ?? null),
    ],
  );
  return rows;
}

export async function findProductById(db: Queryable, id: string): Promise<VersionedProductRow | undefined> {
  const { rows } = await db.query<VersionedProductRow>(`SELECT ${VERSIONED_COLUMNS} FROM products WHERE id = $1`, [id]);
  return rows[0];
}

/** One page in (sku, id) order after `after`; keyset, so concurrent inserts never shift pages. */
export async function listProducts(db: Queryable, page: { limit: number; after: ProductPosition | undefined }): Promise<ProductRow[]> {
  const { rows } = page.after
    ? await db.query<ProductRow>(
        `SELECT ${PRODUCT_COLUMNS} FROM products WHERE (sku, id) > ($1::text, $2::uuid) ORDER BY sku, id LIMIT $3`,
        [page.after.sku, page.after.id, page.limit],
      )
    : await db.query<ProductRow>(`SELECT ${PRODUCT_COLUMNS} FROM products ORDER BY sku, id LIMIT $1`, [page.limit]);
  return rows;
}

/** No row: unknown product, or its version is none of `ifMatch`. */
export async function updateProductDetails(
  db: Queryable,
  id: string,
  changes: { name?: string | undefined; description?: string | undefined; priceCents?: number | undefined },
  ifMatch: readonly string[] | undefined,
): Promise<VersionedProductRow | undefined> {
  // Under READ COMMITTED a concurrent change makes this re-check its WHERE against the new row
  // version, whose tag differs: of two changes made with the same If-Match, one applies.
  const { rows } = await db.query<VersionedProductRow>(
    `UPDATE products SET
       name = COALESCE($2::text, name),
       description = COALESCE($3::text, description),
       price_cents = COALESCE($4::bigint, price_cents),
       updated_at = now()
     WHERE id = $1 AND ${VERSION_MATCHES('$5')}
     RETURNING ${VERSIONED_COLUMNS}`,
    [id, changes.name ?? null, changes.description ?? null, changes.priceCents ?? null, ifMatch ?? null],
  );
  return rows[0];
}

/**
 * Adds `adjustment` to on-hand and records it in the ledger, in one statement. The condition
 * is evaluated against the latest row version (a concurrent adjustment waits, then re-checks),
 * so on-hand never drops below what is reserved. No row: unknown product, refused, or its version
 * is none of `ifMatch`.
 */
export async function adjustOnHand(
  db: Queryable,
  id: string,
  adjustment: number,
  actorId: string,
  ifMatch: readonly string[] | undefined,
): Promise<VersionedProductRow | undefined> {
  const { rows } = await db.query<VersionedProductRow>(
    `WITH adjusted AS (
       UPDATE products SET on_hand = on_hand + $2::int, updated_at = now()
       WHERE id = $1 AND on_hand::bigint + $2::int >= reserved AND on_hand::bigint + $2::int <= $4::bigint
         AND ${VERSION_MATCHES('$5')}
       RETURNING ${VERSIONED_COLUMNS}
     ), ledger AS (
       INSERT INTO stock_movements (product_id, kind, quantity, actor_id)
       SELECT id, 'adjustment', $2::int, $3::uuid FROM adjusted
     )
     SELECT * FROM adjusted`,
    [id, adjustment, actorId, MAX_ON_HAND, ifMatch ?? null],
  );
  return rows[0];
}

/** A currency some product is priced in other than `currency`, if any. */
export async function findOtherCurrency(db: Queryable, currency: string): Promise<string | undefined> {
  const { rows } = await db.query<{ currency: string }>('SELECT currency FROM products WHERE currency <> $1 LIMIT 1', [currency]);
  return rows[0]?.currency;
}

export interface StockAudit {
  productId: string;
  onHand: number;
  reserved: number;
  ledgerOnHand: number;
  ledgerReserved: number;
}

/**
 * Recomputes every product's stock from the ledger. Conservation holds when, for every row,
 * onHand === ledgerOnHand and reserved === ledgerReserved.
 */
export async function auditStock(db: Queryable): Promise<StockAudit[]> {
  const { rows } = await db.query<StockAudit>(
    `SELECT p.id AS "productId", p.on_hand AS "onHand", p.reserved,
       COALESCE(SUM(m.quantity) FILTER (WHERE m.kind IN ('initial', 'adjustment')), 0)::bigint
         - COALESCE(SUM(m.quantity) FILTER (WHERE m.kind = 'sale'), 0)::bigint AS "ledgerOnHand",
       COALESCE(SUM(m.quantity) FILTER (WHERE m.kind = 'reserve'), 0)::bigint
         - COALESCE(SUM(m.quantity) FILTER (WHERE m.kind IN ('release', 'sale')), 0)::bigint AS "ledgerReserved"
     FROM products p LEFT JOIN stock_movements m ON m.product_id = p.id
     GROUP BY p.id
     ORDER BY p.id`,
  );
  return rows;
}
