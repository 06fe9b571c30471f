import type { Stripe } from '../../platform/stripe';

/** A saved card as the settings show it; the payment method is what off-session payments use. */
export interface SavedCard {
  paymentMethodId: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

type PaymentMethodRef = string | Stripe.PaymentMethod | null | undefined;

// Asked inside a webhook's transaction: bounded, and a failure refuses the event so Stripe retries it.
const LOOKUP = { timeout: 3000, maxNetworkRetries: 0 } as const;

function cardOf(pm: PaymentMethodRef): SavedCard | null {
  if (!pm || typeof pm === 'string' || !pm.card) return null;
  const { brand, last4, exp_month: expMonth, exp_year: expYear } = pm.card;
  return { paymentMethodId: pm.id, brand, last4, expMonth, expYear };
}

/** The Stripe calls behind a saved card: the user's Customer, Checkout in setup mode, and the card's details. */
export class CardsGateway {
  constructor(private readonly stripe: Stripe) {}

  /** One Customer per user however often this is retried or raced: the idempotency key is the user's. */
  async createCustomer(userId: string): Promise<string> {
    const customer = await this.stripe.customers.create(
      { metadata: { userId } },
      { idempotencyKey: `customer:${userId}` },
    );
    return customer.id;
  }

  async createSetupSession(r: { userId: string; customerId: string; returnUrl: string }) {
    const metadata = { userId: r.userId, purpose: 'save_card' };
    // Each call is a new session, as a new purchase is; the SDK's own retries reuse one idempotency key.
    const session = await this.stripe.checkout.sessions.create({
      mode: 'setup',
      currency: 'usd',
      customer: r.customerId,
      client_reference_id: r.userId,
      metadata,
      setup_intent_data: { metadata },
      success_url: r.returnUrl,
      cancel_url: r.returnUrl,
    });
    return { id: session.id, url: session.url };
  }

  async cardOfSetupIntent(setupIntentId: string): Promise<SavedCard | null> {
    const intent = await this.stripe.setupIntents.retrieve(setupIntentId, { expand: ['payment_method'] }, LOOKUP);
    return intent.status === 'succeeded' ? cardOf(intent.payment_method) : null;
  }

  async cardOfPaymentIntent(paymentIntentId: string): Promise<SavedCard | null> {
    const intent = await this.stripe.paymentIntents.retrieve(paymentIntentId, { expand: ['payment_method'] }, LOOKUP);
    return intent.status === 'succeeded' ? cardOf(intent.payment_method) : null;
  }
}
