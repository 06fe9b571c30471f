import request from 'supertest';
import { createTestApp, type TestApp } from '../helpers/test-app';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const expectProblem = (res: request.Response, status: number) => {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({
    status,
    type: expect.any(String),
    title: expect.any(String),
    detail: expect.any(String),
  });
  expect(res.body.correlationId).toBe(res.headers['x-correlation-id']);
};

describe('HTTP conventions', () => {
  it('answers liveness without I/O', async () => {
    const res = await request(t.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('echoes a valid X-Correlation-Id and replaces an unsafe one with a UUID', async () => {
    expect(
      (await request(t.app).get('/healthz').set('X-Correlation-Id', 'abc.DEF:1-2_3')).headers['x-correlation-id'],
    ).toBe('abc.DEF:1-2_3');
    const replaced = await request(t.app).get('/healthz').set('X-Correlation-Id', 'bad id; drop table');
    expect(replaced.headers['x-correlation-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(
      (await request(t.app).get('/healthz').set('X-Correlation-Id', 'x'.repeat(129))).headers['x-correlation-id'],
    ).toHaveLength(36);
  });

  it('answers an unknown route with a 404 problem and a wrong method with 405 and Allow', async () => {
    expectProblem(await request(t.app).get('/v2/nothing'), 404);
    const res = await request(t.app).delete('/v1/usage/reconcile').set('Authorization', `Bearer ${t.gateway}`);
    expectProblem(res, 405);
    expect(res.headers.allow).toBe('POST');
    // routing ignores case, so the 405 does too
    const shouted = await request(t.app).delete('/V1/USAGE/RECONCILE').set('Authorization', `Bearer ${t.gateway}`);
    expectProblem(shouted, 405);
    expect(shouted.headers.allow).toBe('POST');
  });

  it('answers malformed JSON with 400, a non-JSON body with 415, an oversize body with 413', async () => {
    const auth = { Authorization: `Bearer ${t.gateway}` };
    expectProblem(
      await request(t.app)
        .post('/v1/usage/reconcile')
        .set(auth)
        .set('Content-Type', 'application/json')
        .send('{"userId":'),
      400,
    );
    expectProblem(
      await request(t.app).post('/v1/usage/reconcile').set(auth).set('Content-Type', 'text/plain').send('hello'),
      415,
    );
    const big = JSON.stringify({
      userId: 'u',
      requestId: 'r',
      model: 'gpt-4o',
      inputTokens: 1,
      outputTokens: 1,
      metadata: { pad: 'x'.repeat(100_000) },
    });
    expectProblem(
      await request(t.app).post('/v1/usage/reconcile').set(auth).set('Content-Type', 'application/json').send(big),
      413,
    );
  });

  it('never answers with a stack trace or SQL, and sends no X-Powered-By', async () => {
    const res = await request(t.app)
      .post('/v1/usage/reconcile')
      .set('Authorization', `Bearer ${t.gateway}`)
      .send({ userId: 'u', requestId: 'r', model: { $gt: '' }, inputTokens: 1, outputTokens: 1 });
    expect(res.status).toBeLessThan(500);
    expect(res.text).not.toMatch(/at .*\.ts:|SELECT|prisma/i);
    expect(res.headers['x-powered-by']).toBeUndefined();
  });
});

describe('hostile identifiers', () => {
  it('refuses NUL and control characters in ids and in metadata with 400 naming the field', async () => {
    const auth = { Authorization: `Bearer ${t.gateway}` };
    const nulId = await request(t.app)
      .post('/v1/usage/reconcile')
      .set(auth)
      .send({ userId: 'u\u0000', requestId: 'r', model: 'gpt-4o', inputTokens: 1, outputTokens: 1 });
    expectProblem(nulId, 400);
    expect(nulId.body.errors[0].field).toBe('userId');
    const nulMeta = await request(t.app)
      .post('/v1/usage/reconcile')
      .set(auth)
      .send({
        userId: 'u',
        requestId: 'r',
        model: 'gpt-4o',
        inputTokens: 1,
        outputTokens: 1,
        metadata: { a: { b: 'x\u0000' } },
      });
    expectProblem(nulMeta, 400);
    expect(nulMeta.body.errors[0].field).toBe('metadata.a.b');
    expectProblem(await request(t.app).get('/v1/balance?userId=%00').set('Authorization', `Bearer ${t.admin}`), 400);
  });
});

describe('ids that PostgreSQL would silently merge', () => {
  it('refuses lone surrogates, which would be stored as U+FFFD and make two requestIds one', async () => {
    const res = await request(t.app)
      .post('/v1/usage/reconcile')
      .set('Authorization', `Bearer ${t.gateway}`)
      .send({ userId: 'u', requestId: 's\ud800', model: 'gpt-4o', inputTokens: 1, outputTokens: 1 });
    expectProblem(res, 400);
    expect(res.body.errors[0].field).toBe('requestId');
  });

  it('refuses amounts that could overflow the ledger and cursors beyond its ids', async () => {
    const big = await request(t.app)
      .post('/v1/admin/credits/adjustments')
      .set('Authorization', `Bearer ${t.admin}`)
      .set('Idempotency-Key', 'overflow')
      .send({ userId: 'u', amount: '9999999999999999', reason: 'x' });
    expectProblem(big, 400);
    const cursor = Buffer.from('9999999999999999999').toString('base64url');
    expectProblem(
      await request(t.app)
        .get(`/v1/ledger?cursor=${cursor}`)
        .set('Authorization', `Bearer ${t.token('u')}`),
      400,
    );
  });
});
