import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import request from 'supertest';
import { FastLane, type DispatchableRoute } from '../../src/platform/http/fast-lane';

// The lane must run its handlers as the router runs layers. Every case builds the same app twice,
// once with the lane and once without, and expects the same answer, the same middleware trail and the
// route run as often, so the lane's rules are checked against the router's rather than restated.

type Trail = { trail: string[]; routeRuns: number };

function appWith(before: RequestHandler[], routeHandler: RequestHandler, withLane: boolean) {
  const app = express();
  const counts: Trail = { trail: [], routeRuns: 0 };
  const unserved: RequestHandler = (req, res) => res.status(404).json({ unserved: true });
  const lane = new FastLane(unserved);
  app.use(lane.handler);
  app.use((req, _res, next) => (counts.trail.push('router'), next()));
  app.use(before);
  const route = app.route('/hot');
  route.post((req, res, next) => {
    counts.routeRuns++;
    return routeHandler(req, res, next);
  });
  app.use(unserved);
  if (withLane) lane.add('POST', '/hot', before, route as unknown as DispatchableRoute);
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    if (!res.headersSent) res.status(500).json({ error: error instanceof Error ? error.message : String(error) });
  };
  app.use(onError);
  return { app, counts };
}

const mark = (trail: () => string[], name: string): RequestHandler => (_req, _res, next) => (trail().push(name), next());
const ok: RequestHandler = (req, res) => res.json({ route: req.route.path });

/** The same request through the lane and through the router: answer and route runs, minus the router's own marker. */
async function both(makeBefore: (trail: () => string[]) => RequestHandler[], routeHandler: RequestHandler = ok, path = '/hot') {
  const run = async (withLane: boolean) => {
    let counts: Trail | undefined;
    const built = appWith(makeBefore(() => counts!.trail), routeHandler, withLane);
    counts = built.counts;
    const res = await request(built.app).post(path);
    await new Promise((r) => setTimeout(r, 20)); // a second run of the route would land here
    return { status: res.status, body: res.body, routeRuns: counts.routeRuns, trail: counts.trail.filter((t) => t !== 'router'), viaRouter: counts.trail.includes('router') };
  };
  return { lane: await run(true), router: await run(false) };
}

const sameBut = (r: Awaited<ReturnType<typeof both>>) => {
  const { viaRouter: laneViaRouter, ...lane } = r.lane;
  const { viaRouter: _r, ...router } = r.router;
  expect(lane).toEqual(router);
  return { lane, laneViaRouter };
};

describe('FastLane', () => {
  it('runs its handlers in order, then the route with req.route set, without the router', async () => {
    const r = await both((t) => [mark(t, 'a'), mark(t, 'b')]);
    const { lane, laneViaRouter } = sameBut(r);
    expect(lane).toMatchObject({ status: 200, body: { route: '/hot' }, trail: ['a', 'b'], routeRuns: 1 });
    expect(laneViaRouter).toBe(false);
  });

  it('leaves a path with a query string to the router', async () => {
    const r = await both((t) => [mark(t, 'a')], ok, '/hot?x=1');
    expect(sameBut(r).laneViaRouter).toBe(true);
  });

  it.each([
    ['a throw', (() => { throw new Error('thrown'); }) as RequestHandler],
    ['a rejected promise', (async () => { throw new Error('rejected'); }) as RequestHandler],
    ['a promise rejected with a falsy value', (() => Promise.reject(0)) as RequestHandler],
    ['next(error)', ((_req, _res, next) => next(new Error('passed'))) as RequestHandler],
  ])('when a handler fails with %s, the rest is skipped and the error middleware answers', async (_name, failing) => {
    const { lane } = sameBut(await both((t) => [mark(t, 'a'), failing, mark(t, 'never')]));
    expect(lane).toMatchObject({ status: 500, trail: ['a'], routeRuns: 0 });
  });

  it("treats next('route') from a middleware as next()", async () => {
    const { lane } = sameBut(await both((t) => [(_req, _res, next) => next('route'), mark(t, 'b')]));
    expect(lane).toMatchObject({ status: 200, trail: ['b'], routeRuns: 1 });
  });

  it('when the last middleware calls next() twice, the route still runs once', async () => {
    const twice: RequestHandler = (_req, _res, next) => {
      next();
      next();
    };
    const { lane } = await both(() => [twice]);
    expect(lane).toMatchObject({ status: 200, routeRuns: 1 });
  });

  it('when the route falls through, the request is answered as unserved, not routed again from the top', async () => {
    const { lane } = sameBut(await both((t) => [mark(t, 'a')], (_req, _res, next) => next()));
    expect(lane).toMatchObject({ status: 404, body: { unserved: true }, trail: ['a'], routeRuns: 1 });
  });

  it('skips error middleware on the way of a request without error, as the router does', async () => {
    const errorOnly: ErrorRequestHandler = (_e, _req, res, _next) => res.status(418).end(); // four parameters: error middleware
    const { lane } = sameBut(await both((t) => [mark(t, 'a'), errorOnly as unknown as RequestHandler, mark(t, 'b')]));
    expect(lane).toMatchObject({ status: 200, trail: ['a', 'b'], routeRuns: 1 });
  });
});
