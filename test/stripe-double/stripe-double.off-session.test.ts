import Stripe from 'stripe';
import { createStripe } from '../../src/platform/stripe';
import { rejection, savedCard, topUp } from './saved-card';
import { StripeDouble } from './stripe-double.server';

let double: StripeDouble;
let stripe: Stripe;
beforeAll(async () => {
  double = new StripeDouble();
  stripe = createStripe({ STRIPE_SECRET_KEY: double.secretKey, STRIPE_API_BASE_URL: await double.start() })!;
});
afterAll(() => double.stop());
beforeEach(() => double.takeEvents());

describe('the Stripe double charges saved cards off-session, through the real SDK', () => {
  it('charges a saved card off-session: succeeded with a charge, and the payment_intent.succeeded event', async () => {
    const s = await savedCard(stripe, double, 'visa');
    const pi = await stripe.paymentIntents.create(topUp(s), { idempotencyKey: 'topup-visa' });
    expect(pi).toMatchObject({ status: 'succeeded', amount_received: 1500, customer: s.customer });
    const charge = await stripe.charges.retrieve(pi.latest_charge as string);
    expect(charge).toMatchObject({ status: 'succeeded', paid: true, payment_intent: pi.id, amount: 1500 });
    const [event] = double.takeEvents('payment_intent.succeeded');
    expect(event).toMatchObject({
      data: { object: { id: pi.id, metadata: { topUpId: 't-1500' } } },
      request: { idempotency_key: 'topup-visa' },
    });
    expect(double.takeEvents()).toEqual([]);
  });

  it.each([
    ['chargeDeclined', 'card_declined', 'generic_decline'],
    ['expiredCard', 'expired_card', 'expired_card'],
    ['authenticationRequired', 'authentication_required', 'authentication_required'],
  ] as const)(
    'answers a %s card with Stripe 402 card_error %s and keeps the failed PaymentIntent',
    async (card, code, decline) => {
      const s = await savedCard(stripe, double, card);
      const e = await rejection(stripe.paymentIntents.create(topUp(s)));
      expect(e).toBeInstanceOf(Stripe.errors.StripeCardError);
      expect(e).toMatchObject({ statusCode: 402, type: 'StripeCardError', code, decline_code: decline });
      const pi = (e.raw as { payment_intent: Stripe.PaymentIntent }).payment_intent;
      expect(e.payment_intent).toEqual(pi);
      expect(e.payment_method).toMatchObject({ id: s.paymentMethod, customer: s.customer });
      expect(pi).toMatchObject({ status: 'requires_payment_method', payment_method: null, customer: s.customer });
      expect(pi.last_payment_error).toMatchObject({
        type: 'card_error',
        code,
        payment_method: { id: s.paymentMethod },
      });
      expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('requires_payment_method');
      expect((await stripe.charges.retrieve(pi.latest_charge as string)).status).toBe('failed');
      expect(double.takeEvents().map((x) => [x.type, x.data.object.id])).toEqual([
        ['payment_intent.payment_failed', pi.id],
      ]);
    },
  );

  it('leaves a PaymentIntent processing until the bank answers, then sends the outcome event', async () => {
    const s = await savedCard(stripe, double, 'processing');
    const pi = await stripe.paymentIntents.create(topUp(s, 2000));
    expect(pi.status).toBe('processing');
    expect(double.takeEvents().map((x) => x.type)).toEqual(['payment_intent.processing']);
    expect(() => double.refund(pi.id, 100)).toThrow(/pending/);
    expect(double.settlePaymentIntent(pi.id, 'succeeded')).toMatchObject({
      type: 'payment_intent.succeeded',
      data: { object: { id: pi.id, status: 'succeeded', amount_received: 2000 } },
    });
    expect((await stripe.charges.retrieve(pi.latest_charge as string)).status).toBe('succeeded');

    const failing = await stripe.paymentIntents.create(topUp(s, 2100));
    expect(double.settlePaymentIntent(failing.id, 'failed')).toMatchObject({
      type: 'payment_intent.payment_failed',
      data: { object: { status: 'requires_payment_method', last_payment_error: { code: 'card_declined' } } },
    });
  });

  it('when a top-up is sent twice with one Idempotency-Key, it charges once and replays the answer', async () => {
    const ok = await savedCard(stripe, double, 'visa');
    const a = await stripe.paymentIntents.create(topUp(ok), { idempotencyKey: 'same-topup' });
    const b = await stripe.paymentIntents.create(topUp(ok), { idempotencyKey: 'same-topup' });
    const { lastResponse: _a, ...first } = a;
    const { lastResponse: _b, ...second } = b;
    expect(second).toEqual(first);
    expect(b.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(double.paymentIntentsFor(ok.customer)).toHaveLength(1);
    expect(double.takeEvents()).toHaveLength(1);

    const declined = await savedCard(stripe, double, 'chargeDeclined');
    const once = await rejection(stripe.paymentIntents.create(topUp(declined), { idempotencyKey: 'declined' }));
    const again = await rejection(stripe.paymentIntents.create(topUp(declined), { idempotencyKey: 'declined' }));
    expect(again).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(again.payment_intent).toEqual(once.payment_intent);
    expect(again.headers?.['idempotent-replayed']).toBe('true');
    expect(double.paymentIntentsFor(declined.customer)).toHaveLength(1);
  });

  it('creates nothing on a simulated outage, and once when the SDK retries with the same key', async () => {
    const s = await savedCard(stripe, double, 'visa');
    double.failNext(3); // the SDK tries three times
    await expect(stripe.paymentIntents.create(topUp(s))).rejects.toMatchObject({ statusCode: 500 });
    expect(double.paymentIntentsFor(s.customer)).toHaveLength(0);
    double.failNext(1);
    await stripe.paymentIntents.create(topUp(s));
    expect(double.paymentIntentsFor(s.customer)).toHaveLength(1);
  });

  it('answers 409 to a second request while the first with the same key is still running', async () => {
    const s = await savedCard(stripe, double, 'visa');
    const once = new Stripe(double.secretKey, {
      host: '127.0.0.1',
      port: new URL(double.url).port,
      protocol: 'http',
      maxNetworkRetries: 0,
    });
    const held = double.holdNext(/^\/v1\/payment_intents$/);
    const first = once.paymentIntents.create(topUp(s), { idempotencyKey: 'slow' });
    await held.reached;
    const second = await rejection(once.paymentIntents.create(topUp(s), { idempotencyKey: 'slow' }));
    expect(second).toMatchObject({ statusCode: 409, rawType: 'idempotency_error' });
    held.release();
    const pi = await first;
    expect((await once.paymentIntents.create(topUp(s), { idempotencyKey: 'slow' })).id).toBe(pi.id);
    expect(double.paymentIntentsFor(s.customer)).toHaveLength(1);
  });

  it('refuses a card that is missing or saved on another customer, as Stripe does', async () => {
    const mine = await savedCard(stripe, double, 'visa');
    const theirs = await savedCard(stripe, double, 'mastercard');
    await expect(
      stripe.paymentIntents.create({ ...topUp(mine), payment_method: 'pm_test_nothing' }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'payment_method' });
    await expect(
      stripe.paymentIntents.create({ ...topUp(mine), payment_method: theirs.paymentMethod }),
    ).rejects.toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError', param: 'payment_method' });
    expect(double.paymentIntentsFor(mine.customer)).toHaveLength(0);
  });

  it('refunds or disputes an off-session charge by PaymentIntent id; a saved card can start declining', async () => {
    const s = await savedCard(stripe, double, 'visa');
    const paid = await stripe.paymentIntents.create(topUp(s, 1200));
    const refunded = double.refund(paid.id, 200);
    expect(refunded).toMatchObject({ type: 'charge.refunded', data: { object: { amount_refunded: 200 } } });
    expect((await stripe.refunds.list({ payment_intent: paid.id })).data).toHaveLength(1);
    expect(double.openDispute(paid.id).data.object).toMatchObject({ payment_intent: paid.id, amount: 1200 });

    double.setCardBehaviour(s.paymentMethod, 'expiredCard');
    const e = await rejection(stripe.paymentIntents.create(topUp(s, 1300)));
    expect(e).toMatchObject({ statusCode: 402, code: 'expired_card' });
  });

  it('expands references on retrieve, and refuses a property that cannot be expanded', async () => {
    const s = await savedCard(stripe, double, 'visa');
    const pi = await stripe.paymentIntents.create(topUp(s));
    const full = await stripe.paymentIntents.retrieve(pi.id, { expand: ['payment_method', 'latest_charge'] });
    expect(full).toMatchObject({ payment_method: { id: s.paymentMethod }, latest_charge: { id: pi.latest_charge } });
    await expect(stripe.paymentIntents.retrieve(pi.id, { expand: ['nothing'] })).rejects.toMatchObject({
      statusCode: 400,
    });
  });
});
