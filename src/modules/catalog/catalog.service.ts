import type { Database } from '../../platform/db/index.js';
import type { Logger } from '../../platform/logger.js';
import { ConflictError, NotFoundError, PreconditionFailedError } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import { CURSOR_KEYS, decodeKeysetCursor, toPage, type Page } from '../../shared/pagination.js';
import { isAdmin, type Principal } from '../../shared/principal.js';
import * as repo from './catalog.repository.js';
import type { ProductPosition, ProductRow, VersionedProductRow } from './catalog.repository.js';
import { type AdjustStockBody, type CreateProductBody, type UpdateProductBody } from './catalog.schemas.js';

/** A product as clients see it; `onHand` and `reserved` only for admins. */
export interface Product {
  id: string;
  sku: string;
  name: string;
  description: string;
  priceCents: number;
  currency: string;
  available: number;
  createdAt: string;
  updatedAt: string;
  onHand?: number;
  reserved?: number;
}

/** A product with its version, which an `ETag` carries and `If-Match` names. */
export interface VersionedProduct {
  product: Product;
  version: string;
}

/** A change's condition: `undefined` for none, else the versions it may apply to (`If-Match`). */
export type IfMatch = readonly string[] | undefined;

export interface CatalogServiceDeps {
  db: Database;
  /** The deployment's ISO 4217 currency, stamped on every new product. */
  currency: string;
  logger: Logger;
}

export type CatalogService = ReturnType<typeof createCatalogService>;

export function toProduct(row: ProductRow, viewer: Principal | undefined): Product {
  const product: Product = {
    id: row.id,
    sku: row.sku,
    name: row.name,
    description: row.description,
    priceCents: row.priceCents,
    currency: row.currency,
    available: row.onHand - row.reserved,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
  // Stock internals are operational data: only admins get them.
  return viewer && isAdmin(viewer) ? { ...product, onHand: row.onHand, reserved: row.reserved } : product;
}

const productNotFound = () => new NotFoundError('PRODUCT_NOT_FOUND', 'No product with this id exists');
const productChanged = () =>
  new PreconditionFailedError('PRECONDITION_FAILED', 'The product has changed since the version named in If-Match; nothing was changed. Read it again and resend with its new ETag');

const versioned = (row: VersionedProductRow, viewer: Principal | undefined): VersionedProduct => ({ product: toProduct(row, viewer), version: row.version });

/** A malformed id cannot name a product: answer exactly as for an unknown one. */
function assertProductId(id: string): void {
  if (!isUuid(id)) throw productNotFound();
}

function positionFromCursor(cursor: string): ProductPosition {
  const { key: sku, id } = decodeKeysetCursor(cursor, CURSOR_KEYS.sku);
  return { sku, id };
}

export function createCatalogService(deps: CatalogServiceDeps) {
  const { db, currency, logger } = deps;

  /**
   * A page of the catalog, with the currency it is priced in (the deployment's): what a new
   * product will be priced in, known even while the catalog is empty (a client needs it to read
   * a typed price: 12.50 is 1250 minor units in USD, 13 in JPY).
   */
  async function listProducts(query: { limit: number; cursor?: string | undefined }, viewer?: Principal): Promise<Page<Product> & { currency: string }> {
    const after = query.cursor === undefined ? undefined : positionFromCursor(query.cursor);
    const rows = await repo.listProducts(db, { limit: query.limit + 1, after });
    const page = toPage(
      rows,
      query.limit,
      (row) => toProduct(row, viewer),
      (row) => [row.sku, row.id],
    );
    return { ...page, currency };
  }

  async function getProduct(id: string, viewer?: Principal): Promise<VersionedProduct> {
    assertProductId(id);
    const row = await repo.findProductById(db, id);
    if (!row) throw productNotFound();
    return versioned(row, viewer);
  }

  /** Why a conditional change matched no row: an unknown product (404) or a stale If-Match (412). */
  async function assertChangeable(id: string, ifMatch: IfMatch): Promise<void> {
    const current = await repo.findProductById(db, id);
    if (!current) throw productNotFound();
    if (ifMatch && !ifMatch.includes(current.version)) throw productChanged();
  }

  async function createProduct(input: CreateProductBody, actor: Principal): Promise<VersionedProduct> {
    const [row] = await repo.insertProducts(db, [{ ...input, description: input.description ?? '', currency }], {
      actorId: actor.userId,
    });
    if (!row) throw new ConflictError('SKU_TAKEN', `A product with sku ${input.sku} already exists`);
    logger.info('product created', { productId: row.id, sku: row.sku, stock: row.onHand });
    return versioned(row, actor);
  }

  async function updateProduct(id: string, changes: UpdateProductBody, actor: Principal, ifMatch?: IfMatch): Promise<VersionedProduct> {
    assertProductId(id);
    const row = await repo.updateProductDetails(db, id, changes, ifMatch);
    if (!row) {
      await assertChangeable(id, ifMatch);
      // Changeable when read again: it changed (or appeared) between the two statements.
      throw productChanged();
    }
    logger.info('product updated', { productId: id, fields: Object.keys(changes) });
    return versioned(row, actor);
  }

  async function adjustStock(id: string, { adjustment }: AdjustStockBody, actor: Principal, ifMatch?: IfMatch): Promise<VersionedProduct> {
    assertProductId(id);
    const row = await repo.adjustOnHand(db, id, adjustment, actor.userId, ifMatch);
    if (row) {
      logger.info('stock adjusted', { productId: id, adjustment, onHand: row.onHand });
      return versioned(row, actor);
    }
    // A version moves only forward, so a current version the client named was current when tried.
    await assertChangeable(id, ifMatch);
    // on_hand >= reserved always holds, so only a decrease can be refused for reservations
    // and only an increase can overflow; the sign alone tells which, whatever happened since.
    if (adjustment < 0) {
      throw new ConflictError('INSUFFICIENT_STOCK', 'This would take on-hand stock below what is reserved for orders');
    }
    throw new ConflictError('STOCK_LIMIT_EXCEEDED', `On-hand stock cannot exceed ${repo.MAX_ON_HAND}`);
  }

  return { listProducts, getProduct, createProduct, updateProduct, adjustStock };
}
