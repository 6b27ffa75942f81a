import type { Database } from '../../platform/db/index.js';
import type { JobQueue } from '../../platform/queue/index.js';
import { readEmailBacklog } from '../notifications/index.js';
import { countByBucket, readBacklog, readLatency, type BucketCount } from './pipeline.repository.js';
import { BUCKET_SECONDS, type PipelineQuery, type PipelineSnapshot, type ThroughputBucket } from './pipeline.schemas.js';

export interface PipelineService {
  snapshot(query: PipelineQuery): Promise<PipelineSnapshot>;
}

/** Every bucket of the window, oldest first, with zeros where nothing happened (a chart needs the gaps). */
export function fillBuckets(counts: readonly BucketCount[], firstBucket: number, bucketCount: number, bucketSeconds: number): ThroughputBucket[] {
  const buckets = Array.from({ length: bucketCount }, (_, index) => ({
    at: new Date((firstBucket + index * bucketSeconds) * 1000).toISOString(),
    placed: 0,
    completed: 0,
    failed: 0,
  }));
  for (const { bucket, kind, count } of counts) {
    const slot = buckets[Math.round((bucket - firstBucket) / bucketSeconds)];
    if (slot) slot[kind] += count;
  }
  return buckets;
}

export function createPipelineService(deps: {
  db: Database;
  queue: Pick<JobQueue, 'kind' | 'counts' | 'workers'>;
  dashboardPath: string | undefined;
  now?: () => number;
}): PipelineService {
  const now = deps.now ?? Date.now;
  return {
    async snapshot({ minutes }) {
      const nowSeconds = now() / 1000;
      const bucketCount = (minutes * 60) / BUCKET_SECONDS;
      const lastBucket = Math.floor(nowSeconds / BUCKET_SECONDS) * BUCKET_SECONDS;
      const firstBucket = lastBucket - (bucketCount - 1) * BUCKET_SECONDS;
      const [counts, backlog, emails, latency, queue, workers] = await Promise.all([
        countByBucket(deps.db, firstBucket, BUCKET_SECONDS),
        readBacklog(deps.db),
        readEmailBacklog(deps.db),
        readLatency(deps.db, firstBucket),
        // The snapshot is most useful exactly when the queue is down: report that, not a 503.
        deps.queue.counts().then(
          (counts) => ({ ...counts, reachable: true }),
          () => ({ waiting: 0, active: 0, delayed: 0, failed: 0, reachable: false }),
        ),
        deps.queue.workers().catch(() => null),
      ]);
      const throughput = fillBuckets(counts, firstBucket, bucketCount, BUCKET_SECONDS);
      const sum = (kind: 'placed' | 'completed' | 'failed') => throughput.reduce((total, bucket) => total + bucket[kind], 0);
      return {
        generatedAt: new Date(nowSeconds * 1000).toISOString(),
        windowMinutes: minutes,
        bucketSeconds: BUCKET_SECONDS,
        throughput,
        totals: { placed: sum('placed'), completed: sum('completed'), failed: sum('failed') },
        backlog: { pending: backlog.pending, processing: backlog.processing },
        emails,
        lag: { oldestPendingSeconds: backlog.oldestPendingSeconds, p50Seconds: latency.p50, p95Seconds: latency.p95 },
        queue: { kind: deps.queue.kind, ...queue, workers },
        dashboardPath: deps.dashboardPath ?? null,
      };
    },
  };
}
