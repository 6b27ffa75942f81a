import type { RequestHandler } from 'express';
import type { z } from 'zod';
import { ValidationError, type FieldProblem } from '../shared/errors.js';
import { plainMessage } from './plain-messages.js';

export function fieldProblems(error: z.ZodError): FieldProblem[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
}

export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(input, { error: plainMessage });
  if (!result.success) {
    const problems = fieldProblems(result.error);
    const first = problems[0];
    const detail = first ? `${first.path || what}: ${first.message}` : `invalid ${what}`;
    throw new ValidationError(`Invalid ${what} — ${detail}`, problems);
  }
  return result.data;
}

/** Validates the JSON body and replaces it with the parsed value: handlers see typed, stripped input. */
export function validateBody(schema: z.ZodType): RequestHandler {
  return (req, _res, next) => {
    req.body = parseOrThrow(schema, req.body ?? {}, 'request body');
    next();
  };
}
