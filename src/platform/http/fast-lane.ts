import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** What Express's router calls for a matched route: req.route set, its handlers for the method run in turn. */
export interface DispatchableRoute {
  dispatch(req: Request, res: Response, done: NextFunction): void;
}

interface Lane {
  before: RequestHandler[];
  route: DispatchableRoute;
}

/**
 * The hottest routes, run by a chain composed once instead of by the router's walk of its stack.
 *
 * Why: under `npm run bench` Express's router was the largest single cost of a charge. On its way to
 * POST /v1/usage/reconcile it tests ~20 layers against the path (regular expressions, prefix
 * rewrites of req.url and req.baseUrl for mounted middleware, a closure per step); GET /healthz,
 * which does no I/O at all, cost 0.43 ms of CPU per request against 0.08 ms for bare node:http.
 *
 * A lane runs the very same middleware instances the router would reach for that method and exact
 * path, in the same order (app.ts builds both from one list), then the route's own handlers through
 * Express's Route.dispatch, so req.route is what the request logger labels by. Anything else (another
 * method, a query string, a trailing slash, other letter case) goes through the router as before.
 * An error leaves the lane to the router, whose error middleware (the auth-failure limiter, then the
 * problem responder) handles it as for any route.
 */
export class FastLane {
  private readonly lanes = new Map<string, Lane>();

  add(method: string, path: string, before: RequestHandler[], route: DispatchableRoute): void {
    this.lanes.set(`${method} ${path}`, { before, route });
  }

  readonly handler: RequestHandler = (req, res, next) => {
    const lane = this.lanes.size > 0 ? this.lanes.get(`${req.method} ${req.url}`) : undefined;
    if (!lane) return next();
    let i = 0;
    // Each step called as the router calls a layer: a throw or a rejected promise becomes next(error).
    const step = (error?: unknown) => {
      if (error) return next(error);
      if (i === lane.before.length) return lane.route.dispatch(req, res, next);
      const handle = lane.before[i++];
      try {
        const returned: unknown = handle(req, res, step);
        if (returned instanceof Promise) returned.then(undefined, (e: unknown) => step(e ?? new Error('Rejected promise')));
      } catch (e) {
        step(e);
      }
    };
    step();
  };
}
