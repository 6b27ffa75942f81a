import { readFileSync } from 'node:fs';
import { OpenApiGeneratorV31, OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { registerAuthPaths } from './paths/auth.js';
import { registerCatalogPaths } from './paths/catalog.js';
import { registerOperationsPaths } from './paths/operations.js';
import { registerOrdersPaths } from './paths/orders.js';
import { HEADERS } from './responses.js';
import { FieldProblem, Problem, StockShortfall, UnavailableDependency, UnknownProduct } from './schemas.js';

export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;
type Definition = ConstructorParameters<typeof OpenApiGeneratorV31>[0][number];

/** src/docs/ and dist/docs/ are both two levels below package.json. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

/** Components that routes reference by `$ref` only (from problem responses), so none pulls them in. */
const REFERENCED_BY_NAME = [Problem, FieldProblem, StockShortfall, UnknownProduct, UnavailableDependency];

/** Builds the document from the zod schemas the routes validate with. */
export function buildOpenApiDocument(): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'The accessToken from /api/auth/register, /login or /refresh: a JWT handled per RFC8725 (JWT Best Current Practices): ' +
      'HS256 pinned (no `none`), iss, aud, exp and a token type checked, lifetime at most 15 minutes.',
  });
  registry.registerComponent('securitySchemes', 'metricsToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'METRICS_TOKEN, for Prometheus scrapes of /metrics.',
  });
  for (const [name, header] of Object.entries(HEADERS)) registry.registerComponent('headers', name, header);

  registerAuthPaths(registry);
  registerCatalogPaths(registry);
  registerOrdersPaths(registry);
  registerOperationsPaths(registry);

  // zod 4 schemas have a `type` property, so plain schemas must be wrapped to be told apart from definitions.
  const named: Definition[] = REFERENCED_BY_NAME.map((schema) => ({ type: 'schema', schema }));
  return new OpenApiGeneratorV31([...named, ...registry.definitions]).generateDocument({
    openapi: '3.1.0',
    // Relative: the document describes whichever host serves it.
    servers: [{ url: '/', description: 'Whichever deployment serves this document (local, staging or production)', 'x-internal': false }],
    info: {
      title: 'Order Processing Service',
      version: packageVersion(),
      license: { name: 'MIT', identifier: 'MIT' },
      description:
        'Orders with atomic stock reservation, processed asynchronously. Errors are RFC 9457 problem details ' +
        '(`application/problem+json`) with a stable `code`; every response carries `X-Request-Id`. ' +
        'Lists use cursor pagination: `?limit=` (1..100, default 20) and `?cursor=` from `nextCursor`.',
    },
    tags: [
      { name: 'Auth', description: 'Accounts, sign-in and token rotation' },
      { name: 'Catalog', description: 'Products and stock' },
      { name: 'Orders', description: 'Placing, reading and cancelling orders' },
      { name: 'Operations', description: 'Health, metrics and these docs' },
    ],
  });
}

let cached: OpenApiDocument | undefined;

/** The document is static for a build: generate it once per process. */
export function openApiDocument(): OpenApiDocument {
  cached ??= buildOpenApiDocument();
  return cached;
}
