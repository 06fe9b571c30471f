import type { Stripe } from '../../platform/stripe';

/** The purchase a PaymentIntent was made for, or null when the payment is not one of ours. */
export type PurchaseOfPaymentIntent = (paymentIntentId: string) => Promise<string | null>;

/**
 * Reads the purchase id that every Checkout Session copies onto its PaymentIntent
 * (`payment_intent_data.metadata`, see purchases.checkout.ts). A PaymentIntent Stripe does not
 * know (404) is not ours; any other failure throws, so the event is refused and Stripe retries it.
 */
export function purchaseOfPaymentIntent(stripe: Stripe): PurchaseOfPaymentIntent {
  return async (paymentIntentId) => {
    try {
      // Asked inside the event's transaction: bounded, and a timeout refuses the event (Stripe retries).
      const intent = await stripe.paymentIntents.retrieve(paymentIntentId, undefined, { timeout: 3000, maxNetworkRetries: 0 });
      return intent.metadata?.purchaseId ?? null;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return null;
      throw error;
    }
  };
}
