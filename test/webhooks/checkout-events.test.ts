import request from 'supertest';
import { balanceOf } from '../helpers/wallets';
import { createStripeTestApp, type StripeTestApp } from '../helpers/stripe';
import { counterValue, eventRow, ledgerOf, purchaseRow } from '../helpers/stripe-assertions';

let t: StripeTestApp;
beforeAll(async () => {
  t = await createStripeTestApp();
});
afterAll(() => t.close());

describe('checkout.session.* webhooks', () => {
  it('go-live check: a $5 starter purchase paid at Stripe credits 5,000, posted with its correlation id', async () => {
    const started = await request(t.app)
      .post('/v1/credits/purchase')
      .set('Authorization', `Bearer ${t.token('golive')}`)
      .send({ packageId: 'starter' });
    expect(started.status).toBe(201);
    const { purchaseId, stripeCheckoutSessionId } = started.body;
    expect((await balanceOf(t, 'golive')).balance).toBe('0'); // nothing moves before Stripe says paid

    const event = t.double.completeSession(stripeCheckoutSessionId);
    const res = await t.deliver(event, { correlationId: 'corr-golive-1' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ received: true, eventId: event.id, outcome: 'processed' });

    expect((await balanceOf(t, 'golive')).balance).toBe('5000');
    expect(await ledgerOf(t, 'golive')).toEqual([
      {
        type: 'purchase',
        amount: '5000.000000000000000000',
        business_key: `stripe:purchase:${purchaseId}`,
        reference: stripeCheckoutSessionId,
        correlation_id: 'corr-golive-1',
      },
    ]);
    const shown = await request(t.app)
      .get(`/v1/credits/purchases/${purchaseId}`)
      .set('Authorization', `Bearer ${t.token('golive')}`);
    expect(shown.body).toMatchObject({ status: 'paid', totalCredits: '5000' });
    expect(shown.body.paidAt).not.toBeNull();
    const ledger = await request(t.app)
      .get('/v1/ledger')
      .set('Authorization', `Bearer ${t.token('golive')}`);
    expect(ledger.body.data[0]).toMatchObject({
      type: 'purchase',
      amount: '5000',
      correlationId: 'corr-golive-1',
      reference: stripeCheckoutSessionId,
    });
    expect(await eventRow(t, event.id)).toMatchObject({ outcome: 'processed', attempts: 1 });
  });

  it('credits the package and its bonus as two ledger entries from Stripe clearing and bonus expense', async () => {
    const { purchaseId, stripeCheckoutSessionId } = await t.purchase('bonus-buyer', 'basic');
    await t.deliver(t.double.completeSession(stripeCheckoutSessionId)).expect(200);
    expect((await balanceOf(t, 'bonus-buyer')).balance).toBe('10500');
    const rows = await t.database.sql(
      `SELECT t.type, a.code, p.amount::text FROM ledger_transactions t JOIN postings p ON p.transaction_id = t.id
       JOIN accounts a ON a.id = p.account_id
       WHERE t.business_key IN ($1, $2) AND a.kind = 'system' ORDER BY t.type`,
      [`stripe:purchase:${purchaseId}`, `stripe:bonus:${purchaseId}`],
    );
    expect(rows).toEqual([
      { type: 'bonus', code: 'bonus_expense', amount: '-500.000000000000000000' },
      { type: 'purchase', code: 'stripe_clearing', amount: '-10000.000000000000000000' },
    ]);
  });

  it('when the same event is delivered 8 times concurrently, it credits once; the other 7 are duplicates', async () => {
    const { stripeCheckoutSessionId } = await t.purchase('concurrent', 'pro');
    const event = t.double.completeSession(stripeCheckoutSessionId);
    const before = await counterValue(t.metrics.webhookEvents, { outcome: 'duplicate' });
    const results = await Promise.all(Array.from({ length: 8 }, () => t.deliver(event)));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    const outcomes = results.map((r) => r.body.outcome).sort();
    expect(outcomes).toEqual([
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
      'processed',
    ]);
    expect((await balanceOf(t, 'concurrent')).balance).toBe('57500');
    expect((await ledgerOf(t, 'concurrent')).map((r) => r.type)).toEqual(['purchase', 'bonus']);
    expect((await counterValue(t.metrics.webhookEvents, { outcome: 'duplicate' })) - before).toBe(7);
  });

  it('a second event id for the same paid session credits nothing more', async () => {
    const { stripeCheckoutSessionId } = await t.purchase('two-events', 'starter');
    const first = t.double.completeSession(stripeCheckoutSessionId);
    const second = t.double.event('checkout.session.completed', t.double.session(stripeCheckoutSessionId));
    expect(second.id).not.toBe(first.id);
    expect((await t.deliver(first)).body.outcome).toBe('processed');
    expect((await t.deliver(second)).body.outcome).toBe('processed');
    expect((await balanceOf(t, 'two-events')).balance).toBe('5000');
    expect(await ledgerOf(t, 'two-events')).toHaveLength(1);
    expect((await eventRow(t, second.id)).error).toBe('already credited');
  });

  it('async payment: completed (unpaid), then succeeded credits once; a late completed changes nothing', async () => {
    const { purchaseId, stripeCheckoutSessionId } = await t.purchase('async-1', 'standard');
    const completedUnpaid = t.double.completeSession(stripeCheckoutSessionId, { async: true });
    await t.deliver(completedUnpaid).expect(200);
    expect((await balanceOf(t, 'async-1')).balance).toBe('0');
    expect((await purchaseRow(t, purchaseId)).status).toBe('pending');
    await t.deliver(t.double.asyncPaymentSucceeded(stripeCheckoutSessionId)).expect(200);
    expect((await balanceOf(t, 'async-1')).balance).toBe('27500');
    // a completed snapshot taken after the payment, arriving last
    await t
      .deliver(t.double.event('checkout.session.completed', t.double.session(stripeCheckoutSessionId)))
      .expect(200);
    expect((await balanceOf(t, 'async-1')).balance).toBe('27500');
    expect((await purchaseRow(t, purchaseId)).status).toBe('paid');
  });

  it('async_payment_succeeded arriving before completed credits once', async () => {
    const { stripeCheckoutSessionId } = await t.purchase('async-2', 'basic');
    const completed = t.double.completeSession(stripeCheckoutSessionId);
    const succeeded = t.double.asyncPaymentSucceeded(stripeCheckoutSessionId);
    await t.deliver(succeeded).expect(200);
    await t.deliver(completed).expect(200);
    expect((await balanceOf(t, 'async-2')).balance).toBe('10500');
    expect((await ledgerOf(t, 'async-2')).map((r) => r.type)).toEqual(['purchase', 'bonus']);
  });

  it('an unpaid completed session, an expired one and a failed async payment credit nothing', async () => {
    const unpaid = await t.purchase('unpaid', 'starter');
    await t.deliver(t.double.completeSession(unpaid.stripeCheckoutSessionId, { async: true })).expect(200);
    const expired = await t.purchase('expired', 'starter');
    await t.deliver(t.double.expireSession(expired.stripeCheckoutSessionId)).expect(200);
    const failed = await t.purchase('failed', 'starter');
    t.double.completeSession(failed.stripeCheckoutSessionId, { async: true });
    await t.deliver(t.double.asyncPaymentFailed(failed.stripeCheckoutSessionId)).expect(200);

    for (const user of ['unpaid', 'expired', 'failed']) {
      expect((await balanceOf(t, user)).balance).toBe('0');
      expect(await ledgerOf(t, user)).toEqual([]);
    }
    expect((await purchaseRow(t, unpaid.purchaseId)).status).toBe('pending');
    expect((await purchaseRow(t, expired.purchaseId)).status).toBe('expired');
    expect((await purchaseRow(t, failed.purchaseId)).status).toBe('failed');
  });

  it('never downgrades a paid purchase when an expired or failed event arrives late', async () => {
    const { purchaseId, stripeCheckoutSessionId } = await t.purchase('late-expiry', 'starter');
    await t.deliver(t.double.completeSession(stripeCheckoutSessionId)).expect(200);
    await t.deliver(t.double.event('checkout.session.expired', t.double.session(stripeCheckoutSessionId))).expect(200);
    await t
      .deliver(t.double.event('checkout.session.async_payment_failed', t.double.session(stripeCheckoutSessionId)))
      .expect(200);
    expect((await purchaseRow(t, purchaseId)).status).toBe('paid');
    expect((await balanceOf(t, 'late-expiry')).balance).toBe('5000');
  });

  it('a paid session whose amount or currency differs from its package is recorded, alerted, uncredited', async () => {
    const before = await counterValue(t.metrics.purchaseAmountMismatches);
    const cheap = await t.purchase('mismatch-amount', 'enterprise');
    await t.deliver(t.double.completeSession(cheap.stripeCheckoutSessionId, { amountTotal: 100 })).expect(200);
    const euros = await t.purchase('mismatch-currency', 'starter');
    await t.deliver(t.double.completeSession(euros.stripeCheckoutSessionId, { currency: 'eur' })).expect(200);
    for (const [user, p] of [
      ['mismatch-amount', cheap],
      ['mismatch-currency', euros],
    ] as const) {
      expect((await balanceOf(t, user)).balance).toBe('0');
      const row = await purchaseRow(t, p.purchaseId);
      expect(row.status).toBe('failed');
      expect(row.failure_reason).toMatch(/^amount_mismatch/);
    }
    expect((await counterValue(t.metrics.purchaseAmountMismatches)) - before).toBe(2);
  });

  it('acknowledges an unknown event type with 200, records it as ignored and moves nothing', async () => {
    const event = t.double.event('customer.created', { id: 'cus_test_1', object: 'customer', created: 1 });
    const res = await t.deliver(event);
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('ignored');
    expect(await eventRow(t, event.id)).toMatchObject({ outcome: 'ignored' });
    expect(await counterValue(t.metrics.webhookEvents, { type: 'other', outcome: 'ignored' })).toBeGreaterThanOrEqual(
      1,
    );
  });

  it('counts purchased and bonus credits once each', async () => {
    const purchased = await counterValue(t.metrics.creditsPurchased);
    const bonus = await counterValue(t.metrics.creditsBonus);
    const { stripeCheckoutSessionId } = await t.purchase('counted', 'pro');
    const event = t.double.completeSession(stripeCheckoutSessionId);
    await t.deliver(event).expect(200);
    await t.deliver(event).expect(200);
    expect((await counterValue(t.metrics.creditsPurchased)) - purchased).toBe(50000);
    expect((await counterValue(t.metrics.creditsBonus)) - bonus).toBe(7500);
  });
});
