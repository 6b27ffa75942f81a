import type { Database } from '../../platform/db/index.js';
import { StartupError } from '../../shared/startup-error.js';
import { findOtherCurrency, insertProducts, type NewProduct } from './catalog.repository.js';

/** Fixed ids, so the API docs' examples name a product that exists in a freshly seeded catalog. */
const demoProductId = (n: number) => `de300000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** The demo catalog's ceramic mug (MUG-CER-350): the product the API docs' examples order. */
export const DEMO_PRODUCT_ID = demoProductId(1);

const DEMO_PRODUCTS: ReadonlyArray<Omit<NewProduct, 'currency'>> = [
  { id: demoProductId(1), sku: 'MUG-CER-350', name: 'Ceramic mug, 350 ml', description: 'Stoneware mug with a matte glaze; dishwasher safe.', priceCents: 1200, stock: 120 },
  { id: demoProductId(2), sku: 'TEE-ORG-M', name: 'Organic cotton T-shirt, M', description: 'Heavyweight 180 g/m² organic cotton, regular fit.', priceCents: 2500, stock: 80 },
  { id: demoProductId(3), sku: 'TEE-ORG-L', name: 'Organic cotton T-shirt, L', description: 'Heavyweight 180 g/m² organic cotton, regular fit.', priceCents: 2500, stock: 60 },
  { id: demoProductId(4), sku: 'BTL-STL-750', name: 'Insulated steel bottle, 750 ml', description: 'Keeps drinks cold for 24 hours or hot for 12.', priceCents: 3400, stock: 45 },
  { id: demoProductId(5), sku: 'NB-DOT-A5', name: 'Dotted notebook, A5', description: '192 numbered pages of 100 g/m² paper, lay-flat binding.', priceCents: 1800, stock: 200 },
  { id: demoProductId(6), sku: 'PEN-GEL-BLK', name: 'Gel pen, black (3-pack)', description: '0.5 mm quick-drying gel ink.', priceCents: 650, stock: 300 },
  { id: demoProductId(7), sku: 'BAG-CNV-TOTE', name: 'Canvas tote bag', description: '12 oz cotton canvas with an inner pocket.', priceCents: 1500, stock: 90 },
  { id: demoProductId(8), sku: 'KB-MECH-TKL', name: 'Mechanical keyboard, tenkeyless', description: 'Hot-swappable switches, PBT keycaps, USB-C.', priceCents: 8900, stock: 25 },
  { id: demoProductId(9), sku: 'MSE-WL-ERG', name: 'Wireless ergonomic mouse', description: 'Vertical grip, silent clicks, 2.4 GHz and Bluetooth.', priceCents: 4900, stock: 40 },
  { id: demoProductId(10), sku: 'CBL-USBC-2M', name: 'USB-C cable, 2 m', description: 'Braided, 100 W power delivery, USB 2.0 data.', priceCents: 1100, stock: 150 },
];

/**
 * Inserts the demo catalog, with an `initial` ledger row per product, only into an empty
 * catalog; the emptiness check is part of the insert, so concurrent start-ups seed once.
 * Returns how many products were inserted.
 */
export async function seedDemoCatalog(db: Database, currency: string): Promise<number> {
  const inserted = await insertProducts(
    db,
    DEMO_PRODUCTS.map((product) => ({ ...product, currency })),
    { actorId: null, onlyIntoEmptyCatalog: true },
  );
  return inserted.length;
}

/**
 * Placement prices an order from the catalog and stamps it with the deployment's currency, so a
 * catalog priced in another one (CURRENCY changed after products were created, or the demo
 * catalog seeded under the default) would charge its amounts in the wrong currency. Refuses to
 * start instead, naming the variable.
 */
export async function assertCatalogCurrency(db: Database, currency: string): Promise<void> {
  const other = await findOtherCurrency(db, currency);
  if (other === undefined) return;
  throw new StartupError(
    `The catalog is priced in ${other}, but CURRENCY=${currency}: orders would charge ${other} prices as ${currency}; set CURRENCY=${other} (one currency per deployment)`,
  );
}
