import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Config } from './config/index.js';
import { errorHandler, notFound, requireJsonBody } from './middleware/error-handler.js';
import { accessLog, requestContext } from './middleware/request-context.js';
import { authRoutes, type AuthService } from './modules/auth/index.js';
import { catalogRoutes, type CatalogService } from './modules/catalog/index.js';
import { ordersRoutes, type OrdersService } from './modules/orders/index.js';
import { healthRoutes, type ReadinessCheck } from './modules/health/health.routes.js';
import type { Logger } from './platform/logger.js';

export interface AppDeps {
  config: Pick<Config, 'http'>;
  logger: Logger;
  auth: AuthService;
  catalog: CatalogService;
  orders: OrdersService;
  readiness: readonly ReadinessCheck[];
}

/** The whole HTTP API without `listen()`, so tests drive the real stack in-process. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (deps.config.http.trustProxy) app.set('trust proxy', deps.config.http.trustProxy);

  app.use(requestContext());
  app.use(accessLog(deps.logger));
  app.use(helmet());
  app.use(requireJsonBody);
  app.use(express.json({ limit: '100kb', type: ['application/json', 'application/*+json'] }));

  app.use('/health', healthRoutes(deps.readiness));
  app.use('/api/auth', authRoutes(deps.auth));
  app.use('/api/products', catalogRoutes(deps.catalog, deps.auth));
  app.use('/api/orders', ordersRoutes(deps.orders, deps.auth));

  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
