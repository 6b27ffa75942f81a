import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { errorFields, type Logger } from '../platform/logger.js';
import { AppError, RateLimitedError, ServiceUnavailableError, UnauthenticatedError, ValidationError, problemTypePath, type ErrorKind } from '../shared/errors.js';
import { findUnstorableText } from './unstorable-text.js';

const STATUS_BY_KIND: Record<ErrorKind, number> = {
  validation: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  precondition_failed: 412,
  unprocessable: 422,
  rate_limited: 429,
  unavailable: 503,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: readonly object[];
}

export function sendProblem(res: Response, problem: Problem): void {
  // 5xx bodies carry the request id, so a report can be matched with the logs.
  const requestId = problem.status >= 500 ? (res.getHeader('X-Request-Id') as string | undefined) : undefined;
  res
    .status(problem.status)
    .type('application/problem+json')
    .json({
      type: problemTypePath(problem.code),
      title: TITLES[problem.status] ?? 'Error',
      status: problem.status,
      detail: problem.detail,
      code: problem.code,
      ...(problem.errors ? { errors: problem.errors } : {}),
      ...(requestId ? { requestId } : {}),
    });
}

/** Well-formed JSON that the strict parser refused all the same (`null`, `"text"`, `1`). */
function isJson(body: unknown): boolean {
  try {
    JSON.parse(body as string);
    return typeof body === 'string';
  } catch {
    return false;
  }
}

/** Errors raised by express.json() (body-parser) carry a `type`, an HTTP status and the raw `body` it refused. */
function bodyParserProblem(error: { type?: unknown; status?: unknown; body?: unknown }): Problem | undefined {
  switch (error.type) {
    case 'entity.too.large':
      return { status: 413, code: 'PAYLOAD_TOO_LARGE', detail: 'The request body is larger than 100 KB' };
    case 'entity.parse.failed':
      return { status: 400, code: 'MALFORMED_JSON', detail: isJson(error.body) ? 'The request body must be a JSON object' : 'The request body is not valid JSON' };
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', detail: 'The request body must be UTF-8 JSON' };
    default:
      return typeof error.status === 'number' && error.status >= 400 && error.status < 500
        ? { status: error.status, code: 'BAD_REQUEST', detail: 'The request could not be read' }
        : undefined;
  }
}

/**
 * SQLSTATE class 22 (data exception: a value PostgreSQL cannot take, such as an impossible date or
 * a NUL in text) can only come from input the validators let through. It is the client's input,
 * so a 400, never a 500; the validators stay the first line and this is the backstop.
 */
function dataExceptionProblem(error: unknown): Problem | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^22[0-9A-Z]{3}$/.test(code)) return undefined;
  return { status: 400, code: 'INVALID_INPUT', detail: 'A value in the request is malformed or out of range' };
}

/**
 * Access tokens are not looked up per request, so a token can outlive its account (removed by
 * an operator): writing a row that references the user then breaks a `…_user_id_fkey`. That is
 * the token's fault, not the server's: 401, as `/api/auth/me` answers for the same token.
 */
function goneAccountProblem(error: unknown): AppError | undefined {
  const { code, constraint } = (error ?? {}) as { code?: unknown; constraint?: unknown };
  if (code !== '23503' || typeof constraint !== 'string' || !constraint.endsWith('_user_id_fkey')) return undefined;
  return new UnauthenticatedError('UNAUTHENTICATED', 'The account of this access token no longer exists');
}

/**
 * RFC 6750 §3: a 401 names the scheme, and says the token was bad when one was sent and was the
 * reason: a wrong current password (`POST /api/auth/password`) came with a good token.
 */
function challenge(req: Request, res: Response, code: string): void {
  if (res.getHeader('WWW-Authenticate') !== undefined) return;
  const sentBearer = code !== 'INVALID_CREDENTIALS' && /^Bearer\s/i.test(req.get('authorization') ?? '');
  res.setHeader('WWW-Authenticate', sentBearer ? 'Bearer error="invalid_token"' : 'Bearer');
}

/** Retry-After of a 503 that names no time of its own. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;

/**
 * The single place that turns an error into an HTTP answer. Known errors keep their code and
 * message; anything else is logged with its stack and answered with a bare 500 that carries
 * only the request id.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    error = goneAccountProblem(error) ?? error;
    if (error instanceof AppError) {
      if (error instanceof UnauthenticatedError) challenge(req, res, error.code);
      if (error instanceof RateLimitedError) res.setHeader('Retry-After', String(error.retryAfterSeconds));
      // Every 503 says when to come back, a dependency's or a limit's of this process (STREAMS_AT_CAPACITY).
      if (error.kind === 'unavailable') res.setHeader('Retry-After', String(error instanceof ServiceUnavailableError ? error.retryAfterSeconds : DEFAULT_RETRY_AFTER_SECONDS));
      if (error instanceof ServiceUnavailableError) logger.warn('dependency unavailable', { dependency: error.dependency, requestId: req.requestId });
      sendProblem(res, {
        status: STATUS_BY_KIND[error.kind],
        code: error.code,
        detail: error.message,
        ...(error.errors ? { errors: error.errors } : {}),
      });
      return;
    }
    const parserProblem = bodyParserProblem(error as { type?: unknown; status?: unknown }) ?? dataExceptionProblem(error);
    if (parserProblem) {
      sendProblem(res, parserProblem);
      return;
    }
    logger.error('unhandled error', { ...errorFields(error), requestId: req.requestId, path: req.originalUrl });
    sendProblem(res, {
      status: 500,
      code: 'INTERNAL_ERROR',
      detail: `Something went wrong on our side. Quote request id ${req.requestId} when reporting it.`,
    });
  };
}

export const notFound: RequestHandler = (req, res) => {
  sendProblem(res, { status: 404, code: 'NOT_FOUND', detail: `No route for ${req.method} ${req.path}` });
};

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;

/**
 * Bodies must be UTF-8 JSON (else 415) of at most 100 KB (else 413). Requests without a body skip
 * the parser entirely, which keeps the hot GET paths short.
 */
export function jsonBody(): RequestHandler {
  const parse = express.json({ limit: '100kb', type: ['application/json', 'application/*+json'] });
  return (req, res, next) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody) {
      next();
      return;
    }
    if (!req.is(['application/json', 'application/*+json'])) {
      sendProblem(res, { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', detail: 'Send the request body as application/json' });
      return;
    }
    // The parser would also decode UTF-7, UTF-16 and UTF-32 bodies; JSON between systems is UTF-8
    // (RFC 8259 §8.1), and a body in another charset is refused before it is read.
    const charset = CHARSET.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8') {
      sendProblem(res, { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', detail: 'The request body must be UTF-8 JSON' });
      return;
    }
    parse(req, res, (error?: unknown) => {
      if (error) {
        next(error);
        return;
      }
      // Refused in every string of every body, whatever the route: characters no field can store
      // as sent (NUL, unpaired surrogates), which no field of ours has a use for.
      const found = findUnstorableText(req.body);
      if (found) {
        next(new ValidationError(`Invalid request body — ${found.path || 'body'}: ${found.message}`, [found]));
        return;
      }
      next();
    });
  };
}
