import { Router } from 'express';
import { sendProblem } from '../../middleware/error-handler.js';
import { checkReadiness, notReadyProblem, type ReadinessCheck } from './readiness.js';

export type { ReadinessCheck } from './readiness.js';

export function healthRoutes(checks: readonly ReadinessCheck[]): Router {
  const router = Router();

  router.get('/live', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/ready', async (_req, res) => {
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
