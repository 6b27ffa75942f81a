import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { Router, type RequestHandler } from 'express';
import helmet from 'helmet';
import { ServiceUnavailableError } from '../shared/errors.js';

/** `npm run build` writes the bundle here; src/console/ and dist/console/ both sit two levels below it. */
export const CONSOLE_ASSETS_DIR = fileURLToPath(new URL('../../dist/public/console/', import.meta.url));

/**
 * The console runs only its own bundled script and stylesheet and talks only to this origin:
 * no inline script or style elements, no eval, no other hosts. Preact and uPlot set styles
 * through the CSSOM, which `style-src 'self'` allows.
 */
export const CONSOLE_CSP = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'"],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'manifest-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
  'object-src': ["'none'"],
};

const consoleHeaders: RequestHandler = helmet({ contentSecurityPolicy: { useDefaults: false, directives: CONSOLE_CSP } });

/**
 * `GET /console` serves the web console's page (never cached, so a new build is picked up at
 * once); `/console/assets/*` serves its bundle under content-hashed names, cached for a year.
 */
export function consoleRoutes(assetsDir = CONSOLE_ASSETS_DIR): Router {
  const router = Router();
  let page: string | undefined;
  const indexFile = `${assetsDir}/index.html`;

  router.use('/console', consoleHeaders);
  router.get('/console', (_req, res) => {
    if (page === undefined) {
      if (!existsSync(indexFile)) throw new ServiceUnavailableError('console bundle', 'The console is not built yet; run `npm run build`');
      page = readFileSync(indexFile, 'utf8');
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.type('html').send(page);
  });
  router.use(
    '/console/assets',
    express.static(`${assetsDir}/assets`, { immutable: true, maxAge: '365d', index: false, redirect: false, fallthrough: true }),
  );
  return router;
}
