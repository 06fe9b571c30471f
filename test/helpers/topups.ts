import request from 'supertest';
import { createStripe, type Stripe } from '../../src/platform/stripe';
import type { CardKind } from '../stripe-double/stripe-double.store';
import type { StripeTestApp } from './stripe';
import { grant, reconcile } from './wallets';

/** Saves a card for `userId` the way a user does: Checkout in setup mode, then Stripe's event. */
export async function saveCard(t: StripeTestApp, userId: string, card: CardKind = 'visa') {
  const started = await request(t.app)
    .post('/v1/billing/payment-method')
    .set('Authorization', `Bearer ${t.token(userId)}`)
    .expect(201);
  const event = t.double.completeSetupSession(started.body.stripeCheckoutSessionId, { card });
  await t.deliver(event).expect(200);
  const settings = await t.database.sql<{ pm: string; customer: string }>(
    `SELECT payment_method_id AS pm, stripe_customer_id AS customer FROM billing_settings WHERE user_id = $1`,
    [userId],
  );
  return { paymentMethodId: settings[0].pm, customerId: settings[0].customer };
}

export interface AutoTopUp {
  thresholdCredits?: string;
  packageId?: string;
  monthlyLimitUsd?: string;
  enabled?: boolean;
}

export const putAutoTopUp = (t: StripeTestApp, userId: string, a: AutoTopUp) =>
  request(t.app)
    .put('/v1/billing/settings')
    .set('Authorization', `Bearer ${t.token(userId)}`)
    .send({ autoTopUp: { enabled: true, ...a } });

// gpt-4o, 1,000 in + 500 out: 50 credits
export const charge50 = (t: StripeTestApp, userId: string, requestId: string) =>
  reconcile(t, { userId, requestId, model: 'gpt-4o', inputTokens: 1000, outputTokens: 500 });

export interface TopupRecord {
  id: string;
  status: string;
  payment_intent_id: string | null;
  failure_code: string | null;
  recovery_url: string | null;
  stripe_calls: number;
}

export const topupsOf = (t: StripeTestApp, userId: string) =>
  t.database.sql<TopupRecord>(
    `SELECT id::text, status, payment_intent_id, failure_code, recovery_url, stripe_calls FROM topups
     WHERE user_id = $1 ORDER BY created_at`,
    [userId],
  );

export const eventsOf = (t: StripeTestApp, userId: string, prefix = '') =>
  t.database.sql<{ type: string; data: Record<string, unknown> }>(
    `SELECT type, data FROM events WHERE user_id = $1 AND type LIKE $2 ORDER BY seq`,
    [userId, `${prefix}%`],
  );

/** One round of the auto top-up worker, as server.ts runs it every second. */
export const runWorker = (t: StripeTestApp) => t.services.topupWorker!.runOnce();

/** Delivers the events Stripe recorded for the calls so far (payment_intent.*), as its webhooks would. */
export async function deliverEmitted(t: StripeTestApp, type?: string) {
  for (const event of t.double.takeEvents(type)) await t.deliver(event).expect(200);
}

/** A user with a saved card, 520 credits and auto top-up at 500 with the starter package (5,000 credits, $5). */
export async function enrolled(t: StripeTestApp, userId: string, card: CardKind = 'visa', monthlyLimitUsd = '50') {
  const saved = await saveCard(t, userId, card);
  await grant(t, userId, '520');
  await putAutoTopUp(t, userId, { thresholdCredits: '500', packageId: 'starter', monthlyLimitUsd }).expect(200);
  return saved;
}

/** A client of the test's Stripe double, for calls a test makes as the service would. */
export const stripeOf = (t: StripeTestApp): Stripe =>
  createStripe({ STRIPE_SECRET_KEY: t.double.secretKey, STRIPE_API_BASE_URL: t.double.url })!;
