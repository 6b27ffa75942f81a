import type { Principal } from '../shared/principal.js';

declare global {
  namespace Express {
    interface Request {
      requestId: string;
      /** Set by `authenticate`: who is calling. */
      auth?: Principal;
    }
  }
}
