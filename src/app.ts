import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Config } from './config/index.js';
import { errorHandler, notFound, requireJsonBody } from './middleware/error-handler.js';
import { accessLog, requestContext } from './middleware/request-context.js';
import { authRoutes, type AuthService } from './modules/auth/index.js';
import { healthRoutes, type ReadinessCheck } from './modules/health/health.routes.js';
import type { Logger } from './platform/logger.js';

export interface AppDeps {
  config: Pick<Config, 'http'>;
  logger: Logger;
  auth: AuthService;
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

  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
