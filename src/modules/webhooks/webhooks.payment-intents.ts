import type { Stripe } from '../../platform/stripe';

/**
 * What a PaymentIntent was made for (a purchase or an auto top-up attempt) and whether Stripe says it
 * succeeded; null: not one of ours.
 */
export type PurchaseOfPaymentIntent = (
  paymentIntentId: string,
) => Promise<{ purchaseId: string | null; topupId: string | null; succeeded: boolean } | null>;

/**
 * Reads the purchase id that every Checkout Session copies onto its PaymentIntent
 * (`payment_intent_data.metadata`, see purchases.checkout.ts), or the attempt id an auto top-up's
 * PaymentIntent carries (topups.gateway.ts). A PaymentIntent Stripe does not
 * know (404) is not ours. Stripe refusing our key (401) or its permissions (403) throws
 * StripeLookupRefused: no retry can succeed until the key is fixed. Any other failure throws, so the
 * event is refused and Stripe retries it.
 */
export function purchaseOfPaymentIntent(stripe: Stripe): PurchaseOfPaymentIntent {
  return async (paymentIntentId) => {
    try {
      // Asked inside the event's transaction: bounded, and a timeout refuses the event (Stripe retries).
      const intent = await stripe.paymentIntents.retrieve(paymentIntentId, undefined, {
        timeout: 3000,
        maxNetworkRetries: 0,
      });
      const { purchaseId, topupId } = intent.metadata ?? {};
      if (!purchaseId && !topupId) return null;
      return { purchaseId: purchaseId ?? null, topupId: topupId ?? null, succeeded: intent.status === 'succeeded' };
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      if (status === 404) return null;
      if (status === 401 || status === 403) throw new StripeLookupRefused(paymentIntentId, status, error);
      throw error;
    }
  };
}

/** Stripe refused the lookup itself: the secret key is wrong, revoked or lacks read access to PaymentIntents. */
export class StripeLookupRefused extends Error {
  constructor(
    readonly paymentIntentId: string,
    readonly statusCode: 401 | 403,
    cause: unknown,
  ) {
    super(
      `Stripe answered ${statusCode} to the lookup of PaymentIntent ${paymentIntentId}: ` +
        'check STRIPE_SECRET_KEY and its permissions',
      { cause },
    );
    this.name = 'StripeLookupRefused';
  }
}
