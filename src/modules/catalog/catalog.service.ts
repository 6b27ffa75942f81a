import type { Database } from '../../platform/db/index.js';
import type { Logger } from '../../platform/logger.js';
import { ConflictError, NotFoundError } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import { CURSOR_KEYS, decodeKeysetCursor, toPage, type Page } from '../../shared/pagination.js';
import { isAdmin, type Principal } from '../../shared/principal.js';
import * as repo from './catalog.repository.js';
import type { ProductPosition, ProductRow } from './catalog.repository.js';
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

  async function getProduct(id: string, viewer?: Principal): Promise<Product> {
    assertProductId(id);
    const row = await repo.findProductById(db, id);
    if (!row) throw productNotFound();
    return toProduct(row, viewer);
  }

  async function createProduct(input: CreateProductBody, actor: Principal): Promise<Product> {
    const [row] = await repo.insertProducts(db, [{ ...input, description: input.description ?? '', currency }], {
      actorId: actor.userId,
    });
    if (!row) throw new ConflictError('SKU_TAKEN', `A product with sku ${input.sku} already exists`);
    logger.info('product created', { productId: row.id, sku: row.sku, stock: row.onHand });
    return toProduct(row, actor);
  }

  async function updateProduct(id: string, changes: UpdateProductBody, actor: Principal): Promise<Product> {
    assertProductId(id);
    const row = await repo.updateProductDetails(db, id, changes);
    if (!row) throw productNotFound();
    logger.info('product updated', { productId: id, fields: Object.keys(changes) });
    return toProduct(row, actor);
  }

  async function adjustStock(id: string, { adjustment }: AdjustStockBody, actor: Principal): Promise<Product> {
    assertProductId(id);
    const row = await repo.adjustOnHand(db, id, adjustment, actor.userId);
    if (row) {
      logger.info('stock adjusted', { productId: id, adjustment, onHand: row.onHand });
      return toProduct(row, actor);
    }
    if (!(await repo.productExists(db, id))) throw productNotFound();
    // on_hand >= reserved always holds, so only a decrease can be refused for reservations
    // and only an increase can overflow; the sign alone tells which, whatever happened since.
    if (adjustment < 0) {
      throw new ConflictError('INSUFFICIENT_STOCK', 'This would take on-hand stock below what is reserved for orders');
    }
    throw new ConflictError('STOCK_LIMIT_EXCEEDED', `On-hand stock cannot exceed ${repo.MAX_ON_HAND}`);
  }

  return { listProducts, getProduct, createProduct, updateProduct, adjustStock };
}
