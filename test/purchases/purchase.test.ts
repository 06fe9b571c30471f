import request from 'supertest';
import { createTestApp } from '../helpers/test-app';
import { createStripeTestApp, type StripeTestApp } from '../helpers/stripe';

let t: StripeTestApp;
beforeAll(async () => {
  t = await createStripeTestApp();
});
afterAll(() => t.close());

const buy = (userId: string, body: unknown, headers: Record<string, string> = {}) => {
  const req = request(t.app)
    .post('/v1/credits/purchase')
    .set('Authorization', `Bearer ${t.token(userId)}`);
  for (const [k, v] of Object.entries(headers)) req.set(k, v);
  return req.send(body as object);
};

describe('POST /v1/credits/purchase', () => {
  it('answers 201 with the contract body and creates one Checkout Session at Stripe for the package', async () => {
    const res = await buy('buyer-1', { packageId: 'basic' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      purchaseId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: 'pending',
      packageId: 'basic',
      priceUsd: '10.00',
      totalCredits: '10500',
      checkoutUrl: expect.stringContaining(res.body.stripeCheckoutSessionId),
      stripeCheckoutSessionId: expect.stringMatching(/^cs_test_/),
    });
    const calls = t.double.requests.filter(
      (r) =>
        r.method === 'POST' &&
        r.path === '/v1/checkout/sessions' &&
        (r.body.metadata as Record<string, string>)?.purchaseId === res.body.purchaseId,
    );
    expect(calls).toHaveLength(1);
    const sent = calls[0];
    expect(sent.idempotencyKey).toBe(`checkout-session:${res.body.purchaseId}`);
    expect(sent.body).toMatchObject({
      mode: 'payment',
      client_reference_id: 'buyer-1',
      metadata: { purchaseId: res.body.purchaseId, userId: 'buyer-1', packageId: 'basic' },
      line_items: [{ quantity: '1', price_data: { currency: 'usd', unit_amount: '1000' } }],
    });
    expect(sent.body.success_url).toBe(`http://localhost:5173/credits/success?purchaseId=${res.body.purchaseId}`);
    expect(sent.body.cancel_url).toBe(`http://localhost:5173/credits/cancel?purchaseId=${res.body.purchaseId}`);
    const rows = await t.database.sql(
      `SELECT status, checkout_session_id, price_cents, credits::text, bonus_credits::text FROM purchases
       WHERE id = $1`,
      [res.body.purchaseId],
    );
    expect(rows).toEqual([
      {
        status: 'pending',
        checkout_session_id: res.body.stripeCheckoutSessionId,
        price_cents: 1000,
        credits: '10000.000000000000000000',
        bonus_credits: '500.000000000000000000',
      },
    ]);
  });

  it('when the same Idempotency-Key is replayed, it answers the first body and Stripe makes one session', async () => {
    const before = t.double.sessions.length;
    const first = await buy('buyer-2', { packageId: 'starter' }, { 'Idempotency-Key': 'buy-once' });
    const second = await buy('buyer-2', { packageId: 'starter' }, { 'Idempotency-Key': 'buy-once' });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body).toEqual(first.body);
    expect(t.double.sessions.length - before).toBe(1);
    const rows = await t.database.sql(`SELECT count(*)::int AS n FROM purchases WHERE user_id = 'buyer-2'`);
    expect(rows[0]).toEqual({ n: 1 });
  });

  it('refuses an unknown package with 422 naming the known ones, and calls Stripe for nothing', async () => {
    const before = t.double.requests.length;
    const res = await buy('buyer-3', { packageId: 'platinum' });
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({
      code: 'unknown_package',
      knownPackages: ['starter', 'basic', 'standard', 'pro', 'enterprise'],
    });
    expect(t.double.requests.length).toBe(before);
  });

  it('refuses a malformed body with 400 naming the field', async () => {
    const res = await buy('buyer-3', { package: 'starter' });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(['packageId']));
  });

  it('requires a bearer token', async () => {
    const res = await request(t.app).post('/v1/credits/purchase').send({ packageId: 'starter' });
    expect(res.status).toBe(401);
  });

  it('when Stripe fails, answers 502, marks the purchase failed, and a retry with the same key succeeds', async () => {
    t.double.failNext(3, 500); // the SDK retries twice
    const failed = await buy('buyer-4', { packageId: 'pro' }, { 'Idempotency-Key': 'flaky' });
    expect(failed.status).toBe(502);
    expect(failed.body.code).toBe('stripe_unavailable');
    expect(JSON.stringify(failed.body)).not.toMatch(/sk_test|Simulated/);
    const retried = await buy('buyer-4', { packageId: 'pro' }, { 'Idempotency-Key': 'flaky' });
    expect(retried.status).toBe(201);
    const rows = await t.database.sql<{ status: string }>(
      `SELECT status FROM purchases WHERE user_id = 'buyer-4' ORDER BY created_at`,
    );
    expect(rows.map((r) => r.status)).toEqual(['failed', 'pending']);
  });
});

