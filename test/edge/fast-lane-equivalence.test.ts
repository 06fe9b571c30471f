import type { Express, RequestHandler } from 'express';
import request from 'supertest';
import type { FastLane } from '../../src/platform/http/fast-lane';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { balanceOf, grant } from '../helpers/wallets';

// Express's router layer (router 2.x): what the router walks, and what it calls for each layer.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Layer = require('router/lib/layer') as { prototype: { handleRequest: (...args: unknown[]) => void } };
interface RouterLayer {
  handle: RequestHandler;
  route?: { methods: Record<string, boolean> };
  match(path: string): unknown;
}

// POST /v1/usage/reconcile is served by a fast lane in front of the router (fast-lane.ts). The lane
// must be invisible: the same request gets the same answer (status, headers, body) and the same
// metrics as through the router. Each case runs once against an app with the lane and once against
// one without, on one database, with user and request ids that differ only in a one-letter tag.

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const VOLATILE_HEADERS = new Set(['date', 'x-correlation-id', 'ratelimit']);

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What a client can see, with the tag, generated ids and clock readings taken out. */
function seen(res: request.Response, tag: string): Answer {
  const headers: Record<string, string> = {};
  // The policy's partition key is a hash of the caller, whose id carries the tag.
  for (const [k, v] of Object.entries(res.headers)) if (!VOLATILE_HEADERS.has(k)) headers[k] = String(v).replace(/pk=:[^:]*:/, 'pk=:caller:');
  return { status: res.status, headers, body: res.text.replaceAll(`-${tag}`, '-T').replace(UUID, '<uuid>') };
}

type Case = (t: TestApp, tag: string) => request.Test;
const charge = (t: TestApp, tag: string, body: Record<string, unknown>, token = t.gateway) =>
  request(t.app).post('/v1/usage/reconcile').set('Authorization', `Bearer ${token}`).send({ model: 'gpt-4o', inputTokens: 1000, outputTokens: 500, ...body });

const cases: Record<string, Case> = {
  'a first charge (201)': (t, tag) => charge(t, tag, { userId: `rich-${tag}`, requestId: `first-${tag}` }).set('X-Correlation-Id', `corr-${tag}`),
  'a replay (200, Idempotent-Replayed)': (t, tag) => charge(t, tag, { userId: `rich-${tag}`, requestId: `first-${tag}` }),
  'the same requestId with another payload (422)': (t, tag) => charge(t, tag, { userId: `rich-${tag}`, requestId: `first-${tag}`, outputTokens: 1 }),
  'a charge over the balance (402)': (t, tag) => charge(t, tag, { userId: `poor-${tag}`, requestId: `big-${tag}`, inputTokens: 10_000_000 }),
  'an unknown model (422)': (t, tag) => charge(t, tag, { userId: `rich-${tag}`, requestId: `unknown-${tag}`, model: 'gpt-0' }),
  'a missing field (400 naming it)': (t, tag) => charge(t, tag, { userId: `rich-${tag}`, model: undefined }),
  'broken JSON (400)': (t) => request(t.app).post('/v1/usage/reconcile').set('Authorization', `Bearer ${t.gateway}`).set('Content-Type', 'application/json').send('{"userId":'),
  'a body that is not JSON (415)': (t) => request(t.app).post('/v1/usage/reconcile').set('Authorization', `Bearer ${t.gateway}`).set('Content-Type', 'text/plain').send('hello'),
  'no token (401)': (t, tag) => request(t.app).post('/v1/usage/reconcile').send({ userId: `rich-${tag}` }),
  'a forged token (401)': (t, tag) => charge(t, tag, { userId: `rich-${tag}`, requestId: `forged-${tag}` }, `${t.gateway.slice(0, -4)}AAAA`),
  'a user token without usage:write (403)': (t, tag) => charge(t, tag, { userId: `rich-${tag}`, requestId: `scope-${tag}` }, t.token(`rich-${tag}`)),
  'an Idempotency-Key, first use': (t, tag) => charge(t, tag, { userId: `rich-${tag}`, requestId: `keyed-${tag}` }).set('Idempotency-Key', `key-${tag}`),
  'an Idempotency-Key, second use': (t, tag) => charge(t, tag, { userId: `rich-${tag}`, requestId: `keyed-${tag}` }).set('Idempotency-Key', `key-${tag}`),
  'a CORS request from an allowed origin': (t, tag) => charge(t, tag, { userId: `rich-${tag}`, requestId: `cors-${tag}` }).set('Origin', 'https://app.scholarlink.test'),
  'a query string (router, not the lane)': (t, tag) =>
    request(t.app).post('/v1/usage/reconcile?x=1').set('Authorization', `Bearer ${t.gateway}`).send({ userId: `rich-${tag}`, requestId: `query-${tag}`, model: 'gpt-4o', inputTokens: 1, outputTokens: 1 }),
};

