import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { productId } from '../../modules/catalog/index.js';
import { pageQuery } from '../../shared/pagination.js';
import { BEARER, commonProblems, FORBIDDEN_ADMIN, json, OPTIONAL_BEARER, problem, UNAUTHENTICATED } from '../responses.js';
import { AdjustStockRequest, CreateProductRequest, Product, ProductPage, UpdateProductRequest } from '../schemas.js';

const tags = ['Catalog'];
const params = z.object({ id: productId.meta({ description: 'Product id; a malformed id answers 404 like an unknown one.' }) });
const notFound = problem(404, [{ code: 'PRODUCT_NOT_FOUND', when: 'No product with this id exists.' }]);
const adminOnly = { 401: problem(401, [UNAUTHENTICATED]), 403: problem(403, [FORBIDDEN_ADMIN]) };
const location = { Location: { description: 'The new product: /api/products/{id}', schema: { type: 'string' } } };
const adminView = 'Admins (with a token) also see `onHand` and `reserved`.';

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
    request: { params },
    responses: {
      200: json('The product.', Product),
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
      201: json('Created.', Product, location),
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
    request: { params, body: { required: true, content: { 'application/json': { schema: UpdateProductRequest } } } },
    responses: {
      200: json('The updated product.', Product),
      ...commonProblems({ body: true, database: true, validation: 'No field to change was sent, or one is out of range.' }),
      ...adminOnly,
      404: notFound,
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/api/products/{id}/stock',
    operationId: 'adjustStock',
    tags,
    summary: 'Add or remove on-hand stock (admin)',
    security: BEARER,
    request: { params, body: { required: true, content: { 'application/json': { schema: AdjustStockRequest } } } },
    responses: {
      200: json('The product with its new stock.', Product),
      ...commonProblems({ body: true, database: true, validation: '`adjustment` is zero, not an integer, or beyond ±1000000.' }),
      ...adminOnly,
      404: notFound,
      409: problem(409, [
        { code: 'INSUFFICIENT_STOCK', when: 'The decrease would take on-hand stock below what is reserved for orders.' },
        { code: 'STOCK_LIMIT_EXCEEDED', when: 'The increase would take on-hand stock above the maximum.' },
      ]),
    },
  });
}
