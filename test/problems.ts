import { expect } from 'vitest';

const PROBLEM = /^application\/problem\+json/;

/** Asserts an RFC 9457 problem+json answer with this status and stable `code`. */
export function expectProblem(res: { status: number; headers: Record<string, string>; body: { code?: string } }, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(PROBLEM);
  expect(res.body.code).toBe(code);
}
