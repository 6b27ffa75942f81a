import type { ResponseConfig, RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { z } from 'zod';

export const PROBLEM_REF = '#/components/schemas/Problem';
const header = (name: string) => ({ $ref: `#/components/headers/${name}` });

/** Reusable header components, registered by openapi.ts. */
export const HEADERS = {
  'X-Request-Id': {
    description: 'Identifies the request in the logs; echoed when the client sent a plain one (1..128 of [A-Za-z0-9_.:-]).',
    schema: { type: 'string' },
  },
  'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 0 } },
  'WWW-Authenticate': {
    description: 'RFC 6750 challenge: `Bearer`, or `Bearer error="invalid_token"` when a token was sent (`Basic` on /admin/queues).',
    schema: { type: 'string' },
  },
} as const;

type Headers = Record<string, { description: string; schema: object } | { $ref: string }>;

export function json(description: string, schema: z.ZodType, headers: Headers = {}): ResponseConfig {
  return { description, headers: { 'X-Request-Id': header('X-Request-Id'), ...headers }, content: { 'application/json': { schema } } };
}

export function noContent(description: string): ResponseConfig {
  return { description, headers: { 'X-Request-Id': header('X-Request-Id') } };
}

export function raw(description: string, mediaType: string, schema: object): ResponseConfig {
  return { description, headers: { 'X-Request-Id': header('X-Request-Id') }, content: { [mediaType]: { schema } } };
}

/** One problem `code` a status can carry, what it means, and the schema of its `errors` items if any. */
export interface ProblemCase {
  code: string;
  when: string;
  errors?: string;
}

/**
 * A problem+json response: the shared Problem schema narrowed to the codes this route can answer
 * with at this status, each explained in the description.
 */
export function problem(status: number, cases: readonly ProblemCase[]): ResponseConfig {
  const itemNames = [...new Set(cases.flatMap((c) => (c.errors ? [c.errors] : [])))];
  const itemRefs = itemNames.map((name) => ({ $ref: `#/components/schemas/${name}` }));
  const narrowing = {
    status: { const: status },
    code: { enum: cases.map((c) => c.code) },
    ...(itemRefs.length > 0 ? { errors: { type: 'array' as const, items: itemRefs.length === 1 ? itemRefs[0] : { anyOf: itemRefs } } } : {}),
  };
  const retry = status === 429 || status === 503;
  return {
    description: cases.map((c) => `\`${c.code}\`: ${c.when}`).join('\n\n'),
    headers: {
      'X-Request-Id': header('X-Request-Id'),
      ...(retry ? { 'Retry-After': header('Retry-After') } : {}),
      ...(status === 401 ? { 'WWW-Authenticate': header('WWW-Authenticate') } : {}),
    },
    content: {
      'application/problem+json': { schema: { allOf: [{ $ref: PROBLEM_REF }, { type: 'object', properties: narrowing }] } },
    },
  };
}

type Responses = RouteConfig['responses'];

/**
 * Problems every route can answer with: the JSON body parser and content-type check run before
 * any route, and any unexpected failure is a bare 500.
 */
export function commonProblems(options: { body: boolean; database: boolean; validation?: string; cursor?: boolean }): Responses {
  const badRequest: ProblemCase[] = [
    ...(options.validation ? [{ code: 'VALIDATION_FAILED', when: options.validation, errors: 'FieldProblem' }] : []),
    ...(options.body && !options.validation
      ? [{ code: 'VALIDATION_FAILED', when: 'A string or key in the body contains a NUL character or an unpaired UTF-16 surrogate.', errors: 'FieldProblem' }]
      : []),
    ...(options.cursor ? [{ code: 'INVALID_CURSOR', when: '`cursor` is not a cursor from a previous page.', errors: 'FieldProblem' }] : []),
    { code: 'MALFORMED_JSON', when: 'The request body is not valid JSON.' },
    { code: 'BAD_REQUEST', when: 'The request body could not be read, or the request has no Host header.' },
    ...(options.database ? [{ code: 'INVALID_INPUT', when: 'A value the validators let through was refused by the database as malformed or out of range.' }] : []),
  ];
  const withBody = options.body ? 'The request body' : 'A request body was sent that';
  return {
    400: problem(400, badRequest),
    413: problem(413, [{ code: 'PAYLOAD_TOO_LARGE', when: `${withBody} is larger than 100 KB.` }]),
    415: problem(415, [{ code: 'UNSUPPORTED_MEDIA_TYPE', when: `${withBody} is not UTF-8 application/json.` }]),
    ...(options.database
      ? { 503: problem(503, [{ code: 'SERVICE_UNAVAILABLE', when: 'A dependency (database, Redis) is unreachable; retry later.' }]) }
      : {}),
    500: problem(500, [{ code: 'INTERNAL_ERROR', when: 'Something failed on the server; the detail quotes the request id.' }]),
  };
}

type SecurityRequirements = Record<string, string[]>[];
/** Public: no credentials (OpenAPI `security: []`). */
export const PUBLIC: SecurityRequirements = [];
export const BEARER: SecurityRequirements = [{ bearerAuth: [] }];
/** Public, but a token (if sent) is checked and shows admins more. */
export const OPTIONAL_BEARER: SecurityRequirements = [{}, { bearerAuth: [] }];

export const UNAUTHENTICATED: ProblemCase = {
  code: 'UNAUTHENTICATED',
  when: 'The access token is missing, malformed, invalid or expired.',
};
export const FORBIDDEN_ADMIN: ProblemCase = { code: 'FORBIDDEN', when: 'The caller is not an admin.' };

/** Past a limit (see Limits in the README): always with `Retry-After`. */
export function rateLimited(when: string): Responses {
  return { 429: problem(429, [{ code: 'RATE_LIMITED', when: `${when} Retry after the seconds in Retry-After.` }]) };
}
