import request from 'supertest';
import { createStripeTestApp, type StripeTestApp } from '../helpers/stripe';
import { counterValue, storedCounts } from '../helpers/stripe-assertions';
import { stripeWebhooks } from '../../src/platform/stripe';

let t: StripeTestApp;
beforeAll(async () => {
  t = await createStripeTestApp();
});
afterAll(() => t.close());

const stored = () => storedCounts(t);

describe('POST /v1/webhooks/stripe signature checks', () => {
  let event: ReturnType<StripeTestApp['double']['completeSession']>;
  beforeAll(async () => {
    const p = await t.purchase('victim', 'enterprise');
    event = t.double.completeSession(p.stripeCheckoutSessionId);
  });

  const cases: [string, () => request.Test][] = [
    [
      'a tampered body',
      () => t.deliver(event, { tamper: (signed) => signed.replace('"amount_total": 10000', '"amount_total": 1') }),
    ],
    ['a signature made with another secret', () => t.deliver(event, { secret: 'whsec_not_the_real_one' })],
    ['a timestamp older than 300 seconds', () => t.deliver(event, { timestamp: Math.floor(Date.now() / 1000) - 301 })],
    [
      'no Stripe-Signature header',
      () =>
        request(t.app).post('/v1/webhooks/stripe').set('Content-Type', 'application/json').send(JSON.stringify(event)),
    ],
  ];

  it('tampering really changes the signed body', () => {
    const signed = JSON.stringify(event, null, 2);
    expect(signed.replace('"amount_total": 10000', '"amount_total": 1')).not.toBe(signed);
  });

  it.each(cases)('refuses %s with 400, stores nothing and counts an auth failure', async (_name, send) => {
    const before = await stored();
    const failures = await counterValue(t.metrics.authFailures, { reason: 'webhook_signature' });
    const rejected = await counterValue(t.metrics.webhookEvents, { outcome: 'rejected' });
    const res = await send();
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.code).toBe('invalid_signature');
    expect(JSON.stringify(res.body)).not.toContain(t.webhookSecret);
    expect(await stored()).toEqual(before);
    expect(await counterValue(t.metrics.authFailures, { reason: 'webhook_signature' })).toBe(failures + 1);
    expect(await counterValue(t.metrics.webhookEvents, { outcome: 'rejected' })).toBe(rejected + 1);
  });

  it('accepts the same event correctly signed (the cases above were refused for their signature alone)', async () => {
    const res = await t.deliver(event);
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('processed');
  });

  it('verifies the exact bytes: a body re-serialised with other whitespace, same signature, is refused', async () => {
    const payload = JSON.stringify(event);
    const header = stripeWebhooks.generateTestHeaderString({ payload, secret: t.webhookSecret });
    const res = await request(t.app)
      .post('/v1/webhooks/stripe')
      .set('Content-Type', 'application/json')
      .set('Stripe-Signature', header)
      .send(JSON.stringify(event, null, 1));
    expect(res.status).toBe(400);
  });

  it('needs no bearer token (Stripe has none) and is not parsed as JSON first, whatever the content type', async () => {
    const payload = JSON.stringify(t.double.event('customer.created', { id: 'cus_x', object: 'customer', created: 1 }));
    const header = stripeWebhooks.generateTestHeaderString({ payload, secret: t.webhookSecret });
    const res = await request(t.app)
      .post('/v1/webhooks/stripe')
      .set('Content-Type', 'text/plain')
      .set('Stripe-Signature', header)
      .send(payload);
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('ignored');
  });
});
