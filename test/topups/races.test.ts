import request from 'supertest';
import { createStripeTestApp, type StripeTestApp } from '../helpers/stripe';
import { charge50, enrolled as enroll, putAutoTopUp, runWorker, stripeOf, topupsOf } from '../helpers/topups';
import { balanceOf } from '../helpers/wallets';
import { TopupsRepository } from '../../src/modules/topups/topups.repository';
import { TopupsGateway } from '../../src/modules/topups/topups.gateway';

let t: StripeTestApp;
beforeAll(async () => {
  t = await createStripeTestApp({ env: { AUTO_TOPUP_MAX_FAILURES: '3' } });
});
afterAll(() => t.close());
// Each scenario starts with no other user's attempt due, so the worker rounds and failNext() here are its own.
afterEach(async () => {
  jest.restoreAllMocks();
  t.double.takeEvents();
  await t.database.sql(`UPDATE topups SET next_attempt_at = now() + interval '1 day' WHERE status = 'pending'`);
});

const enrolled = (userId: string, card?: Parameters<typeof enroll>[2]) => enroll(t, userId, card);

/** The worker's call reached Stripe (PaymentIntent succeeded) but nothing is recorded yet. */
async function chargedAtStripe(userId: string) {
  await charge50(t, userId, 'r1').expect(201); // 470: below 500, one pending attempt
  const [row] = await new TopupsRepository(t.database.db).list(userId, 1);
  const answer = await new TopupsGateway(stripeOf(t)).charge(row);
  if (answer.kind !== 'succeeded') throw new Error(answer.kind);
  const [succeeded] = t.double.takeEvents(
    (e) => e.type === 'payment_intent.succeeded' && e.data.object.id === answer.paymentIntentId,
  ); // delayed delivery
  return { topupId: row.id, paymentIntentId: answer.paymentIntentId, succeeded };
}