async function pair(env: Record<string, string> = {}) {
  const app = (fastLane: boolean) => createTestApp({ database, env: { CORS_ORIGINS: 'https://app.scholarlink.test', ...env }, deps: { fastLane } });
  return { lane: await app(true), router: await app(false) };
}

/** The request counter's samples for the route, and the charge outcomes, e.g. {"POST 201": 1, "charged": 2}. */
async function routeSamples(t: TestApp): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const { labels, value } of (await t.metrics.httpRequests.get()).values) {
    if (labels.route === '/v1/usage/reconcile') out[`${labels.method} ${labels.status}`] = value;
  }
  for (const { labels, value } of (await t.metrics.usageReconciliations.get()).values) out[String(labels.outcome)] = value;
  return out;
}

/** The middleware and route the router itself would run for a request without error, in order. */
function routerWay(app: Express, method: string, path: string) {
  const stack = (app as unknown as { router: { stack: RouterLayer[] } }).router.stack;
  const lane = app.get('fastLane') as FastLane;
  const middleware: RequestHandler[] = [];
  for (const layer of stack) {
    if (layer.handle === lane.handler || !layer.match(path)) continue;
    if (layer.route) {
      if (layer.route.methods[method.toLowerCase()]) return { middleware, route: layer.route };
    } else if (layer.handle.length <= 3) middleware.push(layer.handle);
  }
  throw new Error(`no route serves ${method} ${path}`);
}

describe('the fast lane for POST /v1/usage/reconcile', () => {
  it("runs exactly the middleware the router would reach, in the router's order, then the same route", async () => {
    const t = await createTestApp({ database });
    const lane = (t.app.get('fastLane') as FastLane).laneOf('POST', '/v1/usage/reconcile');
    const way = routerWay(t.app, 'POST', '/v1/usage/reconcile');
    expect(lane?.before).toEqual(way.middleware); // same instances, same order: a middleware added to the app must reach the lane too
    expect(lane?.route).toBe(way.route);
  });

  it('serves a charge without the router walking its stack', async () => {
    const { lane, router } = await pair();
    await grant(lane, 'walk-L', '100');
    const layersWalked = async (t: TestApp) => {
      const spy = jest.spyOn(Layer.prototype, 'handleRequest');
      try {
        expect((await charge(t, 'L', { userId: 'walk-L', requestId: `walk-${t === lane ? 'lane' : 'router'}` })).status).toBe(201);
        return spy.mock.calls.length;
      } finally {
        spy.mockRestore();
      }
    };
    const viaLane = await layersWalked(lane);
    const viaRouter = await layersWalked(router);
    expect(viaLane).toBeLessThan(viaRouter / 2); // the lane's own layer and the route's handlers only
  });

  it('answers every case as the router does, and counts it under the same route label', async () => {
    const { lane, router } = await pair();
    for (const [t, tag] of [[lane, 'L'], [router, 'R']] as const) {
      await grant(t, `rich-${tag}`, '5000');
      await grant(t, `poor-${tag}`, '1');
    }
    for (const [name, send] of Object.entries(cases)) {
      const viaLane = seen(await send(lane, 'L'), 'L');
      const viaRouter = seen(await send(router, 'R'), 'R');
      expect({ case: name, ...viaLane }).toEqual({ case: name, ...viaRouter });
    }
    const samples = await routeSamples(lane);
    expect(samples).toEqual(await routeSamples(router));
    expect(samples['POST 201']).toBeGreaterThan(0); // labelled by route, not "unmatched"
    expect(samples.charged).toBeGreaterThan(0);
    // Each charge ran once: the wallets paid the same.
    for (const user of ['rich', 'poor']) expect((await balanceOf(lane, `${user}-L`)).balance).toBe((await balanceOf(router, `${user}-R`)).balance);
  });

  it('refuses a caller over its rate limit as the router does (429 with Retry-After)', async () => {
    const { lane, router } = await pair({ SERVICE_RATE_LIMIT_PER_MINUTE: '1' });
    const answers = async (t: TestApp, tag: string) => {
      await grant(t, `limited-${tag}`, '5000');
      const out: Answer[] = [];
      for (const n of [1, 2]) out.push(seen(await charge(t, tag, { userId: `limited-${tag}`, requestId: `rl-${n}-${tag}` }), tag));
      return out;
    };
    const viaLane = await answers(lane, 'L');
    expect(viaLane.map((a) => a.status)).toEqual([201, 429]);
    expect(viaLane[1].headers['retry-after']).toMatch(/^\d+$/);
    expect(viaLane).toEqual(await answers(router, 'R'));
  });
});
