import type { Principal } from '../shared/principal.js';

declare global {
  namespace Express {
    interface Request {
      requestId: string;
      /** `process.hrtime.bigint()` when the request reached the app. */
      receivedAt: bigint;
      /** Set by `authenticate`: who is calling. */
      auth?: Principal;
    }
  }
}
