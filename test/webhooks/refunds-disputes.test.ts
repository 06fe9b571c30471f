import { balanceOf, reconcile } from '../helpers/wallets';
import { createStripeTestApp, type StripeTestApp } from '../helpers/stripe';
import { counterValue, ledgerOf, purchaseRow } from '../helpers/stripe-assertions';

let t: StripeTestApp;
beforeAll(async () => {
  t = await createStripeTestApp();
});
afterAll(() => t.close());

/** A purchase paid at Stripe and credited. */
async function paid(userId: string, packageId: string) {
  const p = await t.purchase(userId, packageId);
  await t.deliver(t.double.completeSession(p.stripeCheckoutSessionId)).expect(200);
  return p;
}

describe('charge.refunded', () => {
  it('two partial refunds then a full one take back 1/4, 1/4, 1/2 of the credits, once each if resent', async () => {
    const { purchaseId, stripeCheckoutSessionId } = await paid('refunded', 'basic'); // $10: 10,000 + 500 bonus
    expect((await balanceOf(t, 'refunded')).balance).toBe('10500');
    const before = await counterValue(t.metrics.creditsRefunded);

    const quarter1 = t.double.refund(stripeCheckoutSessionId, 250);
    await t.deliver(quarter1).expect(200);
    await t.deliver(quarter1).expect(200);
    expect((await balanceOf(t, 'refunded')).balance).toBe('7875');
    expect(await purchaseRow(t, purchaseId)).toMatchObject({
      status: 'partially_refunded',
      amount_refunded_cents: 250,
    });

    const quarter2 = t.double.refund(stripeCheckoutSessionId, 250);
    await Promise.all([t.deliver(quarter2), t.deliver(quarter2), t.deliver(quarter1)]);
    expect((await balanceOf(t, 'refunded')).balance).toBe('5250');

    const half = t.double.refund(stripeCheckoutSessionId, 500);
    await t.deliver(half).expect(200);
    await t.deliver(half).expect(200);
    await t.deliver(quarter2).expect(200);
    expect((await balanceOf(t, 'refunded')).balance).toBe('0');
    expect(await purchaseRow(t, purchaseId)).toMatchObject({
      status: 'refunded',
      amount_refunded_cents: 1000,
      credits_refunded: '10500.000000000000000000',
    });

    const refunds = (await ledgerOf(t, 'refunded')).filter((r) => r.type === 'refund');
    expect(refunds.map((r) => r.amount)).toEqual([
      '-2625.000000000000000000',
      '-2625.000000000000000000',
      '-5250.000000000000000000',
    ]);
    expect(refunds.map((r) => r.reference)).toEqual(
      [quarter1, quarter2, half].map((e) => e.data.object.refunds.data[0].id),
    );
    expect((await counterValue(t.metrics.creditsRefunded)) - before).toBe(10500);
  });

  it('a later refund before an earlier one takes the cumulative share once; the earlier changes nothing', async () => {
    const { stripeCheckoutSessionId } = await paid('out-of-order', 'starter');
    const first = t.double.refund(stripeCheckoutSessionId, 100);
    const second = t.double.refund(stripeCheckoutSessionId, 200);
    await t.deliver(second).expect(200); // cumulative 300 of 500 cents
    expect((await balanceOf(t, 'out-of-order')).balance).toBe('2000');
    await t.deliver(first).expect(200);
    expect((await balanceOf(t, 'out-of-order')).balance).toBe('2000');
  });

  it('takes back exactly the credits of a one-cent refund, and the rest with the final refund', async () => {
    const { stripeCheckoutSessionId } = await paid('thirds', 'standard'); // 27,500 credits for 2,500 cents
    await t.deliver(t.double.refund(stripeCheckoutSessionId, 1)).expect(200);
    expect((await balanceOf(t, 'thirds')).balance).toBe('27489');
    await t.deliver(t.double.refund(stripeCheckoutSessionId, 2499)).expect(200);
    expect((await balanceOf(t, 'thirds')).balance).toBe('0');
  });

  it('a refund of spent credits drives the balance negative; usage is then refused (402) until topped up', async () => {
    const { stripeCheckoutSessionId } = await paid('spender', 'starter');
    const spend = await reconcile(t, {
      userId: 'spender',
      requestId: 'spend-1',
      model: 'gpt-4o',
      inputTokens: 1000,
      outputTokens: 500,
    });
    expect(spend.status).toBe(201);
    expect(spend.body.balance).toBe('4950');
    await t.deliver(t.double.refund(stripeCheckoutSessionId, 500)).expect(200);
    expect((await balanceOf(t, 'spender')).balance).toBe('-50');
    const refused = await reconcile(t, {
      userId: 'spender',
      requestId: 'spend-2',
      model: 'gpt-4o',
      inputTokens: 10,
      outputTokens: 0,
    });
    expect(refused.status).toBe(402);
    expect(refused.body.availableCredits).toBe('-50');
    expect((await balanceOf(t, 'spender')).balance).toBe('-50');
  });
});

