import request from 'supertest';
import { businessKey } from '../../src/modules/ledger/business-keys';
import { revenueReport } from '../../src/modules/reports/revenue.factory';
import { TopupsGateway } from '../../src/modules/topups/topups.gateway';
import { TopupsRepository } from '../../src/modules/topups/topups.repository';
import { WalletRepository } from '../../src/modules/wallet/wallet.repository';
import { createStripe } from '../../src/platform/stripe';
import { createStripeTestApp, type StripeTestApp } from '../helpers/stripe';
import { charge50, deliverEmitted, putAutoTopUp, runWorker, saveCard, topupsOf } from '../helpers/topups';
import { grant } from '../helpers/wallets';

const stripeOf = (t: StripeTestApp) =>
  createStripe({ STRIPE_SECRET_KEY: t.double.secretKey, STRIPE_API_BASE_URL: t.double.url })!;

const report = (t: StripeTestApp) =>
  request(t.app).get('/v1/admin/reports/revenue').set('Authorization', `Bearer ${t.admin}`).expect(200);

/** A user with a saved card, 520 credits and auto top-up at 500 with the basic package ($10: 10,000 + 500 bonus). */
async function enrolled(t: StripeTestApp, userId: string) {
  const saved = await saveCard(t, userId);
  await grant(t, userId, '520');
  await putAutoTopUp(t, userId, { thresholdCredits: '500', packageId: 'basic', monthlyLimitUsd: '50' }).expect(200);
  await charge50(t, userId, 'r1').expect(201); // 470 left: an attempt starts
  return saved;
}

/** An auto top-up that succeeded at Stripe and was credited by the worker; its PaymentIntent id. */
async function toppedUp(t: StripeTestApp, userId: string) {
  await enrolled(t, userId);
  await runWorker(t);
  await deliverEmitted(t); // Stripe's own payment_intent.succeeded, later: credits nothing more
  const [topup] = await topupsOf(t, userId);
  expect(topup.status).toBe('succeeded');
  return topup.payment_intent_id!;
}

async function checkoutPaid(t: StripeTestApp, userId: string, packageId: string) {
  const p = await t.purchase(userId, packageId);
  await t.deliver(t.double.completeSession(p.stripeCheckoutSessionId)).expect(200);
}

const ledgerTx = async (t: StripeTestApp, key: string) =>
  (await t.database.sql<{ id: string }>(`SELECT id::text FROM ledger_transactions WHERE business_key = $1`, [key]))[0]
    .id;

describe('GET /v1/admin/reports/revenue, with auto top-ups', () => {
  let t: StripeTestApp;
  let topupIntent: string;
  beforeAll(async () => {
    t = await createStripeTestApp();
    await checkoutPaid(t, 'rt-buyer', 'standard'); // $25: 25,000 + 2,500
    topupIntent = await toppedUp(t, 'rt-auto'); // $10: 10,000 + 500
  });
  afterAll(() => t.close());

  it("matches a top-up's PaymentIntent to its credits: no discrepancy, the same gross both sides", async () => {
    const res = await report(t);
    expect(res.body.discrepancies).toEqual([]);
    expect(res.body.ok).toBe(true);
    expect(res.body.stripe).toMatchObject({ grossUsd: '35.00', paidSessions: 1, topups: 1 });
    expect(res.body.ledger).toMatchObject({
      grossUsd: '35.00',
      purchases: 2,
      topups: 1,
      creditsPurchased: '35000',
      creditsBonus: '3000',
    });
    // Every top-up was among the period's PaymentIntents: none had to be asked for alone.
    expect(t.double.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/payment_intents/'))).toEqual(
      [],
    );
  });

  it("a refund of a top-up reconciles like a purchase's", async () => {
    await t.deliver(t.double.refund(topupIntent, 250)).expect(200); // a quarter of $10: 2,625 credits back
    const res = await report(t);
    expect(res.body.discrepancies).toEqual([]);
    const refunds = { refundedUsd: '2.50', netUsd: '32.50', refunds: 1 };
    expect(res.body.stripe).toMatchObject(refunds);
    expect(res.body.ledger).toMatchObject({ ...refunds, creditsTakenBack: '2625' });
  });

  it('pages through the PaymentIntents and the ledger top-ups (page size 2): each matched once', async () => {
    await toppedUp(t, 'rt-auto-2');
    await toppedUp(t, 'rt-auto-3');
    const before = t.double.requests.length;
    const result = await revenueReport(t.database.db, stripeOf(t), 2).revenue({
      from: new Date(Date.now() - 3600_000),
      to: new Date(Date.now() + 1000),
    });
    expect(result.discrepancies).toEqual([]);
    expect([result.stripe.topups, result.ledger.topups]).toEqual([3, 3]);
    expect(result.stripe.grossUsd).toBe('55.00');
    expect(result.ledger.grossUsd).toBe('55.00');
    const lists = t.double.requests.slice(before).filter((r) => r.method === 'GET' && r.path === '/v1/payment_intents');
    // the Checkout purchase's PaymentIntent and three top-ups', 2 a page
    expect(lists.length).toBeGreaterThanOrEqual(2);
    expect(lists.filter((r) => typeof r.query.starting_after === 'string').length).toBe(lists.length - 1);
    expect(lists.every((r) => r.query.limit === '2')).toBe(true);
  });
});

