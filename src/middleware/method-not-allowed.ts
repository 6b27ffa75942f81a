import type { Express, RequestHandler } from 'express';
import { sendProblem } from './error-handler.js';

/** The parts of Express's router (the `router` package) read here. */
interface Layer {
  /** The matched part of the path (a mount's prefix), or false. */
  match(path: string): false | { path: string };
  route?: { _methods(): string[] };
  handle: { stack?: Layer[] };
}

/** Methods the routes under `stack` serve for `path`, descending into mounted routers. */
function methodsFor(stack: readonly Layer[], path: string, found: Set<string>): void {
  for (const layer of stack) {
    const matched = layer.match(path);
    if (!matched) continue;
    if (layer.route) {
      for (const method of layer.route._methods()) found.add(method);
    } else if (layer.handle.stack) {
      methodsFor(layer.handle.stack, path.slice(matched.path.length) || '/', found);
    }
  }
}

/**
 * Runs after every route: a path some route serves, asked with another method, answers 405
 * with `Allow` (RFC 9110 §15.5.6) instead of 404; an unknown path falls through to 404.
 */
export function methodNotAllowed(app: Express): RequestHandler {
  return (req, res, next) => {
    const stack = (app as unknown as { router: { stack: Layer[] } }).router.stack;
    const allowed = new Set<string>();
    methodsFor(stack, req.path, allowed);
    if (allowed.size === 0 || allowed.has(req.method)) {
      next();
      return;
    }
    const allow = [...allowed].sort().join(', ');
    res.setHeader('Allow', allow);
    sendProblem(res, { status: 405, code: 'METHOD_NOT_ALLOWED', detail: `${req.method} is not served at ${req.path}; use ${allow}` });
  };
}
