import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** What Express's router calls for a matched route: req.route set, its handlers for the method run in turn. */
export interface DispatchableRoute {
  dispatch(req: Request, res: Response, done: NextFunction): void;
}

interface Lane {
  before: RequestHandler[];
  route: DispatchableRoute;
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';

/**
 * The hottest routes, run by a chain composed once instead of by the router's walk of its stack.
 *
 * Why: on its way to POST /v1/usage/reconcile the router tests ~20 layers against the path (regular
 * expressions, req.url and req.baseUrl rewritten around each mounted middleware, a closure per step).
 * Skipping that walk saved ~8 % of the server's CPU per charge (README, "Fifth session").
 *
 * A lane runs the very middleware instances the router would reach for that method and exact path, in
 * the same order (app.ts builds both from the same lists; test/edge/fast-lane-equivalence.test.ts
 * checks the list against the router's stack), then the route's own handlers through Express's
 * Route.dispatch, so req.route is what the request logger labels by. Anything else (another method, a
 * query string, a trailing slash, other letter case) goes through the router.
 *
 * Each step behaves as a router layer does: a throw, a rejected promise or next(error) skips to the
 * router's error middleware; next('route') is next(); next('router') leaves the app. (One difference:
 * an error from the route also meets the auth-failure limiter, registered before the route; it acts on
 * a 401 only, which the route cannot raise once authentication has passed.) The route runs at
 * most once, and a route that falls through (next() with no error) is answered as the router would
 * answer a path nothing else serves: by `unserved` (app.ts passes its 404 handler), never by walking
 * the stack again from the top, which would run the route a second time.
 */
export class FastLane {
  private readonly lanes = new Map<string, Lane>();

  constructor(private readonly unserved: RequestHandler) {}

  add(method: string, path: string, before: RequestHandler[], route: DispatchableRoute): void {
    this.lanes.set(`${method} ${path}`, { before, route });
  }

  /** A lane's middleware and route, for the test that compares them with the router's stack. */
  laneOf(method: string, path: string): Readonly<Lane> | undefined {
    return this.lanes.get(`${method} ${path}`);
  }

  readonly handler: RequestHandler = (req, res, next) => {
    const lane = this.lanes.size > 0 ? this.lanes.get(`${req.method} ${req.url}`) : undefined;
    if (!lane) return next();
    let i = 0;
    let dispatched = false;
    const afterRoute = (error?: unknown) => {
      if (error && error !== 'route') return next(error);
      this.unserved(req, res, next);
    };
    const step = (error?: unknown) => {
      if (error === 'router') return next('router');
      if (error && error !== 'route') return next(error);
      if (i === lane.before.length) {
        if (dispatched) return; // a second next() from the last middleware: the route has run
        dispatched = true;
        return lane.route.dispatch(req, res, afterRoute);
      }
      const handle = lane.before[i++];
      if (handle.length > 3) return step(); // error middleware: not on the way of a request without error
      try {
        const returned: unknown = handle(req, res, step);
        if (isThenable(returned)) returned.then(undefined, (e: unknown) => step(e || new Error('Rejected promise')));
      } catch (e) {
        step(e);
      }
    };
    step();
  };
}
