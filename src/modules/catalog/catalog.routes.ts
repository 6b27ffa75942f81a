import type { IRouter, Request, Response } from 'express';
import { etag, ifMatchTags } from '../../middleware/preconditions.js';
import { parseOrThrow, validateBody } from '../../middleware/validate.js';
import { pageQuery } from '../../shared/pagination.js';
import { authenticate, optionalAuthenticate, principalOf, requireRole, type Authenticator } from '../auth/index.js';
import type { AdjustStockBody, CreateProductBody, UpdateProductBody } from './catalog.schemas.js';
import { adjustStockBody, createProductBody, updateProductBody } from './catalog.schemas.js';
import type { CatalogService, VersionedProduct } from './catalog.service.js';

type ById<Body = unknown> = Request<{ id: string }, unknown, Body>;

/** One product with its version as the ETag (a GET whose If-None-Match names it answers 304). */
const sendProduct = (res: Response, { product, version }: VersionedProduct, status = 200) => res.status(status).set('ETag', etag(version)).json(product);

/** `/api/products…`, registered on the app's own router (see app.ts). */
export function catalogRoutes(router: IRouter, catalog: CatalogService, auth: Authenticator): void {
  const admin = [authenticate(auth), requireRole('admin')];
  const anyone = optionalAuthenticate(auth);

  router.get('/api/products', anyone, async (req, res) => {
    res.json(await catalog.listProducts(parseOrThrow(pageQuery, req.query, 'query'), req.auth));
  });

  router.get('/api/products/:id', anyone, async (req: ById, res) => {
    sendProduct(res, await catalog.getProduct(req.params.id, req.auth));
  });

  router.post('/api/products', ...admin, validateBody(createProductBody), async (req: Request<Record<string, string>, unknown, CreateProductBody>, res) => {
    const created = await catalog.createProduct(req.body, principalOf(req));
    sendProduct(res.location(`/api/products/${created.product.id}`), created, 201);
  });

  router.patch('/api/products/:id', ...admin, validateBody(updateProductBody), async (req: ById<UpdateProductBody>, res) => {
    sendProduct(res, await catalog.updateProduct(req.params.id, req.body, principalOf(req), ifMatchTags(req)));
  });

  router.post('/api/products/:id/stock', ...admin, validateBody(adjustStockBody), async (req: ById<AdjustStockBody>, res) => {
    sendProduct(res, await catalog.adjustStock(req.params.id, req.body, principalOf(req), ifMatchTags(req)));
  });
}
