import request from 'supertest';
import { createStripe } from '../../src/platform/stripe';
import { revenueReport } from '../../src/modules/reports/revenue.factory';
import { WalletRepository } from '../../src/modules/wallet/wallet.repository';
import { createStripeTestApp, type StripeTestApp } from '../helpers/stripe';
import { createTestApp } from '../helpers/test-app';

/** A purchase paid at Stripe and credited through the webhook. */
async function paid(t: StripeTestApp, userId: string, packageId: string) {
  const p = await t.purchase(userId, packageId);
  await t.deliver(t.double.completeSession(p.stripeCheckoutSessionId)).expect(200);
  return { purchaseId: p.purchaseId, sessionId: p.stripeCheckoutSessionId };
}

const report = (t: StripeTestApp, query: Record<string, string> = {}, accept = 'application/json') =>
  request(t.app)
    .get('/v1/admin/reports/revenue')
    .query(query)
    .set('Authorization', `Bearer ${t.admin}`)
    .set('Accept', accept);

describe('GET /v1/admin/reports/revenue, when Stripe and the ledger agree', () => {
  let t: StripeTestApp;
  beforeAll(async () => {
    t = await createStripeTestApp();
    const basic = await paid(t, 'rev-1', 'basic'); // $10: 10,000 + 500 bonus
    const standard = await paid(t, 'rev-2', 'standard'); // $25: 25,000 + 2,500
    const starter = await paid(t, 'rev-3', 'starter'); // $5: 5,000
    await paid(t, 'rev-4', 'pro'); // $50: 50,000 + 7,500
    await t.purchase('rev-5', 'basic'); // abandoned at Checkout: unpaid, never credited
    const expired = await t.purchase('rev-6', 'starter');
    await t.deliver(t.double.expireSession(expired.stripeCheckoutSessionId)).expect(200);

    await t.deliver(t.double.refund(basic.sessionId, 250)).expect(200);
    await t.deliver(t.double.refund(basic.sessionId, 150)).expect(200);
    await t.deliver(t.double.openDispute(standard.sessionId)).expect(200);
    const won = t.double.openDispute(starter.sessionId);
    await t.deliver(won).expect(200);
    await t.deliver(t.double.closeDispute(won.data.object.id, 'won')).expect(200);
  });
  afterAll(() => t.close());

  it('reconciles purchases, partial refunds and disputes to zero discrepancies, same totals both sides', async () => {
    const res = await report(t);
    expect(res.status).toBe(200);
    expect(res.body.discrepancies).toEqual([]);
    expect(res.body).toMatchObject({ ok: true, discrepancyCount: 0 });
    const usd = {
      grossUsd: '90.00',
      refundedUsd: '4.00',
      disputedUsd: '25.00',
      netUsd: '61.00',
      refunds: 2,
      disputes: 2,
    };
    expect(res.body.stripe).toEqual({ ...usd, paidSessions: 4, topups: 0 });
    // 400 of 1000 cents refunded takes back 40% of 10,500;
    // the open dispute all 27,500; the won one gave its 5,000 back.
    expect(res.body.ledger).toEqual({
      ...usd,
      purchases: 4,
      topups: 0,
      creditsPurchased: '90000',
      creditsBonus: '10500',
      creditsTakenBack: '31700',
    });
  });

  it('answers CSV with the totals side by side', async () => {
    const res = await report(t, {}, 'text/csv');
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    const lines = res.text.split('\r\n');
    expect(lines[0]).toBe(
      'section,kind,object,stripeId,purchaseId,ledgerTransactionId,unit,stripeAmount,ledgerAmount,detail',
    );
    expect(lines).toContain('total,gross,,,,,usd,90.00,90.00,');
    expect(lines).toContain('total,credits_taken_back,,,,,credits,,31700,');
  });

  it('a session created before the period but credited in it is confirmed with Stripe, not reported', async () => {
    const from = new Date(Date.now() - 60_000);
    const early = await t.purchase('rev-early', 'starter');
    t.double.session(early.stripeCheckoutSessionId).created = Math.floor(from.getTime() / 1000) - 3600;
    await t.deliver(t.double.completeSession(early.stripeCheckoutSessionId)).expect(200);
    const res = await report(t, { from: from.toISOString() });
    expect(res.body.discrepancies).toEqual([]);
    expect(res.body.ledger.purchases).toBe(res.body.stripe.paidSessions + 1);
    expect(t.double.requestsTo('GET', `/v1/checkout/sessions/${early.stripeCheckoutSessionId}`).length).toBeGreaterThan(
      0,
    );
  });

  it('pages through every Stripe list and the ledger (page size 2): each object is matched once', async () => {
    const before = t.double.requests.length;
    const stripe = createStripe({ STRIPE_SECRET_KEY: t.double.secretKey, STRIPE_API_BASE_URL: t.double.url });
    const result = await revenueReport(t.database.db, stripe, 2).revenue({
      from: new Date(Date.now() - 2 * 3600_000),
      to: new Date(Date.now() + 1000),
    });
    expect(result.discrepancies).toEqual([]);
    expect(result.stripe.paidSessions).toBe(5);
    expect(result.ledger.purchases).toBe(5);
    const lists = t.double.requests
      .slice(before)
      .filter((r) => r.method === 'GET' && r.path === '/v1/checkout/sessions');
    expect(lists.length).toBeGreaterThanOrEqual(4); // 7 sessions, 2 a page
    expect(lists.filter((r) => typeof r.query.starting_after === 'string').length).toBe(lists.length - 1);
    expect(lists.every((r) => r.query.limit === '2')).toBe(true);
  });

  it('requires billing:admin and a valid period', async () => {
    await request(t.app)
      .get('/v1/admin/reports/revenue')
      .set('Authorization', `Bearer ${t.token('someone')}`)
      .expect(403);
    const bad = await report(t, { from: '2026-11-02T00:00:00Z', to: '2026-11-01T00:00:00Z' });
    expect(bad.status).toBe(400);
  });
});

