import request from 'supertest';
import { createStripeTestApp, type StripeTestApp } from '../helpers/stripe';
import { eventsOf, putAutoTopUp, saveCard, topupsOf } from '../helpers/topups';
import { grant } from '../helpers/wallets';

let t: StripeTestApp;
beforeAll(async () => {
  t = await createStripeTestApp({ env: { AUTO_TOPUP_MIN_THRESHOLD_CREDITS: '100' } });
});
afterAll(() => t.close());

const settingsOf = (userId: string) =>
  request(t.app)
    .get('/v1/billing/settings')
    .set('Authorization', `Bearer ${t.token(userId)}`)
    .expect(200);

describe('saving a card', () => {
  it('through Checkout in setup mode, shows its brand, last four digits and expiry in the settings', async () => {
    const { customerId } = await saveCard(t, 'card-user', 'mastercard');
    const settings = await settingsOf('card-user');
    expect(settings.body.paymentMethod).toEqual({
      brand: 'mastercard',
      last4: '4444',
      expMonth: expect.any(Number),
      expYear: expect.any(Number),
    });
    const session = t.double.requestsTo('POST', '/v1/checkout/sessions').at(-1)!;
    expect(session.body).toMatchObject({ mode: 'setup', customer: customerId });
  });

  it('when two requests race for a new user, Stripe makes one Customer (key customer:<userId>)', async () => {
    const start = () =>
      request(t.app)
        .post('/v1/billing/payment-method')
        .set('Authorization', `Bearer ${t.token('racer')}`)
        .expect(201);
    await Promise.all([start(), start(), start()]);
    const customers = t.double.customers.filter((c) => c.metadata?.userId === 'racer');
    expect(customers).toHaveLength(1);
    const creates = t.double.requestsTo('POST', '/v1/customers').filter((r) => r.idempotencyKey === 'customer:racer');
    expect(creates.length).toBeGreaterThanOrEqual(1);
    const rows = await t.database.sql<{ id: string }>(
      `SELECT stripe_customer_id AS id FROM billing_settings WHERE user_id = 'racer'`,
    );
    expect(rows).toEqual([{ id: customers[0].id }]);
  });

  it('when Stripe is down, answers 502 stripe_unavailable and saves nothing; a retry works', async () => {
    t.double.failNext(10);
    const res = await request(t.app)
      .post('/v1/billing/payment-method')
      .set('Authorization', `Bearer ${t.token('unlucky')}`)
      .send({});
    expect([res.status, res.body.code]).toEqual([502, 'stripe_unavailable']);
    expect((await settingsOf('unlucky')).body.paymentMethod).toBeNull();
    t.double.failNext(0);
    await saveCard(t, 'unlucky');
    expect((await settingsOf('unlucky')).body.paymentMethod).toMatchObject({ last4: '4242' });
  });

  it('with saveCard on a purchase, keeps the card it was paid with for off-session use', async () => {
    const res = await request(t.app)
      .post('/v1/credits/purchase')
      .set('Authorization', `Bearer ${t.token('buyer')}`)
      .send({ packageId: 'starter', saveCard: true })
      .expect(201);
    const session = t.double.requestsTo('POST', '/v1/checkout/sessions').at(-1)!;
    expect(session.body).toMatchObject({ payment_intent_data: { setup_future_usage: 'off_session' } });
    await t.deliver(t.double.completeSession(res.body.stripeCheckoutSessionId, { card: 'visa' })).expect(200);
    expect((await settingsOf('buyer')).body.paymentMethod).toMatchObject({ brand: 'visa', last4: '4242' });
  });

  it("a setup session completed for another user's Customer saves nothing", async () => {
    await saveCard(t, 'owner');
    const started = await request(t.app)
      .post('/v1/billing/payment-method')
      .set('Authorization', `Bearer ${t.token('owner')}`)
      .expect(201);
    const event = t.double.completeSetupSession(started.body.stripeCheckoutSessionId, { card: 'mastercard' });
    (event.data.object as unknown as { metadata: Record<string, string> }).metadata.userId = 'intruder';
    await t.deliver(event).expect(200);
    expect((await settingsOf('intruder')).body.paymentMethod).toBeNull();
  });
});

