import { Router, type RequestHandler } from 'express';
import { sendProblem } from '../../middleware/error-handler.js';
import { checkReadiness, notReadyProblem, type ReadinessCheck } from './readiness.js';
import type { ShutdownState } from './shutdown-state.js';

export type { ReadinessCheck } from './readiness.js';

export function healthRoutes(checks: readonly ReadinessCheck[], shutdown?: ShutdownState): Router {
  const router = Router();

  // Both probes fail once shutdown began: whichever one a balancer checks takes the instance out.
  // A step of each route, not a router-wide middleware, so the 503 is logged and measured under
  // the probe's route (at debug, as probes are), not as an unmatched request at info.
  const unlessShuttingDown: RequestHandler = (_req, res, next) => {
    if (!shutdown?.begun) return next();
    sendProblem(res, { status: 503, code: 'SHUTTING_DOWN', detail: 'This instance is shutting down; send requests to another one' });
  };

  router.get('/live', unlessShuttingDown, (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/ready', unlessShuttingDown, async (_req, res) => {
    const readiness = await checkReadiness(checks);
    if (readiness.ok) {
      res.json({ status: 'ok', checks: readiness.checks });
      return;
    }
    res.setHeader('Retry-After', '5');
    sendProblem(res, notReadyProblem(readiness.failing));
  });

  return router;
}
