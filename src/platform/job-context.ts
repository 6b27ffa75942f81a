import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Per-job facts that every log line of the job carries without threading them through calls:
 * `jobId`. (HTTP requests do not use it, and their `requestId` is logged on the request line
 * only: see middleware/request-context.ts for why.)
 */
export interface JobContext {
  jobId: string;
}

const storage = new AsyncLocalStorage<JobContext>();

export function runWithJobContext<T>(context: JobContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function currentJobContext(): JobContext | undefined {
  return storage.getStore();
}
