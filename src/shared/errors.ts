/**
 * The one error family the application raises on purpose. Each error carries a stable
 * machine `code` and a message that is safe to show a client; none of them knows about
 * HTTP — `middleware/error-handler.ts` is the single place that maps `kind` to a status.
 */
export type ErrorKind =
  | 'validation'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'precondition_failed'
  | 'unprocessable'
  | 'rate_limited'
  | 'unavailable';

export interface FieldProblem {
  path: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    /** Per-field or per-line details, rendered as the problem's `errors` member. */
    readonly errors?: readonly object[],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, errors?: readonly FieldProblem[], code = 'VALIDATION_FAILED') {
    super('validation', code, message, errors);
  }
}

export class UnauthenticatedError extends AppError {
  constructor(code = 'UNAUTHENTICATED', message = 'Authentication is required') {
    super('unauthenticated', code, message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'You are not allowed to do this') {
    super('forbidden', 'FORBIDDEN', message);
  }
}

export class NotFoundError extends AppError {
  constructor(code: string, message: string) {
    super('not_found', code, message);
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string, errors?: readonly object[]) {
    super('conflict', code, message, errors);
  }
}

/** A conditional request (`If-Match`) named a version of the resource that is no longer current. */
export class PreconditionFailedError extends AppError {
  constructor(code: string, message: string) {
    super('precondition_failed', code, message);
  }
}

export class UnprocessableError extends AppError {
  constructor(code: string, message: string, errors?: readonly object[]) {
    super('unprocessable', code, message, errors);
  }
}

export class RateLimitedError extends AppError {
  constructor(
    readonly retryAfterSeconds: number,
    message = 'Too many requests, try again later',
  ) {
    super('rate_limited', 'RATE_LIMITED', message);
  }
}

/** A dependency (database, Redis, SMTP) is unreachable or saturated; the client may retry later. */
export class ServiceUnavailableError extends AppError {
  constructor(
    readonly dependency: string,
    message = `A dependency (${dependency}) is unavailable, try again shortly`,
    readonly retryAfterSeconds = 5,
  ) {
    super('unavailable', 'SERVICE_UNAVAILABLE', message);
  }
}

/** The `type` URL of a problem code, a page describing it: `OUT_OF_STOCK` → `/problems/out-of-stock`. */
export const problemTypePath = (code: string): string => `/problems/${code.toLowerCase().replaceAll('_', '-')}`;