describe('GET /v1/admin/reports/revenue, when a top-up disagrees', () => {
  let t: StripeTestApp;
  beforeAll(async () => {
    t = await createStripeTestApp();
  });
  afterAll(() => t.close());

  it('credits Stripe does not show as a succeeded top-up, and a top-up Stripe took but never credited', async () => {
    // Credited, then Stripe shows the PaymentIntent as still processing.
    const processing = await toppedUp(t, 'td-processing');
    t.double.paymentIntent(processing).status = 'processing';
    const [purchase] = await t.database.sql<{ id: string }>(
      `SELECT id::text FROM purchases WHERE payment_intent_id = $1`,
      [processing],
    );
    // Credited straight through the wallet function for a PaymentIntent Stripe never made.
    await new WalletRepository(t.database.db, t.metrics).post({
      userId: 'td-phantom',
      type: 'purchase',
      businessKey: businessKey.stripeTopup('pi_test_phantom'),
      counterAccount: 'stripe_clearing',
      amount: '5000',
      allowNegative: false,
      correlationId: null,
      reference: 'pi_test_phantom',
    });
    // Stripe took the payment, but neither the worker's answer nor Stripe's event was recorded.
    const { customerId } = await enrolled(t, 'td-lost');
    const [attempt] = await new TopupsRepository(t.database.db).list('td-lost', 1);
    await new TopupsGateway(stripeOf(t)).charge(attempt);
    const [lost] = t.double.paymentIntentsFor(customerId);

    const res = await report(t);
    expect(res.body.ok).toBe(false);
    expect(res.body.discrepancyCount).toBe(3);
    expect(res.body.discrepancies).toEqual(
      expect.arrayContaining([
        {
          kind: 'missing_in_stripe',
          object: 'payment_intent',
          stripeId: processing,
          purchaseId: purchase.id,
          ledgerTransactionId: await ledgerTx(t, businessKey.stripeTopup(processing)),
          unit: 'usd',
          stripeAmount: '0.00',
          ledgerAmount: '10.00',
          detail: 'credited, but the PaymentIntent is processing in Stripe',
        },
        {
          kind: 'missing_in_stripe',
          object: 'payment_intent',
          stripeId: 'pi_test_phantom',
          purchaseId: null,
          ledgerTransactionId: await ledgerTx(t, businessKey.stripeTopup('pi_test_phantom')),
          unit: 'usd',
          stripeAmount: '0.00',
          ledgerAmount: '0.00',
          detail: 'credited, but Stripe has no such PaymentIntent',
        },
        {
          kind: 'missing_in_ledger',
          object: 'payment_intent',
          stripeId: lost.id,
          purchaseId: null,
          ledgerTransactionId: null,
          unit: 'usd',
          stripeAmount: '10.00',
          ledgerAmount: '0.00',
          detail: "succeeded in Stripe, no purchase records this top-up's PaymentIntent",
        },
      ]),
    );
    // Stripe's gross has only the payment it took; the ledger's only the one it credited with a purchase.
    expect([res.body.stripe.grossUsd, res.body.stripe.topups]).toEqual(['10.00', 1]);
    expect([res.body.ledger.grossUsd, res.body.ledger.topups]).toEqual(['10.00', 2]);
  });

  it("a top-up Stripe took at another amount than its price is missing in the ledger at Stripe's amount", async () => {
    await enrolled(t, 'td-odd');
    const [attempt] = await new TopupsRepository(t.database.db).list('td-odd', 1);
    const answer = await new TopupsGateway(stripeOf(t)).charge(attempt);
    if (answer.kind !== 'succeeded') throw new Error(answer.kind);
    Object.assign(t.double.paymentIntent(answer.paymentIntentId), { amount: 999, amount_received: 999 });
    const [event] = t.double.takeEvents((e) => e.data.object.id === answer.paymentIntentId);
    Object.assign(event.data.object, { amount: 999, amount_received: 999 });
    await t.deliver(event).expect(200);
    expect((await topupsOf(t, 'td-odd'))[0]).toMatchObject({ status: 'failed', failure_code: 'amount_mismatch' });

    const res = await report(t);
    expect(res.body.discrepancies.filter((d: { stripeId: string }) => d.stripeId === answer.paymentIntentId)).toEqual([
      expect.objectContaining({ kind: 'missing_in_ledger', object: 'payment_intent', stripeAmount: '9.99' }),
    ]);
  });
});
