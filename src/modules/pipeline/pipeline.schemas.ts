import { z } from 'zod';
import { queryInteger } from '../../shared/query.js';

export const MAX_WINDOW_MINUTES = 60;
/** The chart's resolution: fine enough to see a burst, coarse enough to stay under 400 points an hour. */
export const BUCKET_SECONDS = 10;

export const pipelineQuery = z.object({
  minutes: queryInteger(
    z.coerce
      .number('must be a whole number')
      .int('must be a whole number')
      .min(1, `must be between 1 and ${MAX_WINDOW_MINUTES}`)
      .max(MAX_WINDOW_MINUTES, `must be between 1 and ${MAX_WINDOW_MINUTES}`),
  ).default(10),
});

export const throughputBucket = z.object({
  at: z.iso.datetime().meta({ description: 'Start of the bucket (UTC).' }),
  placed: z.number().int().min(0),
  completed: z.number().int().min(0),
  failed: z.number().int().min(0),
});

const seconds = z.number().min(0).nullable();

/** What `GET /api/admin/pipeline` answers: one snapshot of the order pipeline, read from the database and the queue. */
export const pipelineSnapshot = z
  .object({
    generatedAt: z.iso.datetime(),
    windowMinutes: z.number().int(),
    bucketSeconds: z.number().int().meta({ description: 'Width of each `throughput` bucket; divide a count by it for orders/s.' }),
    throughput: z.array(throughputBucket).meta({ description: 'Oldest first, one bucket per `bucketSeconds` over the window, empty buckets included.' }),
    totals: z.object({
      placed: z.number().int().min(0),
      completed: z.number().int().min(0),
      failed: z.number().int().min(0),
    }).meta({ description: 'Orders placed, completed and failed within the window.' }),
    backlog: z.object({
      pending: z.number().int().min(0),
      processing: z.number().int().min(0),
    }).meta({ description: 'Orders not finished yet, right now.' }),
    emails: z.object({
      pending: z.number().int().min(0).meta({ description: 'Emails owed (the order completed or failed) and not sent yet.' }),
      oldestPendingSeconds: seconds.meta({ description: 'How long the oldest of them has been owed; null when none is.' }),
      undeliverable: z
        .number()
        .int()
        .min(0)
        .meta({ description: 'Emails that became `undeliverable`, all time: refused by the mail server for good (a 5xx to the recipient or content), or still failing ' +
          '`EMAIL_MAX_RETRY_HOURS` after their first failure; they are not retried.' }),
    }).meta({ description: 'Order emails not sent, right now.' }),
    lag: z.object({
      oldestPendingSeconds: seconds.meta({ description: 'Age of the oldest order still pending; null when none is.' }),
      p50Seconds: seconds.meta({ description: 'Median time from placement to completed/failed over the window; null with no finished order.' }),
      p95Seconds: seconds,
    }),
    queue: z.object({
      kind: z.enum(['bullmq', 'in-process']),
      waiting: z.number().int().min(0),
      active: z.number().int().min(0),
      delayed: z.number().int().min(0),
      failed: z.number().int().min(0).meta({ description: 'Jobs that used up their retries (the reconciler re-runs the ones whose work is unfinished).' }),
      reachable: z.boolean().meta({ description: 'False when the queue did not answer; the counts are then 0.' }),
      workers: z
        .object({
          connected: z.number().int().min(0).meta({ description: 'Worker processes connected to the queue.' }),
          fetching: z
            .number()
            .int()
            .min(0)
            .meta({ description: 'Of them, those fetching jobs as pool members (leader and helpers); the others wait on standby (`WORKER_STANDBY`).' }),
        })
        .nullable()
        .meta({ description: 'Null for the in-process queue (embedded mode), or when Redis did not answer.' }),
    }),
    dashboardPath: z.string().nullable().meta({ description: 'The queue dashboard (`/admin/queues`) when Redis is used; null otherwise.' }),
  })
  .meta({ id: 'PipelineSnapshot' });

export type PipelineQuery = z.infer<typeof pipelineQuery>;
export type PipelineSnapshot = z.infer<typeof pipelineSnapshot>;
export type ThroughputBucket = z.infer<typeof throughputBucket>;
