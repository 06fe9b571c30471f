import Stripe from 'stripe';
import type { StripeDouble } from './stripe-double.server';
import type { CardKind } from './stripe-double.store';

export interface SavedCard {
  customer: string;
  paymentMethod: string;
  session: Stripe.Checkout.Session;
  event: ReturnType<StripeDouble['completeSetupSession']>;
}

/** A customer who saved `card` through a setup-mode Checkout, the way the service drives it. */
export async function savedCard(stripe: Stripe, double: StripeDouble, card: CardKind = 'visa'): Promise<SavedCard> {
  const customer = await stripe.customers.create({ metadata: { userId: `u-${card}` } });
  const session = await stripe.checkout.sessions.create({
    mode: 'setup',
    customer: customer.id,
    currency: 'usd',
    success_url: 'https://example.test/ok',
    cancel_url: 'https://example.test/cancel',
    metadata: { userId: `u-${card}` },
    setup_intent_data: { metadata: { userId: `u-${card}` } },
  });
  const event = double.completeSetupSession(session.id, { card });
  const setupIntent = await stripe.setupIntents.retrieve(event.data.object.setup_intent);
  return { customer: customer.id, session, event, paymentMethod: setupIntent.payment_method as string };
}

/** The off-session PaymentIntent an auto top-up creates for a saved card. */
export const topUp = (s: { customer: string; paymentMethod: string }, cents = 1500) => ({
  amount: cents,
  currency: 'usd',
  customer: s.customer,
  payment_method: s.paymentMethod,
  confirm: true,
  off_session: true,
  metadata: { topUpId: `t-${cents}` },
});

/** What the SDK rejected with (a StripeCardError for a 402), so a test can look at its fields. */
export async function rejection(p: Promise<unknown>): Promise<InstanceType<typeof Stripe.errors.StripeError>> {
  try {
    await p;
  } catch (e) {
    if (e instanceof Stripe.errors.StripeError) return e;
    throw e;
  }
  throw new Error('expected the Stripe call to fail');
}
