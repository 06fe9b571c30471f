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

export type Answered =
  Exclude<TopupOutcome, { kind: 'requires_action' }> | { kind: 'requires_action'; paymentIntentId: string | null };

export const needsAuthentication = (code?: string | null, declineCode?: string | null) =>
  code === 'authentication_required' || declineCode === 'authentication_required';

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
      if (needsAuthentication(intent.last_payment_error?.code, intent.last_payment_error?.decline_code))
        return { kind: 'requires_action', paymentIntentId: intent.id };
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
      if (!(error instanceof Stripe.errors.StripeError)) throw error;
      const intent = (error.raw as { payment_intent?: Stripe.PaymentIntent } | undefined)?.payment_intent;
      const paymentIntentId = intent?.id ?? null;
      // Off session, a card that needs the customer (SCA) answers authentication_required, as a code or as
      // an issuer's soft decline: final, ask the user.
      if (needsAuthentication(error.code, error.decline_code)) return { kind: 'requires_action', paymentIntentId };
      return { kind: 'failed', failureCode: error.code ?? error.type, paymentIntentId };
    }
  }

  /**
   * What Stripe holds for an attempt, without creating anything: by its PaymentIntent when known,
   * else among the Customer's PaymentIntents by the attempt id in their metadata (a list reads what
   * Stripe has committed; search would lag). null: Stripe never made one.
   */
  async lookup(t: TopupRow): Promise<Answered | null> {
    try {
      if (t.paymentIntentId) return outcomeOf(await this.stripe.paymentIntents.retrieve(t.paymentIntentId));
      const since = Math.floor(t.createdAt.getTime() / 1000) - 300;
      for await (const intent of this.stripe.paymentIntents.list({
        customer: t.customerId,
        created: { gte: since },
        limit: 100,
      })) {
        if (intent.metadata?.topupId === t.id) return outcomeOf(intent);
      }
      return null;
    } catch (error) {
      if (error instanceof Stripe.errors.StripeError) throw new StripeUnreachable(error);
      throw error;
    }
  }
}
