import type { RequestHandler } from 'express';
import { sendProblem } from './error-handler.js';

/**
 * HTTP/1.1 requires `Host` (RFC 9112 §3.2). Node would answer its absence with a bare 400 before
 * any middleware runs, so the server turns that check off (see http-server.ts) and this answers
 * it in the API's shape, with a request id.
 */
export const requireHost: RequestHandler = (req, res, next) => {
  if (req.headers.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) {
    res.setHeader('Connection', 'close');
    sendProblem(res, { status: 400, code: 'BAD_REQUEST', detail: 'The request has no Host header' });
    return;
  }
  next();
};
