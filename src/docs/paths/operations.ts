import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { commonProblems, json, problem, PUBLIC, raw, UNAUTHENTICATED } from '../responses.js';
import { Liveness, Readiness } from '../schemas.js';

const tags = ['Operations'];
const transportOnly = () => commonProblems({ body: false, database: false });
const SHUTTING_DOWN = { code: 'SHUTTING_DOWN', when: 'The instance received SIGTERM (see `SHUTDOWN_DELAY_MS`); send requests to another one.' };

export function registerOperationsPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/health/live',
    operationId: 'getLiveness',
    tags,
    security: PUBLIC,
    summary: 'Liveness: 200 while the process runs',
    responses: { 200: json('The process is running.', Liveness), ...transportOnly(), 503: problem(503, [SHUTTING_DOWN]) },
  });

  registry.registerPath({
    method: 'get',
    path: '/health/ready',
    operationId: 'getReadiness',
    tags,
    security: PUBLIC,
    summary: 'Readiness: 200 when every configured dependency answers',
    responses: {
      200: json('Every dependency answered.', Readiness),
      ...transportOnly(),
      503: problem(503, [
        { code: 'NOT_READY', when: 'A dependency did not answer; `errors` names it.', errors: 'UnavailableDependency' },
        SHUTTING_DOWN,
      ]),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    tags,
    security: [{}, { metricsToken: [] }],
    summary: 'Prometheus metrics',
    description:
      'With `METRICS_TOKEN` set, requires `Authorization: Bearer <METRICS_TOKEN>`. Without it the endpoint is open, ' +
      'except with `NODE_ENV=production`, where it answers 404.',
    responses: {
      200: raw('Metrics in the Prometheus text exposition format.', 'text/plain', { type: 'string', maxLength: 10_000_000 }),
      ...transportOnly(),
      401: problem(401, [{ ...UNAUTHENTICATED, when: 'METRICS_TOKEN is set and the request does not carry it.' }]),
      404: problem(404, [{ code: 'NOT_FOUND', when: 'NODE_ENV=production and no METRICS_TOKEN is set.' }]),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApiDocument',
    tags,
    security: PUBLIC,
    summary: 'This OpenAPI 3.1 document',
    responses: { 200: raw('The document.', 'application/json', { type: 'object' }), ...transportOnly() },
  });

  registry.registerPath({
    method: 'get',
    path: '/docs',
    operationId: 'getApiDocs',
    tags,
    security: PUBLIC,
    summary: 'Interactive API docs (Swagger UI)',
    description: '`/docs` redirects to `/docs/`, which serves the page; its assets live under `/docs/`.',
    responses: {
      200: raw('The Swagger UI page.', 'text/html', { type: 'string' }),
      301: { description: 'Redirect from `/docs` to `/docs/`.', headers: { Location: { schema: { type: 'string' } } } },
      ...transportOnly(),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/problems',
    operationId: 'listProblemTypes',
    tags,
    security: PUBLIC,
    summary: 'Every error code, each with its problem type page',
    description: 'HTML by default; JSON (`{items: [{type, code, status, title, description}]}`) when `Accept` prefers `application/json`.',
    responses: {
      200: raw('The list of problem types.', 'text/html', { type: 'string' }),
      ...transportOnly(),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/problems/{slug}',
    operationId: 'getProblemType',
    tags,
    security: PUBLIC,
    summary: 'What an error code means: the page a problem body\'s `type` links to',
    description: 'The `type` of every problem+json body is `/problems/<code in lower-kebab case>`. HTML by default; JSON when `Accept` prefers it.',
    request: { params: z.object({ slug: z.string().max(64).meta({ example: 'out-of-stock' }) }) },
    responses: {
      200: raw('The description of the code.', 'text/html', { type: 'string' }),
      ...transportOnly(),
      404: problem(404, [{ code: 'NOT_FOUND', when: 'No error code has this name.' }]),
    },
  });
}
