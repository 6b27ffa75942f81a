import express, { type Express, type RequestHandler } from 'express';
import type { Config } from './config/index.js';
import { limitPerAddress } from './middleware/address-limit.js';
import { errorHandler, jsonBody, notFound, sendProblem } from './middleware/error-handler.js';
import { requireHost } from './middleware/host-required.js';
import { methodNotAllowed } from './middleware/method-not-allowed.js';
import { metricsAccess } from './middleware/metrics-access.js';
import { refuseCrossSite } from './middleware/same-site.js';
import { requestContext } from './middleware/request-context.js';
import { apiSecurityHeaders, htmlSecurityHeaders } from './middleware/security-headers.js';
import { consoleRoutes } from './console/console.routes.js';
import { docsRoutes } from './docs/docs.routes.js';
import { problemRoutes } from './docs/problems.js';
import { authRoutes, requireAdminForBrowser, type AuthService } from './modules/auth/index.js';
import { catalogRoutes, type CatalogService } from './modules/catalog/index.js';
import { ordersRoutes, type OrdersService } from './modules/orders/index.js';
import { eventsRoutes, type OrderStreams } from './modules/events/index.js';
import { webhooksRoutes, type WebhooksService } from './modules/webhooks/index.js';
import { healthRoutes, type ReadinessCheck } from './modules/health/health.routes.js';
import type { ShutdownState } from './modules/health/shutdown-state.js';
import { notificationsRoutes, type EmailDeliveriesService } from './modules/notifications/index.js';
import { pipelineRoutes, type PipelineService } from './modules/pipeline/index.js';
import type { Logger } from './platform/logger.js';
import type { Metrics } from './platform/metrics.js';
import type { RateLimiter } from './platform/rate-limit.js';

export interface AppDeps {
  config: Pick<Config, 'http' | 'env' | 'metricsToken'>;
  logger: Logger;
  auth: AuthService;
  catalog: CatalogService;
  orders: OrdersService;
  emails: EmailDeliveriesService;
  pipeline: PipelineService;
  /** Where the built console lives (default: dist/public/console). */
  consoleAssetsDir?: string;
  orderStreams: OrderStreams;
  webhooks: WebhooksService;
  readiness: readonly ReadinessCheck[];
  /** Set by the API entry on SIGTERM: the health endpoints then answer 503. */
  shutdown?: ShutdownState;
  metrics: Metrics;
  /** Set only when RATE_LIMIT_PER_ADDRESS_PER_MINUTE is configured. */
  addressLimit?: RateLimiter;
  /** Bull Board, in server mode only (the embedded queue has nothing to show). */
  queueDashboard?: RequestHandler;
}

/** The whole HTTP API without `listen()`, so tests drive the real stack in-process. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (deps.config.http.trustProxy !== undefined) app.set('trust proxy', deps.config.http.trustProxy);

  app.use(requestContext(deps.logger, deps.metrics));
  app.use(requireHost);
  app.use(apiSecurityHeaders());
  if (deps.addressLimit) app.use(limitPerAddress(deps.addressLimit));
  app.use(jsonBody());

  // The API's routes sit on the app's own router, busiest first, rather than on mounted
  // sub-routers: a mount costs every request a prefix trim and a second dispatch (~4 % of a
  // cached read in `npm run bench`).
  // Before the orders routes: `/api/orders/events` is not an order id.
  eventsRoutes(app, deps.orderStreams, deps.orders, deps.auth);
  ordersRoutes(app, deps.orders, deps.auth);
  catalogRoutes(app, deps.catalog, deps.auth);
  authRoutes(app, deps.auth);
  notificationsRoutes(app, deps.emails, deps.auth);
  pipelineRoutes(app, deps.pipeline, deps.auth);
  webhooksRoutes(app, deps.webhooks, deps.auth);
  app.use('/health', healthRoutes(deps.readiness, deps.shutdown));
  const mayScrape = metricsAccess({ token: deps.config.metricsToken, production: deps.config.env === 'production' });
  app.get('/metrics', async (req, res) => {
    const decision = mayScrape(req.get('authorization'));
    if (decision === 'hidden') {
      sendProblem(res, { status: 404, code: 'NOT_FOUND', detail: `No route for ${req.method} ${req.path}` });
      return;
    }
    if (decision === 'unauthorized') {
      res.setHeader('WWW-Authenticate', req.get('authorization') ? 'Bearer error="invalid_token"' : 'Bearer');
      sendProblem(res, { status: 401, code: 'UNAUTHENTICATED', detail: 'Send Authorization: Bearer <METRICS_TOKEN>' });
      return;
    }
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.use(docsRoutes());
  app.use(consoleRoutes(deps.consoleAssetsDir));
  app.use(problemRoutes());
  if (!deps.queueDashboard) {
    // The in-process queue has no dashboard; say so instead of a bare 404.
    app.use('/admin/queues', (_req, res) => {
      sendProblem(res, {
        status: 404,
        code: 'NOT_FOUND',
        detail: 'The queue dashboard runs only with Redis (set REDIS_URL); in the embedded default orders are processed in-process and there is no queue to show',
      });
    });
  }
  if (deps.queueDashboard) {
    // Bull Board's page runs inline scripts; everything else keeps the strict policy.
    const dashboardPolicy = htmlSecurityHeaders({ 'script-src': ["'self'", "'unsafe-inline'"], 'img-src': ["'self'", 'data:'], 'upgrade-insecure-requests': null });
    app.use('/admin/queues', refuseCrossSite, requireAdminForBrowser(deps.auth), dashboardPolicy, deps.queueDashboard);
  }

  app.use(methodNotAllowed(app));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
