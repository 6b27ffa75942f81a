export * from './queue.js';
export { createInProcessQueue } from './in-process-queue.js';
export { createBullMqQueue, startBullMqWorker, QUEUE_NAME } from './bullmq-queue.js';
export type { PoolLimits, PoolRole } from './worker-pool-rules.js';