describe('charge.dispute.*', () => {
  it('a dispute takes back the disputed share, and closing it as won gives exactly that back, once each', async () => {
    const { purchaseId, stripeCheckoutSessionId } = await paid('disputed', 'pro'); // $50: 57,500 credits
    const disputedBefore = await counterValue(t.metrics.creditsDisputed);
    const opened = t.double.openDispute(stripeCheckoutSessionId, { amount: 2000 });
    await t.deliver(opened).expect(200);
    await t.deliver(opened).expect(200);
    expect((await balanceOf(t, 'disputed')).balance).toBe('34500');
    expect(await purchaseRow(t, purchaseId)).toMatchObject({
      status: 'disputed',
      credits_disputed: '23000.000000000000000000',
    });

    const won = t.double.closeDispute(opened.data.object.id, 'won');
    await t.deliver(won).expect(200);
    await t
      .deliver(
        t.double.event(
          'charge.dispute.closed',
          t.double.disputes.find((d) => d.id === opened.data.object.id)!,
        ),
      )
      .expect(200);
    expect((await balanceOf(t, 'disputed')).balance).toBe('57500');
    expect(await purchaseRow(t, purchaseId)).toMatchObject({
      status: 'paid',
      credits_disputed: '0.000000000000000000',
    });
    const rows = (await ledgerOf(t, 'disputed')).filter((r) => r.type.startsWith('dispute'));
    expect(rows.map((r) => [r.type, r.amount, r.reference])).toEqual([
      ['dispute', '-23000.000000000000000000', opened.data.object.id],
      ['dispute_reversal', '23000.000000000000000000', opened.data.object.id],
    ]);
    expect((await counterValue(t.metrics.creditsDisputed)) - disputedBefore).toBe(23000);
  });

  it('a lost dispute keeps the credits taken back', async () => {
    const { purchaseId, stripeCheckoutSessionId } = await paid('lost', 'starter');
    const opened = t.double.openDispute(stripeCheckoutSessionId);
    await t.deliver(opened).expect(200);
    await t.deliver(t.double.closeDispute(opened.data.object.id, 'lost')).expect(200);
    expect((await balanceOf(t, 'lost')).balance).toBe('0');
    expect((await purchaseRow(t, purchaseId)).status).toBe('disputed');
  });

  it('a won close arriving before the dispute opened nets to zero and the late open takes nothing', async () => {
    const { stripeCheckoutSessionId } = await paid('won-first', 'starter');
    const opened = t.double.openDispute(stripeCheckoutSessionId);
    const won = t.double.closeDispute(opened.data.object.id, 'won');
    await t.deliver(won).expect(200);
    await t.deliver(opened).expect(200);
    expect((await balanceOf(t, 'won-first')).balance).toBe('5000');
    expect((await ledgerOf(t, 'won-first')).map((r) => r.type)).toEqual(['purchase', 'dispute', 'dispute_reversal']);
  });

  it('a refund before its purchase is credited is refused, so Stripe resends it; then takes credits back', async () => {
    const { purchaseId, stripeCheckoutSessionId } = await t.purchase('refund-first', 'starter'); // $5: 5,000 credits
    const completed = t.double.completeSession(stripeCheckoutSessionId); // paid at Stripe; this delivery is delayed
    const refund = t.double.refund(stripeCheckoutSessionId, 500);

    const early = await t.deliver(refund);
    expect([early.status, early.body.code]).toEqual([500, 'webhook_processing_failed']);
    expect((await balanceOf(t, 'refund-first')).balance).toBe('0');
    expect(await purchaseRow(t, purchaseId)).toMatchObject({ status: 'pending', amount_refunded_cents: 0 });

    await t.deliver(completed).expect(200);
    expect((await balanceOf(t, 'refund-first')).balance).toBe('5000');
    const retried = await t.deliver(refund); // Stripe's retry
    expect([retried.status, retried.body.outcome]).toEqual([200, 'processed']);
    expect((await balanceOf(t, 'refund-first')).balance).toBe('0');
    expect((await ledgerOf(t, 'refund-first')).map((r) => r.type)).toEqual(['purchase', 'refund']);
  });

  it('a refund whose purchase is credited while Stripe is asked is still refused, then applied on resend', async () => {
    const { stripeCheckoutSessionId } = await t.purchase('refund-race', 'starter');
    const completed = t.double.completeSession(stripeCheckoutSessionId);
    const refund = t.double.refund(stripeCheckoutSessionId, 500);
    const lookup = t.double.holdNext(/^\/v1\/payment_intents\//);
    const early = t.deliver(refund).then((r) => r);
    await lookup.reached; // the refund's transaction is waiting for Stripe
    await t.deliver(completed).expect(200); // the credit commits meanwhile
    lookup.release();
    expect((await early).status).toBe(500);
    expect((await t.deliver(refund)).body.outcome).toBe('processed');
    expect((await balanceOf(t, 'refund-race')).balance).toBe('0');
    expect((await ledgerOf(t, 'refund-race')).map((r) => r.type)).toEqual(['purchase', 'refund']);
  });

  it('a dispute before its purchase is credited is refused the same way, then takes back its share once', async () => {
    const { stripeCheckoutSessionId } = await t.purchase('dispute-first', 'starter');
    const completed = t.double.completeSession(stripeCheckoutSessionId);
    const opened = t.double.openDispute(stripeCheckoutSessionId);
    expect((await t.deliver(opened)).status).toBe(500);
    await t.deliver(completed).expect(200);
    await t.deliver(opened).expect(200);
    await t.deliver(opened).expect(200);
    expect((await balanceOf(t, 'dispute-first')).balance).toBe('0');
    expect((await ledgerOf(t, 'dispute-first')).map((r) => r.type)).toEqual(['purchase', 'dispute']);
  });

  it.each([401, 403])(
    'when Stripe refuses the lookup of an unmatched refund (%i), the event is recorded as failed, ' +
      'counted for the alert and acknowledged; a resend once the key is fixed applies it',
    async (status) => {
      const user = `refund-refused-${status}`;
      const { purchaseId, stripeCheckoutSessionId } = await t.purchase(user, 'starter');
      const completed = t.double.completeSession(stripeCheckoutSessionId);
      const refund = t.double.refund(stripeCheckoutSessionId, 500);
      const refusedBefore = await counterValue(t.metrics.webhookLookupsRefused, { status: String(status) });

      t.double.failNext(1, status);
      const refused = await t.deliver(refund);
      expect([refused.status, refused.body.outcome]).toEqual([200, 'failed']); // Stripe stops retrying
      expect(await counterValue(t.metrics.webhookLookupsRefused, { status: String(status) })).toBe(refusedBefore + 1);
      const [recorded] = await t.database.sql<{ outcome: string; error: string }>(
        `SELECT outcome, error FROM stripe_events WHERE id = $1`,
        [refund.id],
      );
      expect(recorded.outcome).toBe('failed');
      expect(recorded.error).toContain('STRIPE_SECRET_KEY');
      expect(await purchaseRow(t, purchaseId)).toMatchObject({ status: 'pending', amount_refunded_cents: 0 });

      await t.deliver(completed).expect(200);
      const resent = await t.deliver(refund); // resent from Stripe's dashboard once the key works
      expect([resent.status, resent.body.outcome]).toEqual([200, 'processed']);
      expect((await balanceOf(t, user)).balance).toBe('0');
      expect((await ledgerOf(t, user)).map((r) => r.type)).toEqual(['purchase', 'refund']);
    },
  );

  it('refund and dispute events for a charge that is not a purchase are acknowledged and ignored', async () => {
    const event = t.double.event('charge.refunded', {
      id: 'ch_test_foreign',
      object: 'charge',
      created: 1,
      amount: 500,
      amount_refunded: 500,
      payment_intent: 'pi_test_foreign',
    });
    const res = await t.deliver(event);
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('ignored');
  });
});
