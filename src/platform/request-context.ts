import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Per-job facts that every log line of the job carries without threading them through calls.
 * (HTTP requests do not use it: see middleware/request-context.ts for why.)
 */
export interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}
