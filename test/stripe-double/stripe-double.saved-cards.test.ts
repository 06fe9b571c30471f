import { createStripe, type Stripe } from '../../src/platform/stripe';
import { savedCard } from './saved-card';
import { StripeDouble } from './stripe-double.server';

let double: StripeDouble;
let stripe: Stripe;
beforeAll(async () => {
  double = new StripeDouble();
  stripe = createStripe({ STRIPE_SECRET_KEY: double.secretKey, STRIPE_API_BASE_URL: await double.start() })!;
});
afterAll(() => double.stop());

describe('the Stripe double saves cards on customers, through the real SDK', () => {
  it('creates a customer once when the same Idempotency-Key is sent twice, and replays the first answer', async () => {
    const params = { email: 'a@example.test', metadata: { userId: 'u-idem' } };
    const a = await stripe.customers.create(params, { idempotencyKey: 'cus-key' });
    const b = await stripe.customers.create(params, { idempotencyKey: 'cus-key' });
    expect(a).toMatchObject({ object: 'customer', livemode: false, metadata: { userId: 'u-idem' } });
    expect(b.id).toBe(a.id);
    expect(b.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(double.customers.filter((c) => c.metadata.userId === 'u-idem')).toHaveLength(1);
    expect((await stripe.customers.retrieve(a.id)).id).toBe(a.id);
  });

  it('saves a card through a setup-mode Checkout: a SetupIntent and a PaymentMethod, expandable', async () => {
    const s = await savedCard(stripe, double, 'mastercard');
    expect(s.session).toMatchObject({
      mode: 'setup',
      customer: s.customer,
      setup_intent: null,
      status: 'open',
      payment_status: 'no_payment_required',
      amount_total: null,
    });
    expect(s.event).toMatchObject({ type: 'checkout.session.completed', data: { object: { status: 'complete' } } });
    const si = await stripe.setupIntents.retrieve(s.event.data.object.setup_intent, { expand: ['payment_method'] });
    expect(si).toMatchObject({
      object: 'setup_intent',
      status: 'succeeded',
      usage: 'off_session',
      customer: s.customer,
      metadata: { userId: 'u-mastercard' },
      payment_method: { id: s.paymentMethod, customer: s.customer, card: { brand: 'mastercard', last4: '4444' } },
    });
    const pm = await stripe.paymentMethods.retrieve(s.paymentMethod);
    expect(pm).toMatchObject({ type: 'card', card: { funding: 'credit', country: 'US', exp_month: 12 } });
    const listed = await stripe.customers.listPaymentMethods(s.customer);
    expect(listed.data.map((x) => x.id)).toEqual([s.paymentMethod]);
  });

  it('refuses a setup-mode session without a currency, and one for an unknown customer', async () => {
    const base = { mode: 'setup' as const, success_url: 'https://example.test/ok' };
    await expect(stripe.checkout.sessions.create(base)).rejects.toMatchObject({ statusCode: 400, param: 'currency' });
    await expect(
      stripe.checkout.sessions.create({ ...base, currency: 'usd', customer: 'cus_test_nobody' }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'customer' });
  });

  it('saves the card a customer pays with when the payment-mode session asks for setup_future_usage', async () => {
    const customer = await stripe.customers.create({ metadata: { userId: 'u-buy' } });
    const session = await stripe.checkout.sessions.create({
      mode: 'payment',
      customer: customer.id,
      line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: 900, product_data: { name: 'x' } } }],
      success_url: 'https://example.test/ok',
      metadata: { purchaseId: 'p-1' },
      payment_intent_data: { setup_future_usage: 'off_session', metadata: { purchaseId: 'p-1', saved: 'yes' } },
    });
    double.completeSession(session.id, { card: 'mastercard' });
    const pi = await stripe.paymentIntents.retrieve(double.session(session.id).payment_intent, {
      expand: ['payment_method'],
    });
    expect(pi).toMatchObject({
      status: 'succeeded',
      customer: customer.id,
      setup_future_usage: 'off_session',
      metadata: { purchaseId: 'p-1', saved: 'yes' },
      payment_method: { customer: customer.id, card: { last4: '4444' } },
    });
  });
});
