import type { IRouter, Request } from 'express';
import { parseOrThrow, validateBody } from '../../middleware/validate.js';
import { pageQuery } from '../../shared/pagination.js';
import { authenticate, optionalAuthenticate, principalOf, requireRole, type Authenticator } from '../auth/index.js';
import type { AdjustStockBody, CreateProductBody, UpdateProductBody } from './catalog.schemas.js';
import { adjustStockBody, createProductBody, updateProductBody } from './catalog.schemas.js';
import type { CatalogService } from './catalog.service.js';

type ById<Body = unknown> = Request<{ id: string }, unknown, Body>;

/** `/api/products…`, registered on the app's own router (see app.ts). */
export function catalogRoutes(router: IRouter, catalog: CatalogService, auth: Authenticator): void {
  const admin = [authenticate(auth), requireRole('admin')];
  const anyone = optionalAuthenticate(auth);

  router.get('/api/products', anyone, async (req, res) => {
    res.json(await catalog.listProducts(parseOrThrow(pageQuery, req.query, 'query'), req.auth));
  });

  router.get('/api/products/:id', anyone, async (req: ById, res) => {
    res.json(await catalog.getProduct(req.params.id, req.auth));
  });

  router.post('/api/products', ...admin, validateBody(createProductBody), async (req: Request<Record<string, string>, unknown, CreateProductBody>, res) => {
    const product = await catalog.createProduct(req.body, principalOf(req));
    res.status(201).location(`/api/products/${product.id}`).json(product);
  });

  router.patch('/api/products/:id', ...admin, validateBody(updateProductBody), async (req: ById<UpdateProductBody>, res) => {
    res.json(await catalog.updateProduct(req.params.id, req.body, principalOf(req)));
  });

  router.post('/api/products/:id/stock', ...admin, validateBody(adjustStockBody), async (req: ById<AdjustStockBody>, res) => {
    res.json(await catalog.adjustStock(req.params.id, req.body, principalOf(req)));
  });
}
