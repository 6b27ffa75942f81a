/**
 * Baseline for the cached `GET /api/orders/:id`: a bare Express route doing one Redis GET of
 * the same order JSON and returning it. No auth, no validation, no logging, no metrics.
 */
import express from 'express';
import { Redis } from 'ioredis';

const port = Number(process.env.PORT ?? 0);
const prefix = process.env.BASELINE_KEY_PREFIX ?? 'bench:baseline:order:';
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');

const app = express();
app.get('/health', (_req, res) => void res.json({ status: 'ok' }));
app.get('/orders/:id', async (req, res) => {
  const json = await redis.get(`${prefix}${req.params.id}`);
  if (json === null) {
    res.status(404).end();
    return;
  }
  res.type('application/json').send(json);
});

const server = app.listen(port, '127.0.0.1', () => process.stdout.write(`baseline get-order listening on ${port}\n`));
process.on('SIGTERM', () => {
  server.close();
  redis.disconnect();
});