it('without a Stripe key the revenue report answers 503 stripe_not_configured', async () => {
  const plain = await createTestApp();
  try {
    const res = await request(plain.app).get('/v1/admin/reports/revenue').set('Authorization', `Bearer ${plain.admin}`);
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('stripe_not_configured');
  } finally {
    await plain.close();
  }
});

describe('GET /v1/admin/reports/revenue, when they disagree', () => {
  let t: StripeTestApp;
  beforeAll(async () => {
    t = await createStripeTestApp();
  });
  afterAll(() => t.close());

  const find = (body: { discrepancies: Array<Record<string, string>> }, purchaseId: string) =>
    body.discrepancies.filter((d) => d.purchaseId === purchaseId);

  it('reports each disagreement with its kind, both ids and both amounts', async () => {
    // Paid at Stripe, but the webhook never arrived.
    const lost = await t.purchase('gap-lost', 'basic');
    t.double.completeSession(lost.stripeCheckoutSessionId);
    // Credited in the ledger (straight through the wallet function) for a session still unpaid at Stripe.
    const forged = await t.purchase('gap-forged', 'starter');
    const posted = await new WalletRepository(t.database.db, t.metrics).post({
      userId: 'gap-forged',
      type: 'purchase',
      businessKey: `stripe:purchase:${forged.purchaseId}`,
      counterAccount: 'stripe_clearing',
      amount: '5000',
      allowNegative: false,
      correlationId: null,
      reference: forged.stripeCheckoutSessionId,
    });
    const [forgedTx] = await t.database.sql<{ id: string }>(
      `SELECT id::text FROM ledger_transactions WHERE business_key = $1`,
      [`stripe:purchase:${forged.purchaseId}`],
    );
    expect(posted.outcome).toBe('posted');
    // Stripe charged $4 for a $5 package.
    const short = await t.purchase('gap-short', 'starter');
    await t.deliver(t.double.completeSession(short.stripeCheckoutSessionId, { amountTotal: 400 })).expect(200);
    // Refunded at Stripe, the refund event lost.
    const refunded = await paid(t, 'gap-refund', 'starter');
    const refund = t.double.refund(refunded.sessionId, 100);

    const res = await report(t);
    expect(res.body.ok).toBe(false);
    expect(res.body.discrepancyCount).toBe(4);
    expect(find(res.body, lost.purchaseId)).toEqual([
      expect.objectContaining({
        kind: 'missing_in_ledger',
        object: 'checkout_session',
        stripeId: lost.stripeCheckoutSessionId,
        ledgerTransactionId: null,
        unit: 'usd',
        stripeAmount: '10.00',
        ledgerAmount: '0.00',
      }),
    ]);
    expect(find(res.body, forged.purchaseId)).toEqual([
      expect.objectContaining({
        kind: 'missing_in_stripe',
        object: 'checkout_session',
        stripeId: forged.stripeCheckoutSessionId,
        ledgerTransactionId: forgedTx.id,
        stripeAmount: '0.00',
        ledgerAmount: '5.00',
      }),
    ]);
    expect(find(res.body, short.purchaseId)).toEqual([
      expect.objectContaining({
        kind: 'amount_mismatch',
        object: 'checkout_session',
        stripeId: short.stripeCheckoutSessionId,
        unit: 'usd',
        stripeAmount: '4.00',
        ledgerAmount: '5.00',
      }),
    ]);
    expect(find(res.body, refunded.purchaseId)).toEqual([
      expect.objectContaining({
        kind: 'missing_in_ledger',
        object: 'refund',
        stripeId: refund.data.object.refunds.data[0].id,
        unit: 'usd',
        stripeAmount: '1.00',
        ledgerAmount: '0.00',
      }),
    ]);
  });

  it('reports credits posted that differ from the package, naming the ledger transaction', async () => {
    const p = await paid(t, 'gap-credits', 'starter');
    const [tx] = await t.database.sql<{ id: string; account: string }>(
      `SELECT t.id::text, po.account_id::text AS account FROM ledger_transactions t JOIN postings po
       ON po.transaction_id = t.id
       JOIN accounts a ON a.id = po.account_id AND a.kind = 'wallet' WHERE t.business_key = $1`,
      [`stripe:purchase:${p.purchaseId}`],
    );
    // A bad manual fix written behind the service, with the ledger's triggers off.
    const client = await t.database.db.pool.connect();
    try {
      await client.query(`SET session_replication_role = replica`);
      await client.query(`UPDATE postings SET amount = 4999 WHERE transaction_id = $1 AND account_id = $2`, [
        tx.id,
        tx.account,
      ]);
    } finally {
      await client.query(`SET session_replication_role = origin`);
      client.release();
    }
    const res = await report(t);
    expect(find(res.body, p.purchaseId)).toEqual([
      expect.objectContaining({
        kind: 'amount_mismatch',
        stripeId: p.sessionId,
        ledgerTransactionId: tx.id,
        unit: 'credits',
        stripeAmount: '5000',
        ledgerAmount: '4999',
      }),
    ]);
  });

  it('a dispute whose event never arrived is missing in the ledger; a won one without its reversal too', async () => {
    const open = await paid(t, 'gap-dispute', 'starter');
    const dispute = t.double.openDispute(open.sessionId, { amount: 200 });
    const wonPurchase = await paid(t, 'gap-won', 'starter');
    const won = t.double.openDispute(wonPurchase.sessionId);
    await t.deliver(won).expect(200);
    t.double.closeDispute(won.data.object.id, 'won');
    const [taken] = await t.database.sql<{ id: string }>(
      `SELECT id::text FROM ledger_transactions WHERE business_key = $1`,
      [`stripe:dispute:${won.data.object.id}`],
    );

    const res = await report(t);
    expect(find(res.body, open.purchaseId)).toEqual([
      expect.objectContaining({
        kind: 'missing_in_ledger',
        object: 'dispute',
        stripeId: dispute.data.object.id,
        unit: 'usd',
        stripeAmount: '2.00',
        ledgerAmount: '0.00',
      }),
    ]);
    expect(find(res.body, wonPurchase.purchaseId)).toEqual([
      expect.objectContaining({
        kind: 'missing_in_ledger',
        object: 'dispute',
        stripeId: won.data.object.id,
        ledgerTransactionId: taken.id,
        unit: 'credits',
        stripeAmount: '5000',
        ledgerAmount: '0',
      }),
    ]);
  });

  it('credits taken back for a refund or a dispute Stripe does not know are missing in Stripe', async () => {
    const p = await paid(t, 'gap-phantom', 'basic');
    const wallets = new WalletRepository(t.database.db, t.metrics);
    const take = (type: 'refund' | 'dispute', businessKey: string, counterAccount: 'refunds' | 'disputes') =>
      wallets.post({
        userId: 'gap-phantom',
        type,
        businessKey,
        counterAccount,
        amount: '-1050',
        allowNegative: true,
        correlationId: null,
        reference: null,
      });
    await take('refund', `stripe:refund:${p.purchaseId}:100`, 'refunds');
    await t.database.sql(`UPDATE purchases SET amount_refunded_cents = 100 WHERE id = $1`, [p.purchaseId]);
    await take('dispute', 'stripe:dispute:du_test_phantom', 'disputes');
    const ids = await t.database.sql<{ id: string; business_key: string }>(
      `SELECT id::text, business_key FROM ledger_transactions WHERE business_key IN ($1, $2)`,
      [`stripe:refund:${p.purchaseId}:100`, 'stripe:dispute:du_test_phantom'],
    );
    const txOf = (key: string) => ids.find((r) => r.business_key === key)!.id;

    const res = await report(t);
    expect(find(res.body, p.purchaseId)).toEqual([
      expect.objectContaining({
        kind: 'missing_in_stripe',
        object: 'refund',
        ledgerTransactionId: txOf(`stripe:refund:${p.purchaseId}:100`),
        stripeAmount: '0.00',
        ledgerAmount: '1.00',
      }),
    ]);
    expect(res.body.discrepancies).toContainEqual(
      expect.objectContaining({
        kind: 'missing_in_stripe',
        object: 'dispute',
        stripeId: 'du_test_phantom',
        ledgerTransactionId: txOf('stripe:dispute:du_test_phantom'),
      }),
    );
  });
});