describe('GET /v1/credits/purchases/{purchaseId}', () => {
  it('shows the owner and a billing:admin the purchase, and anyone else the same 404 as a missing id', async () => {
    const { purchaseId } = await t.purchase('owner-1', 'standard');
    const own = await request(t.app)
      .get(`/v1/credits/purchases/${purchaseId}`)
      .set('Authorization', `Bearer ${t.token('owner-1')}`);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({
      purchaseId,
      userId: 'owner-1',
      status: 'pending',
      packageId: 'standard',
      priceUsd: '25.00',
      credits: '25000',
      bonusCredits: '2500',
      totalCredits: '27500',
      creditsRefunded: '0',
      paidAt: null,
    });
    const admin = await request(t.app)
      .get(`/v1/credits/purchases/${purchaseId}`)
      .set('Authorization', `Bearer ${t.admin}`);
    expect(admin.status).toBe(200);
    expect(admin.body.purchaseId).toBe(purchaseId);
    const other = await request(t.app)
      .get(`/v1/credits/purchases/${purchaseId}`)
      .set('Authorization', `Bearer ${t.token('intruder')}`);
    const missing = await request(t.app)
      .get(`/v1/credits/purchases/00000000-0000-4000-8000-000000000000`)
      .set('Authorization', `Bearer ${t.token('intruder')}`);
    const garbage = await request(t.app)
      .get(`/v1/credits/purchases/not-a-uuid`)
      .set('Authorization', `Bearer ${t.token('intruder')}`);
    for (const res of [other, missing, garbage]) {
      expect(res.status).toBe(404);
      expect(res.body.detail).toBe('No such purchase');
    }
  });
});

describe('without Stripe configured', () => {
  it('answers the purchase route and the webhook with a 503 problem instead of crashing', async () => {
    const bare = await createTestApp();
    try {
      const res = await request(bare.app)
        .post('/v1/credits/purchase')
        .set('Authorization', `Bearer ${bare.token('u')}`)
        .send({ packageId: 'starter' });
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.code).toBe('stripe_not_configured');
      const hook = await request(bare.app)
        .post('/v1/webhooks/stripe')
        .set('Stripe-Signature', 't=1,v1=00')
        .set('Content-Type', 'application/json')
        .send('{}');
      expect(hook.status).toBe(503);
      expect(await bare.database.sql(`SELECT * FROM stripe_events`)).toEqual([]);
      const report = await request(bare.app)
        .get('/v1/admin/reports/revenue')
        .set('Authorization', `Bearer ${bare.admin}`);
      // one code, one problem: the same status, title and Retry-After whichever feature needed Stripe
      expect([res, hook, report].map((r) => [r.status, r.body.code, r.body.title, r.headers['retry-after']])).toEqual(
        Array(3).fill([503, 'stripe_not_configured', 'Stripe not configured', '60']),
      );
    } finally {
      await bare.close();
    }
  });
});

describe('OpenAPI', () => {
  it('documents the purchase routes and the webhook (signature-authenticated, no bearer)', async () => {
    const res = await request(t.app).get('/openapi.json');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining(['/v1/credits/purchase', '/v1/credits/purchases/{purchaseId}', '/v1/webhooks/stripe']),
    );
    expect(res.body.paths['/v1/webhooks/stripe'].post.security).toEqual([]);
    expect(Object.keys(res.body.paths['/v1/credits/purchase'].post.responses)).toEqual(
      expect.arrayContaining(['201', '422', '503']),
    );
  });
});
