import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../scripts/build-console.js';
import { consoleRoutes } from './console.routes.js';
import { errorHandler, notFound } from '../middleware/error-handler.js';
import { createLogger } from '../platform/logger.js';

function appServing(assetsDir: string) {
  const app = express();
  app.use(consoleRoutes(assetsDir));
  app.use(notFound);
  app.use(errorHandler(createLogger({ level: 'error', format: 'json', silent: true })));
  return supertest(app);
}

describe('GET /console', () => {
  let dir: string;
  let built: { script: string; stylesheet: string };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'console-'));
    built = await buildConsole(dir);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves the page uncached, under a CSP that allows only its own scripts and styles', async () => {
    const res = await appServing(dir).get('/console');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toBe('no-cache');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https:|data:/);
    expect(res.text).toContain(`/console/assets/${built.script}`);
    expect(res.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(res.text).not.toMatch(/<style|\sstyle=/);
    expect((await appServing(dir).get('/console/')).status).toBe(200);
  });

  it('serves hashed assets cached for a year, and an unknown asset is a 404 problem', async () => {
    const script = await appServing(dir).get(`/console/assets/${built.script}`);
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const styles = await appServing(dir).get(`/console/assets/${built.stylesheet}`);
    expect(styles.headers['content-type']).toMatch(/^text\/css/);
    const missing = await appServing(dir).get('/console/assets/main-NOPE.js');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('when the console was not built, then 503 names the fix', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'console-empty-'));
    const res = await appServing(empty).get('/console');
    rmSync(empty, { recursive: true, force: true });
    expect(res.status).toBe(503);
    expect(res.body.detail).toContain('npm run build');
  });
});
