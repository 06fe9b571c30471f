import request from 'supertest';
import { createTestApp, type TestApp } from '../helpers/test-app';

const FRONTEND = 'https://app.scholarlink.test';
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ env: { CORS_ORIGINS: `${FRONTEND}, https://admin.scholarlink.test` } });
});
afterAll(() => t.close());

const expectProblem = (res: request.Response, status: number) => {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({
    status,
    type: expect.stringMatching(/^https:\/\//),
    title: expect.any(String),
    detail: expect.any(String),
  });
  expect(res.body.correlationId).toBe(res.headers['x-correlation-id']);
};

/** What helmet promises on every response, success or failure. */
const expectSecurityHeaders = (res: request.Response) => {
  expect(res.headers['x-powered-by']).toBeUndefined();
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
  expect(res.headers['content-security-policy']).toContain("default-src 'self'");
  expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
  expect(res.headers['referrer-policy']).toBe('no-referrer');
};

describe('CORS', () => {
  it('gives a listed origin Access-Control-Allow-Origin for itself, exposing correlation, rate headers', async () => {
    const res = await request(t.app).get('/v1/credit-packages').set('Origin', FRONTEND);
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(FRONTEND);
    expect(res.headers['vary']).toMatch(/Origin/);
    expect(res.headers['access-control-expose-headers']).toMatch(/X-Correlation-Id/);
    expect(res.headers['access-control-expose-headers']).toMatch(/RateLimit/);
  });

  it('gives any other origin no CORS headers at all', async () => {
    for (const origin of ['https://evil.example', 'https://app.scholarlink.test.evil.example', 'null']) {
      const res = await request(t.app).get('/v1/credit-packages').set('Origin', origin);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    }
  });

  it.each([
    ['GET', '/v1/balance'],
    ['GET', '/v1/ledger'],
    ['POST', '/v1/credits/purchase'],
    ['GET', '/v1/credits/purchases/3f0c9a52-4d55-4e3b-9d53-2f1c1f0e8a11'],
    ['GET', '/v1/ledger/export.csv'],
  ])('answers the preflight for %s %s with the headers the frontend sends', async (method, path) => {
    const res = await request(t.app)
      .options(path)
      .set('Origin', FRONTEND)
      .set('Access-Control-Request-Method', method)
      .set('Access-Control-Request-Headers', 'authorization,content-type,idempotency-key,x-correlation-id');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(FRONTEND);
    expect(res.headers['access-control-allow-methods']).toContain(method);
    const allowed = res.headers['access-control-allow-headers'].toLowerCase().split(/,\s*/);
    expect(allowed).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'idempotency-key', 'x-correlation-id']),
    );
    expect(res.headers['access-control-max-age']).toBe('600');
  });

  it('answers a preflight from an unlisted origin without allowing it', async () => {
    const res = await request(t.app)
      .options('/v1/balance')
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'GET');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('security headers and edge errors', () => {
  it('puts the helmet headers on successes and on errors, and never X-Powered-By', async () => {
    const responses = await Promise.all([
      request(t.app).get('/healthz'),
      request(t.app).get('/v1/credit-packages'),
      request(t.app).get('/v1/balance'),
      request(t.app).get('/no/such/route'),
      request(t.app).post('/v1/usage/reconcile').set('Content-Type', 'application/json').send('{"broken'),
    ]);
    for (const res of responses) expectSecurityHeaders(res);
  });

  it('answers a body over 64 kB with a 413 problem', async () => {
    const big = JSON.stringify({ userId: 'u', requestId: 'r', metadata: { blob: 'x'.repeat(70 * 1024) } });
    const res = await request(t.app)
      .post('/v1/usage/reconcile')
      .set('Authorization', `Bearer ${t.gateway}`)
      .set('Content-Type', 'application/json')
      .send(big);
    expectProblem(res, 413);
    expectSecurityHeaders(res);
  });

  it('answers malformed JSON with a 400 problem that does not echo a parser stack', async () => {
    const res = await request(t.app)
      .post('/v1/usage/reconcile')
      .set('Authorization', `Bearer ${t.gateway}`)
      .set('Content-Type', 'application/json')
      .send('{"userId": "u",');
    expectProblem(res, 400);
    expect(res.text).not.toMatch(/SyntaxError|at JSON\.parse|node_modules/);
  });

  it('answers a non-JSON body with a 415 problem', async () => {
    const res = await request(t.app)
      .post('/v1/usage/reconcile')
      .set('Authorization', `Bearer ${t.gateway}`)
      .set('Content-Type', 'text/plain')
      .send('userId=u');
    expectProblem(res, 415);
  });

  it('answers an unknown route with a 404 problem', async () => {
    const res = await request(t.app).get('/v1/nothing-here');
    expectProblem(res, 404);
  });

  it('answers a known route called with the wrong method with a 405 problem and Allow', async () => {
    const res = await request(t.app)
      .delete('/v1/balance')
      .set('Authorization', `Bearer ${t.token('someone')}`);
    expectProblem(res, 405);
    expect(res.headers['allow']).toMatch(/GET/);
  });
});
