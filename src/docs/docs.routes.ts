import { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import { htmlSecurityHeaders } from '../middleware/security-headers.js';
import { openApiDocument } from './openapi.js';

const SPEC_PATH = '/openapi.json';

/**
 * Runs in the browser (swagger-ui-express copies its source into swagger-ui-init.js): when
 * "Try it out" on register, login or refresh returns an access token, the UI is authorized with
 * it, so the next call just works instead of needing the token pasted into "Authorize".
 * It must stay self-contained: nothing from this module exists in the browser.
 */
function fillInAccessToken(response: { url: string; body?: unknown }): typeof response {
  const token = (response.body as { accessToken?: unknown } | undefined)?.accessToken;
  if (typeof token === 'string' && /\/api\/auth\/(register|login|refresh)(\?|$)/.test(response.url)) {
    (globalThis as unknown as { ui?: { preauthorizeApiKey(name: string, value: string): unknown } }).ui?.preauthorizeApiKey('bearerAuth', token);
  }
  return response;
}

/** Swagger UI loads the document from our own origin; nothing is fetched from anywhere else. */
const UI_OPTIONS = {
  customSiteTitle: 'Order Processing Service — API docs',
  customCss: '',
  swaggerUrl: SPEC_PATH,
  swaggerOptions: { validatorUrl: null, deepLinking: true, persistAuthorization: false, responseInterceptor: fillInAccessToken },
};

/**
 * Helmet's HTML headers with its default CSP, minus `upgrade-insecure-requests`: it makes browsers fetch the page's
 * same-origin assets over https, so on a plain-http host (anything but localhost) the UI would
 * not load. Behind TLS the relative asset URLs are https anyway. Nothing else is relaxed.
 */
const docsHeaders = htmlSecurityHeaders({ 'upgrade-insecure-requests': null });

/** `GET /openapi.json` (the document) and `GET /docs` (Swagger UI, assets under /docs/). */
export function docsRoutes(): Router {
  const router = Router();
  const page = swaggerUi.generateHTML(undefined, UI_OPTIONS);

  router.get(SPEC_PATH, (_req, res) => {
    res.json(openApiDocument());
  });

  router.use('/docs', docsHeaders);
  // The page refers to its assets relatively (./swagger-ui.css), so it must be served at /docs/.
  router.get('/docs', (req, res) => {
    if (!req.originalUrl.split('?')[0]?.endsWith('/')) {
      res.redirect(301, `${req.baseUrl}/docs/`);
      return;
    }
    res.type('html').send(page);
  });
  router.use('/docs', swaggerUi.serveFiles(undefined, UI_OPTIONS));

  return router;
}
