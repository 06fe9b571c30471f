import Stripe from 'stripe';
import type { TopupOutcome } from './topups.outcomes';
import type { TopupRow } from './topups.repository';

/** Stripe could not answer (network, 5xx, 429, a concurrent use of the key, our key refused): retry later. */
export class StripeUnreachable extends Error {
  constructor(cause: unknown) {
    super(`Stripe did not answer the top-up: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'StripeUnreachable';
  }
}

const RETRYABLE = [
  Stripe.errors.StripeConnectionError,
  Stripe.errors.StripeAPIError,
  Stripe.errors.StripeRateLimitError,
  Stripe.errors.StripeIdempotencyError,
  Stripe.errors.StripeAuthenticationError,
  Stripe.errors.StripePermissionError,
];

type Answered =
  Exclude<TopupOutcome, { kind: 'requires_action' }> | { kind: 'requires_action'; paymentIntentId: string | null };

/** Maps a PaymentIntent's status to an outcome; statuses an off-session confirm should not leave are failures. */
function outcomeOf(intent: Stripe.PaymentIntent): Answered {
  switch (intent.status) {
    case 'succeeded':
      return { kind: 'succeeded', paymentIntentId: intent.id, amountCents: intent.amount_received ?? intent.amount };
    case 'processing':
      return { kind: 'processing', paymentIntentId: intent.id };
    case 'requires_action':
      return { kind: 'requires_action', paymentIntentId: intent.id };
    default:
      return {
        kind: 'failed',
        failureCode: intent.last_payment_error?.code ?? intent.status,
        paymentIntentId: intent.id,
      };
  }
}

/** The one call auto top-up makes to Stripe: an off-session PaymentIntent, confirmed at once. */
export class TopupsGateway {
  constructor(private readonly stripe: Stripe) {}

  async charge(t: TopupRow): Promise<Answered> {
    try {
      const intent = await this.stripe.paymentIntents.create(
        {
          amount: t.priceCents,
          currency: 'usd',
          customer: t.customerId,
          payment_method: t.paymentMethodId,
          confirm: true,
          off_session: true,
          description: `ScholarLink credits: auto top-up (${t.packageId})`,
          metadata: { userId: t.userId, topupId: t.id, packageId: t.packageId },
        },
        // The attempt's own key: every retry, from any replica, finds the one PaymentIntent again.
        { idempotencyKey: `topup:${t.id}`, timeout: 10_000, maxNetworkRetries: 1 },
      );
      return outcomeOf(intent);
    } catch (error) {
      if (RETRYABLE.some((kind) => error instanceof kind)) throw new StripeUnreachable(error);
      if (!(error instanceof Stripe.errors.StripeError)) throw new StripeUnreachable(error);
      const intent = (error.raw as { payment_intent?: Stripe.PaymentIntent } | undefined)?.payment_intent;
      const paymentIntentId = intent?.id ?? null;
      // Off session, a card that needs the customer (SCA) answers authentication_required: final, ask the user.
      if (error.code === 'authentication_required') return { kind: 'requires_action', paymentIntentId };
      return { kind: 'failed', failureCode: error.code ?? error.type, paymentIntentId };
    }
  }
}
