import { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import { htmlSecurityHeaders } from '../middleware/security-headers.js';
import { openApiDocument } from './openapi.js';

const SPEC_PATH = '/openapi.json';

/** Swagger UI loads the document from our own origin; nothing is fetched from anywhere else. */
const UI_OPTIONS = {
  customSiteTitle: 'Order Processing Service — API docs',
  customCss: '',
  swaggerUrl: SPEC_PATH,
  swaggerOptions: { validatorUrl: null, deepLinking: true, persistAuthorization: false },
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
