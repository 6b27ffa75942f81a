import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../test/harness.js';
import { PROBLEM_TYPES, problemTypePath } from './problems.js';

const SRC = path.resolve(import.meta.dirname, '..');

/** Every UPPER_SNAKE code the code base raises: `new XError('CODE'…`, `XError(…, 'CODE')`, `code: 'CODE'`. */
function codesRaisedInSource(): Set<string> {
  const codes = new Set<string>();
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && !file.startsWith('config'));
  for (const file of files) {
    const text = readFileSync(path.join(SRC, file), 'utf8');
    for (const match of text.matchAll(/(?:code: |Error\(|Error\([^)]*?, )'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{5,})'/g)) codes.add(match[1]!);
  }
  return codes;
}

describe('problem type pages', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ storage: 'postgres' });
  });
  afterAll(async () => {
    await app.close();
  });

  it('when the code base raises a code, then it has a page (describe new codes in src/docs/problems.ts)', () => {
    const undocumented = [...codesRaisedInSource()].filter((code) => !PROBLEM_TYPES[code]);
    expect(undocumented).toEqual([]);
  });

  it('when an error body is followed to its type, then the page describes that code, as HTML or as JSON', async () => {
    const notFound = await app.http.get('/no/such/route');
    expect(notFound.status).toBe(404);
    const type = (notFound.body as { type: string }).type;
    expect(type).toBe(problemTypePath('NOT_FOUND'));

    const page = await app.http.get(type).set('Accept', 'text/html');
    expect(page.status).toBe(200);
    expect(page.type).toBe('text/html');
    expect(page.text).toContain('<code>NOT_FOUND</code>');
    expect(page.text).toContain('HTTP status 404');

    const asJson = await app.http.get(problemTypePath('OUT_OF_STOCK')).set('Accept', 'application/json');
    expect(asJson.body).toMatchObject({ type: '/problems/out-of-stock', code: 'OUT_OF_STOCK', status: 409, description: expect.stringContaining('errors') });

    const index = await app.http.get('/problems').set('Accept', 'application/json');
    expect((index.body as { items: unknown[] }).items).toHaveLength(Object.keys(PROBLEM_TYPES).length);
  });

  it('when a type names no code, then it is an ordinary 404', async () => {
    const res = await app.http.get('/problems/no-such-code');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('when /admin/queues is opened in the embedded default, then the answer says it needs Redis', async () => {
    const res = await app.http.get('/admin/queues');
    expect(res.status).toBe(404);
    expect(res.type).toBe('application/problem+json');
    expect((res.body as { detail: string }).detail).toMatch(/only with Redis \(set REDIS_URL\)/);
  });
});
