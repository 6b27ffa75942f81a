import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * The headers OWASP's REST Security Cheat Sheet asks of every API response: no framing, no MIME
 * sniffing, HTTPS only, and `Cache-Control: no-store` unless a route says otherwise (tokens and
 * orders must never land in a shared cache). Helmet's remaining headers only mean something for
 * HTML documents, so they are left to `htmlSecurityHeaders` on the pages we serve; that keeps
 * ~600 bytes of irrelevant headers off every JSON response.
 */
export function apiSecurityHeaders(): RequestHandler {
  const headers = headersSetBy(
    helmet({
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      xFrameOptions: { action: 'deny' },
      crossOriginOpenerPolicy: false,
      crossOriginResourcePolicy: false,
      originAgentCluster: false,
      referrerPolicy: false,
      xDnsPrefetchControl: false,
      xDownloadOptions: false,
      xPermittedCrossDomainPolicies: false,
      xXssProtection: false,
    }),
  );
  headers.set('Cache-Control', 'no-store');
  return (_req, res, next) => {
    res.setHeaders(headers);
    next();
  };
}

/**
 * The headers a helmet configuration sets, computed once: with no per-request directives
 * (nonces) they are the same on every response, so there is no need to run helmet's chain of
 * middleware for each one.
 */
function headersSetBy(middleware: ReturnType<typeof helmet>): Map<string, string> {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader: (name: string, value: string) => headers.set(name, value),
    removeHeader: () => undefined,
  };
  middleware({} as never, recorder as never, () => undefined);
  return headers;
}

/**
 * Helmet's full set for the HTML pages (API docs, queue dashboard), with their CSP. Applied after
 * `apiSecurityHeaders`, it replaces the API's values where both set one.
 */
export function htmlSecurityHeaders(csp: Record<string, string[] | null>): RequestHandler {
  return helmet({ contentSecurityPolicy: { useDefaults: true, directives: csp } });
}
