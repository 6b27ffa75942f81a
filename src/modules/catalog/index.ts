export { catalogRoutes } from './catalog.routes.js';
export { createCatalogService, type CatalogService, type Product } from './catalog.service.js';
export { assertCatalogCurrency, DEMO_PRODUCT_ID, seedDemoCatalog } from './seed.js';
export { auditStock, type StockAudit } from './catalog.repository.js';
export { adjustStockBody, createProductBody, productId, updateProductBody } from './catalog.schemas.js';
