import type { Stripe } from '../../platform/stripe';
import type { CreditPackage } from '../catalog/catalog.packages';

export interface CheckoutRequest {
  purchaseId: string;
  userId: string;
  pkg: CreditPackage;
  /** Set when the card is to be saved: the session is the Customer's and the card is kept off session. */
  customerId?: string;
  successUrl: string;
  cancelUrl: string;
}

/** The one call this module makes to Stripe: a Checkout Session for one package. */
export class CheckoutGateway {
  constructor(private readonly stripe: Stripe) {}

  async createSession(r: CheckoutRequest): Promise<{ id: string; url: string | null }> {
    const metadata: Record<string, string> = { purchaseId: r.purchaseId, userId: r.userId, packageId: r.pkg.id };
    if (r.customerId) metadata.saveCard = 'true';
    const session = await this.stripe.checkout.sessions.create(
      {
        mode: 'payment',
        client_reference_id: r.userId,
        metadata,
        // Copied onto the PaymentIntent so refunds and disputes can be traced back in the Dashboard.
        payment_intent_data: r.customerId ? { metadata, setup_future_usage: 'off_session' } : { metadata },
        ...(r.customerId ? { customer: r.customerId } : {}),
        line_items: [
          {
            quantity: 1,
            price_data: {
              currency: 'usd',
              unit_amount: r.pkg.priceCents,
              product_data: {
                name: `ScholarLink credits: ${r.pkg.name}`,
                description: `${r.pkg.credits} credits + ${r.pkg.bonusCredits} bonus`,
              },
            },
          },
        ],
        success_url: r.successUrl,
        cancel_url: r.cancelUrl,
      },
      // Derived from the purchase: however often this call is retried, Stripe makes one session.
      { idempotencyKey: `checkout-session:${r.purchaseId}` },
    );
    return { id: session.id, url: session.url };
  }
}
