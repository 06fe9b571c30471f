import request from 'supertest';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { grant } from '../helpers/wallets';

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

/** The request counter's samples for the route, e.g. {"POST 201": 1}. */
async function routeSamples(t: TestApp): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const { labels, value } of (await t.metrics.httpRequests.get()).values) {
    if (labels.route === '/v1/usage/reconcile') out[`${labels.method} ${labels.status}`] = value;
  }
  return out;
}

describe('the fast lane for POST /v1/usage/reconcile', () => {
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
