import type { Database } from '../../platform/db/index.js';
import { insertProducts, type NewProduct } from './catalog.repository.js';

const DEMO_PRODUCTS: ReadonlyArray<Omit<NewProduct, 'currency'>> = [
  { sku: 'MUG-CER-350', name: 'Ceramic mug, 350 ml', description: 'Stoneware mug with a matte glaze; dishwasher safe.', priceCents: 1200, stock: 120 },
  { sku: 'TEE-ORG-M', name: 'Organic cotton T-shirt, M', description: 'Heavyweight 180 g/m² organic cotton, regular fit.', priceCents: 2500, stock: 80 },
  { sku: 'TEE-ORG-L', name: 'Organic cotton T-shirt, L', description: 'Heavyweight 180 g/m² organic cotton, regular fit.', priceCents: 2500, stock: 60 },
  { sku: 'BTL-STL-750', name: 'Insulated steel bottle, 750 ml', description: 'Keeps drinks cold for 24 hours or hot for 12.', priceCents: 3400, stock: 45 },
  { sku: 'NB-DOT-A5', name: 'Dotted notebook, A5', description: '192 numbered pages of 100 g/m² paper, lay-flat binding.', priceCents: 1800, stock: 200 },
  { sku: 'PEN-GEL-BLK', name: 'Gel pen, black (3-pack)', description: '0.5 mm quick-drying gel ink.', priceCents: 650, stock: 300 },
  { sku: 'BAG-CNV-TOTE', name: 'Canvas tote bag', description: '12 oz cotton canvas with an inner pocket.', priceCents: 1500, stock: 90 },
  { sku: 'KB-MECH-TKL', name: 'Mechanical keyboard, tenkeyless', description: 'Hot-swappable switches, PBT keycaps, USB-C.', priceCents: 8900, stock: 25 },
  { sku: 'MSE-WL-ERG', name: 'Wireless ergonomic mouse', description: 'Vertical grip, silent clicks, 2.4 GHz and Bluetooth.', priceCents: 4900, stock: 40 },
  { sku: 'CBL-USBC-2M', name: 'USB-C cable, 2 m', description: 'Braided, 100 W power delivery, USB 2.0 data.', priceCents: 1100, stock: 150 },
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
