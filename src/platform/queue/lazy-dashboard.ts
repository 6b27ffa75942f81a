import type { Queue } from 'bullmq';
import type { RequestHandler, Router } from 'express';

/**
 * Bull Board for the order queue, loaded on its first request: its modules are ~0.25 s of an API
 * process's start-up (a quarter of it, measured) that most processes never use. A failed load is
 * retried by the next request instead of being remembered.
 */
export function lazyQueueDashboard(queue: Queue, basePath: string): RequestHandler {
  let loading: Promise<Router> | undefined;
  return async (req, res, next) => {
    loading ??= import('./dashboard.js').then(({ queueDashboard }) => queueDashboard(queue, basePath));
    let router: Router;
    try {
      router = await loading;
    } catch (error) {
      loading = undefined;
      throw error;
    }
    router(req, res, next);
  };
}
