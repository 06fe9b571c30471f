import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import request from 'supertest';
import { FastLane, type DispatchableRoute } from '../../src/platform/http/fast-lane';

// The lane runs its handlers as the router runs layers: in order, and a throw, a rejected promise or
// next(error) skips the rest and reaches the app's error middleware.

function appWith(before: RequestHandler[]) {
  const app = express();
  const lane = new FastLane();
  const seen: string[] = [];
  app.use(lane.handler);
  app.use((req, _res, next) => (seen.push('router'), next()));
  const route = app.route('/hot');
  route.post((req, res) => res.json({ route: req.route.path, trail: (req as unknown as { trail: string[] }).trail }));
  lane.add('POST', '/hot', before, route as unknown as DispatchableRoute);
  const onError: ErrorRequestHandler = (error, _req, res, _next) => res.status(500).json({ error: (error as Error).message });
  app.use(onError);
  return { app, seen };
}

const mark = (name: string): RequestHandler => (req, _res, next) => {
  const r = req as unknown as { trail?: string[] };
  (r.trail ??= []).push(name);
  next();
};

describe('FastLane', () => {
  it('runs its handlers in order, then the route with req.route set, without the router', async () => {
    const { app, seen } = appWith([mark('a'), mark('b')]);
    const res = await request(app).post('/hot');
    expect(res.body).toEqual({ route: '/hot', trail: ['a', 'b'] });
    expect(seen).toEqual([]);
  });

  it('leaves any other method or path to the router', async () => {
    const { app, seen } = appWith([mark('a')]);
    expect((await request(app).post('/hot?x=1')).body).toEqual({ route: '/hot' });
    expect(seen).toEqual(['router']);
  });

  it.each([
    ['a throw', (() => { throw new Error('thrown'); }) as RequestHandler, 'thrown'],
    ['a rejected promise', (async () => { throw new Error('rejected'); }) as RequestHandler, 'rejected'],
    ['next(error)', ((_req, _res, next) => next(new Error('passed'))) as RequestHandler, 'passed'],
  ])('when a handler fails with %s, the rest is skipped and the error middleware answers', async (_name, failing, message) => {
    const { app } = appWith([mark('a'), failing, mark('never')]);
    const res = await request(app).post('/hot');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: message });
  });
});