describe('auto top-up settings', () => {
  it('refuses auto top-up without a saved card with 409 payment_method_required, and changes nothing', async () => {
    const res = await putAutoTopUp(t, 'no-card', {
      thresholdCredits: '500',
      packageId: 'starter',
      monthlyLimitUsd: '50',
    });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('payment_method_required');
    expect((await settingsOf('no-card')).body.autoTopUp).toMatchObject({ enabled: false, status: 'off' });
  });

  it('refuses an unknown package, a limit below its price, a low threshold or missing fields', async () => {
    await saveCard(t, 'picky');
    const unknown = await putAutoTopUp(t, 'picky', {
      thresholdCredits: '500',
      packageId: 'gold',
      monthlyLimitUsd: '50',
    });
    expect([unknown.status, unknown.body.code]).toEqual([422, 'unknown_package']);
    const low = await putAutoTopUp(t, 'picky', {
      thresholdCredits: '500',
      packageId: 'basic',
      monthlyLimitUsd: '9.99',
    });
    expect([low.status, low.body.code]).toEqual([422, 'monthly_limit_below_price']);
    const min = await putAutoTopUp(t, 'picky', { thresholdCredits: '99', packageId: 'basic', monthlyLimitUsd: '20' });
    expect([min.status, min.body.errors[0].field]).toEqual([400, 'autoTopUp.thresholdCredits']);
    const negative = await putAutoTopUp(t, 'picky', {
      thresholdCredits: '-1',
      packageId: 'basic',
      monthlyLimitUsd: '20',
    });
    expect([negative.status, negative.body.errors[0].field]).toEqual([400, 'autoTopUp.thresholdCredits']);
    const missing = await putAutoTopUp(t, 'picky', { packageId: 'basic' });
    expect(missing.status).toBe(400);
    expect(missing.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'autoTopUp.monthlyLimitUsd',
      'autoTopUp.thresholdCredits',
    ]);
    expect((await settingsOf('picky')).body.autoTopUp).toMatchObject({
      enabled: false,
      status: 'off',
      packageId: null,
    });
  });

  it('stores what was enabled, and fields left out keep their value', async () => {
    await saveCard(t, 'keeper');
    await grant(t, 'keeper', '1000');
    await putAutoTopUp(t, 'keeper', { thresholdCredits: '500', packageId: 'basic', monthlyLimitUsd: '30' }).expect(200);
    const res = await putAutoTopUp(t, 'keeper', { thresholdCredits: '750.5' }).expect(200);
    expect(res.body.autoTopUp).toEqual({
      enabled: true,
      thresholdCredits: '750.5',
      packageId: 'basic',
      monthlyLimitUsd: '30.00',
      status: 'active',
      pausedReason: null,
      spentThisMonthUsd: '0.00',
    });
  });

  it('enabling while available is already below the threshold starts an attempt at once', async () => {
    await saveCard(t, 'already-low');
    await grant(t, 'already-low', '200');
    await putAutoTopUp(t, 'already-low', {
      thresholdCredits: '500',
      packageId: 'starter',
      monthlyLimitUsd: '20',
    }).expect(200);
    expect((await topupsOf(t, 'already-low')).map((r) => r.status)).toEqual(['pending']);
  });

  it('disabling ends the attempts Stripe has not seen, and the worker sends nothing', async () => {
    await saveCard(t, 'quitter');
    await grant(t, 'quitter', '200');
    await putAutoTopUp(t, 'quitter', { thresholdCredits: '500', packageId: 'starter', monthlyLimitUsd: '20' }).expect(
      200,
    );
    const res = await putAutoTopUp(t, 'quitter', { enabled: false }).expect(200);
    expect(res.body.autoTopUp).toMatchObject({ enabled: false, status: 'off' });
    expect(await topupsOf(t, 'quitter')).toMatchObject([
      { status: 'failed', failure_code: 'canceled', stripe_calls: 0 },
    ]);
    await t.services.topupWorker!.runOnce();
    const mine = t.double
      .requestsTo('POST', '/v1/payment_intents')
      .filter((r) => (r.body.metadata as Record<string, string>).userId === 'quitter');
    expect(mine).toEqual([]);
    expect(await eventsOf(t, 'quitter', 'topup.')).toEqual([]);
  });
});
