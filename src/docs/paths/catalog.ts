import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { DEMO_PRODUCT_ID, productId } from '../../modules/catalog/index.js';
import { pageQuery } from '../../shared/pagination.js';
import { BEARER, commonProblems, FORBIDDEN_ADMIN, json, OPTIONAL_BEARER, problem, UNAUTHENTICATED } from '../responses.js';
import { AdjustStockRequest, CreateProductRequest, Product, ProductPage, UpdateProductRequest } from '../schemas.js';

const tags = ['Catalog'];
const params = z.object({
  id: productId.meta({ description: 'Product id; a malformed id answers 404 like an unknown one.', example: DEMO_PRODUCT_ID }),
});
const notFound = problem(404, [{ code: 'PRODUCT_NOT_FOUND', when: 'No product with this id exists.' }]);
const adminOnly = { 401: problem(401, [UNAUTHENTICATED]), 403: problem(403, [FORBIDDEN_ADMIN]) };
const location = { Location: { description: 'The new product: /api/products/{id}', schema: { type: 'string' } } };
const adminView = 'Admins (with a token) also see `onHand` and `reserved`.';
const etag = {
  ETag: {
    description: "The product's version, which changes whenever the product does (details, stock, an order's reservation); send it back in `If-Match` to change only that version.",
    schema: { type: 'string' as const, example: '"3f0c9a1d2b7e4c5f8a9b0c1d2e3f4a5b"' },
  },
};
const ifMatch = z.object({
  'If-Match': z.string().optional().meta({
    // The server reads at most 16 KB of headers in all (HEADERS_TOO_LARGE).
    maxLength: 16_384,
    description:
      'Apply the change only to this version of the product: an `ETag` from an earlier answer (a list of them, or `*` for any). Otherwise `412 PRECONDITION_FAILED` and nothing changes. Weak tags (`W/"…"`) never match.',
  }),
});
const changed = problem(412, [{ code: 'PRECONDITION_FAILED', when: '`If-Match` names none of the product\'s current version: it changed since it was read. Nothing was changed.' }]);
const ifMatchMalformed = '`If-Match` is not `*` or a list of quoted entity tags';

export function registerCatalogPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/api/products',
    operationId: 'listProducts',
    tags,
    summary: 'List products, ordered by sku',
    description: adminView,
    security: OPTIONAL_BEARER,
    request: { query: pageQuery },
    responses: {
      200: json('A page of products.', ProductPage),
      ...commonProblems({ body: false, database: true, cursor: true, validation: '`limit` is outside 1..100.' }),
      401: problem(401, [{ ...UNAUTHENTICATED, when: 'A token was sent and it is invalid or expired.' }]),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/api/products/{id}',
    operationId: 'getProduct',
    tags,
    summary: 'One product',
    description: adminView,
    security: OPTIONAL_BEARER,
    request: {
      params,
      headers: z.object({ 'If-None-Match': z.string().optional().meta({ maxLength: 16_384, description: 'An `ETag` from an earlier answer: `304` without a body while the product is still that version.' }) }),
    },
    responses: {
      200: json('The product.', Product, etag),
      304: { description: 'The product is still the version named in `If-None-Match`.', headers: etag },
      ...commonProblems({ body: false, database: true }),
      401: problem(401, [{ ...UNAUTHENTICATED, when: 'A token was sent and it is invalid or expired.' }]),
      404: notFound,
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/api/products',
    operationId: 'createProduct',
    tags,
    summary: 'Create a product (admin)',
    security: BEARER,
    request: { body: { required: true, content: { 'application/json': { schema: CreateProductRequest } } } },
    responses: {
      201: json('Created.', Product, { ...location, ...etag }),
      ...commonProblems({ body: true, database: true, validation: 'A field is missing or out of range.' }),
      ...adminOnly,
      409: problem(409, [{ code: 'SKU_TAKEN', when: 'A product with this sku already exists.' }]),
    },
  });

  registry.registerPath({
    method: 'patch',
    path: '/api/products/{id}',
    operationId: 'updateProduct',
    tags,
    summary: 'Change name, description or price (admin)',
    security: BEARER,
    request: { params, headers: ifMatch, body: { required: true, content: { 'application/json': { schema: UpdateProductRequest } } } },
    responses: {
      200: json('The updated product.', Product, etag),
      ...commonProblems({ body: true, database: true, validation: `No field to change was sent, or one is out of range; or ${ifMatchMalformed}.` }),
      ...adminOnly,
      404: notFound,
      412: changed,
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/api/products/{id}/stock',
    operationId: 'adjustStock',
    tags,
    summary: 'Add or remove on-hand stock (admin)',
    security: BEARER,
    request: { params, headers: ifMatch, body: { required: true, content: { 'application/json': { schema: AdjustStockRequest } } } },
    responses: {
      200: json('The product with its new stock.', Product, etag),
      ...commonProblems({ body: true, database: true, validation: `\`adjustment\` is zero, not an integer, or beyond ±1000000; or ${ifMatchMalformed}.` }),
      ...adminOnly,
      404: notFound,
      409: problem(409, [
        { code: 'INSUFFICIENT_STOCK', when: 'The decrease would take on-hand stock below what is reserved for orders.' },
        { code: 'STOCK_LIMIT_EXCEEDED', when: 'The increase would take on-hand stock above the maximum.' },
      ]),
      412: changed,
    },
  });
}
