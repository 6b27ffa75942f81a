import type { IRouter } from 'express';
import { parseOrThrow } from '../../middleware/validate.js';
import { authenticate, requireRole, type Authenticator } from '../auth/index.js';
import { pipelineQuery } from './pipeline.schemas.js';
import type { PipelineService } from './pipeline.service.js';

/** `GET /api/admin/pipeline`: throughput, backlog, lag and failed jobs for operators (the console's pipeline page). */
export function pipelineRoutes(router: IRouter, pipeline: PipelineService, auth: Authenticator): void {
  router.get('/api/admin/pipeline', authenticate(auth), requireRole('admin'), async (req, res) => {
    res.json(await pipeline.snapshot(parseOrThrow(pipelineQuery, req.query, 'query')));
  });
}
