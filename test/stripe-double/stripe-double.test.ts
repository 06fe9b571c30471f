import { createStripe, type Stripe } from '../../src/platform/stripe';
import { StripeDouble } from './stripe-double.server';

let double: StripeDouble;
let stripe: Stripe;
beforeAll(async () => {
  double = new StripeDouble();
  stripe = createStripe({ STRIPE_SECRET_KEY: double.secretKey, STRIPE_API_BASE_URL: await double.start() })!;
});
afterAll(() => double.stop());

const session = (cents: number) =>
  stripe.checkout.sessions.create({
    mode: 'payment',
    line_items: [
      { quantity: 1, price_data: { currency: 'usd', unit_amount: cents, product_data: { name: 'credits' } } },
    ],
    success_url: 'https://example.test/ok',
    metadata: { purchaseId: `p-${cents}` },
  });

describe('the Stripe test double, through the real SDK', () => {
  it('creates and retrieves Checkout Sessions, decoding the SDK form encoding', async () => {
    const created = await session(500);
    expect(created).toMatchObject({
      object: 'checkout.session',
      amount_total: 500,
      currency: 'usd',
      payment_status: 'unpaid',
      metadata: { purchaseId: 'p-500' },
    });
    const fetched = await stripe.checkout.sessions.retrieve(created.id);
    expect(fetched.id).toBe(created.id);
    await expect(stripe.checkout.sessions.retrieve('cs_test_missing')).rejects.toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
    });
  });

  it('honours Idempotency-Key: the same key and body replay, another body is refused', async () => {
    const params = {
      mode: 'payment' as const,
      success_url: 'https://example.test/ok',
      line_items: [{ quantity: 1, price_data: { currency: 'usd', unit_amount: 700, product_data: { name: 'x' } } }],
    };
    const a = await stripe.checkout.sessions.create(params, { idempotencyKey: 'same-key' });
    const b = await stripe.checkout.sessions.create(params, { idempotencyKey: 'same-key' });
    expect(b.id).toBe(a.id);
    await expect(
      stripe.checkout.sessions.create(
        { ...params, success_url: 'https://example.test/other' },
        { idempotencyKey: 'same-key' },
      ),
    ).rejects.toMatchObject({ statusCode: 400 });
  });

  it('refuses a wrong secret key with 401', async () => {
    const wrong = createStripe({ STRIPE_SECRET_KEY: 'sk_test_wrong', STRIPE_API_BASE_URL: double.url })!;
    await expect(wrong.checkout.sessions.retrieve('cs_x')).rejects.toMatchObject({ statusCode: 401 });
  });

  it('lists newest first with limit, starting_after, has_more and created: pagination sees each once', async () => {
    const fresh = new StripeDouble();
    const client = createStripe({ STRIPE_SECRET_KEY: fresh.secretKey, STRIPE_API_BASE_URL: await fresh.start() })!;
    try {
      const base = 1_800_000_000;
      for (let i = 0; i < 7; i++) {
        const s = fresh.createSession(
          {
            mode: 'payment',
            line_items: [{ quantity: '1', price_data: { currency: 'usd', unit_amount: String(100 + i) } }],
          },
          fresh.url,
        );
        s.created = base + i * 60;
        fresh.completeSession(s.id, { created: base + i * 60 });
        fresh.refund(s.id, 10, { created: base + i * 60 + 1 });
      }
      fresh.openDispute(fresh.sessions[0].id, { created: base + 5 });

      const page = await client.checkout.sessions.list({ limit: 3 });
      expect(page.data.map((s) => s.amount_total)).toEqual([106, 105, 104]);
      expect(page.has_more).toBe(true);
      const next = await client.checkout.sessions.list({ limit: 3, starting_after: page.data[2].id });
      expect(next.data.map((s) => s.amount_total)).toEqual([103, 102, 101]);

      const all: number[] = [];
      for await (const s of client.checkout.sessions.list({ limit: 2, created: { gte: base + 60, lt: base + 300 } }))
        all.push(s.amount_total!);
      expect(all).toEqual([104, 103, 102, 101]);

      const refunds: string[] = [];
      for await (const r of client.refunds.list({ limit: 4 })) refunds.push(r.id);
      expect(new Set(refunds).size).toBe(7);
      const charges = await client.charges.list({ limit: 100 });
      expect(charges.data).toHaveLength(7);
      expect(charges.data.every((c) => c.amount_refunded === 10 && typeof c.payment_intent === 'string')).toBe(true);
      const disputes = await client.disputes.list({ created: { gte: base, lt: base + 10 } });
      expect(disputes.data).toHaveLength(1);
    } finally {
      await fresh.stop();
    }
  });

  it('records every request with its decoded body and idempotency key', async () => {
    await session(900);
    const last = double.requestsTo('POST', '/v1/checkout/sessions').at(-1)!;
    expect(last.body).toMatchObject({
      mode: 'payment',
      metadata: { purchaseId: 'p-900' },
      line_items: [{ price_data: { unit_amount: '900' } }],
    });
    expect(last.idempotencyKey).toBeTruthy(); // the SDK sends one on every POST
  });
});
