import { Router } from 'express';
import { sendProblem } from '../../middleware/error-handler.js';

/** A configured dependency the API needs in order to serve traffic. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

const CHECK_TIMEOUT_MS = 1500;

function withTimeout(check: ReadinessCheck): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS);
    check.check().then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

export function healthRoutes(checks: readonly ReadinessCheck[]): Router {
  const router = Router();

  router.get('/live', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/ready', async (_req, res) => {
    const results = await Promise.all(
      checks.map(async (check) => ({ name: check.name, ok: await withTimeout(check).then(() => true, () => false) })),
    );
    const failing = results.filter((result) => !result.ok).map((result) => result.name);
    const checksBody = Object.fromEntries(results.map((result) => [result.name, result.ok ? 'ok' : 'unavailable']));
    if (failing.length === 0) {
      res.json({ status: 'ok', checks: checksBody });
      return;
    }
    res.setHeader('Retry-After', '5');
    sendProblem(res, {
      status: 503,
      code: 'NOT_READY',
      detail: `Not ready: ${failing.join(', ')} unavailable`,
      errors: failing.map((name) => ({ dependency: name, message: 'did not answer' })),
    });
  });

  return router;
}