describe('auto top-up when events race, Stripe fails or the user changes course', () => {
  it('a full refund racing the top-up credit (committed during the refund lookup) takes the credits back', async () => {
    await enrolled('race');
    const { paymentIntentId } = await chargedAtStripe('race');
    const refund = t.double.refund(paymentIntentId, 500); // the whole $5 back
    // The refund finds no purchase yet and asks Stripe whose PaymentIntent it is; meanwhile the worker credits.
    const lookup = t.double.holdNext(new RegExp(`^/v1/payment_intents/${paymentIntentId}$`));
    const delivering = t.deliver(refund).then((r) => r);
    await lookup.reached;
    await runWorker(t); // same key: succeeded, credited 5,000, purchase row committed
    expect((await topupsOf(t, 'race')).map((r) => r.status)).toEqual(['succeeded']);
    lookup.release();
    const first = await delivering;
    if (first.status !== 200) await t.deliver(refund).expect(200); // Stripe's redelivery
    // Paid $5, refunded $5: the 5,000 credits must be gone again.
    expect((await balanceOf(t, 'race')).balance).toBe('470');
  });

  it('a refund that arrives while the attempt is failed but Stripe took the money waits for the credit', async () => {
    await enrolled('late');
    const { topupId, paymentIntentId, succeeded } = await chargedAtStripe('late');
    // Stripe stays unreachable for the worker until the give-up (23 h): the attempt is failed, stripe_unavailable.
    await t.database.sql(`UPDATE topups SET created_at = now() - interval '24 hours' WHERE id = $1`, [topupId]);
    t.double.failNext(2);
    await runWorker(t);
    expect((await topupsOf(t, 'late')).map((r) => [r.status, r.failure_code])).toEqual([
      ['failed', 'stripe_unavailable'],
    ]);
    const refund = t.double.refund(paymentIntentId, 500);
    await t.deliver(refund).expect(500); // the money arrived at Stripe: the refund waits for the credit
    await t.deliver(succeeded).expect(200); // Stripe's delayed event for the payment credits it
    await t.deliver(refund).expect(200); // Stripe's redelivery takes it back
    expect((await balanceOf(t, 'late')).balance).toBe('470'); // refunded in full: nothing to keep
  });

  it('a user can always turn auto top-up off, even when the stored package left the catalog', async () => {
    await enrolled('legacy');
    // A release retired the package this user chose (settings copy its price and credits).
    await t.database.sql(`UPDATE billing_settings SET auto_topup_package_id = 'starter-2025' WHERE user_id = $1`, [
      'legacy',
    ]);
    const res = await putAutoTopUp(t, 'legacy', { enabled: false });
    expect([res.status, res.body.autoTopUp?.status]).toEqual([200, 'off']);
  });

  it('after the user turns auto top-up off, an attempt waiting for a retry creates no charge', async () => {
    const { customerId } = await enrolled('quit');
    await charge50(t, 'quit', 'r1').expect(201);
    t.double.failNext(2); // Stripe unreachable for the first call: it never saw the attempt
    await runWorker(t);
    expect(t.double.paymentIntentsFor(customerId)).toHaveLength(0);
    await putAutoTopUp(t, 'quit', { enabled: false }).expect(200);
    await t.database.sql(`UPDATE topups SET next_attempt_at = now() WHERE user_id = 'quit'`);
    await runWorker(t);
    expect(t.double.paymentIntentsFor(customerId)).toHaveLength(0); // the card is charged after "off"
  });

  it('SCA: when the recovery link cannot be made, the attempt still ends requires_action and pauses', async () => {
    await enrolled('sca', 'authenticationRequired');
    jest.spyOn(t.services.purchases, 'start').mockRejectedValue(new Error('Stripe Checkout unavailable'));
    await charge50(t, 'sca', 'r1').expect(201);
    await runWorker(t);
    const [topup] = await topupsOf(t, 'sca');
    const settings = await request(t.app)
      .get('/v1/billing/settings')
      .set('Authorization', `Bearer ${t.token('sca')}`);
    expect([topup.status, settings.body.autoTopUp.status]).toEqual(['requires_action', 'paused']);
  });

  it('a paid saveCard purchase is credited even when the card lookup is refused', async () => {
    const res = await request(t.app)
      .post('/v1/credits/purchase')
      .set('Authorization', `Bearer ${t.token('saver')}`)
      .send({ packageId: 'starter', saveCard: true })
      .expect(201);
    const completed = t.double.completeSession(res.body.stripeCheckoutSessionId, { card: 'visa' });
    t.double.failNext(1, 403); // a restricted key that cannot read PaymentIntents / PaymentMethods
    const delivered = await t.deliver(completed);
    expect([delivered.status, (await balanceOf(t, 'saver')).balance]).toEqual([200, '5000']);
  });

  it('a processing payment whose Stripe event never comes is looked up and credited', async () => {
    const { customerId } = await enrolled('slow', 'processing');
    await charge50(t, 'slow', 'r1').expect(201);
    await runWorker(t);
    const [topup] = await topupsOf(t, 'slow');
    expect(topup.status).toBe('processing');
    t.double.settlePaymentIntent(topup.payment_intent_id!, 'succeeded'); // its event is lost
    await t.database.sql(`UPDATE topups SET next_attempt_at = now() WHERE id = $1`, [topup.id]);
    await runWorker(t);
    expect((await topupsOf(t, 'slow')).map((r) => r.status)).toEqual(['succeeded']);
    expect((await balanceOf(t, 'slow')).balance).toBe('5470');
    expect(t.double.paymentIntentsFor(customerId)).toHaveLength(1);
  });

  it('a payment of another amount than the price is not credited and ends the attempt', async () => {
    await enrolled('odd');
    const { topupId, succeeded } = await chargedAtStripe('odd');
    const pi = succeeded.data.object as unknown as { amount: number; amount_received: number };
    pi.amount = 499;
    pi.amount_received = 499;
    await t.deliver(succeeded).expect(200);
    expect((await topupsOf(t, 'odd')).map((r) => [r.id, r.status, r.failure_code])).toEqual([
      [topupId, 'failed', 'amount_mismatch'],
    ]);
    expect((await balanceOf(t, 'odd')).balance).toBe('470');
  });
});
