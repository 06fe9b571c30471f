import { isUuid } from '../../platform/uuid';
import type { Handled } from './webhooks.repository';
import type { Effects, PaymentIntentObject } from './webhooks.events';
import { done, ignored, type RuleContext } from './webhooks.rules';
import { needsAuthentication } from '../topups/topups.gateway';

const topupOf = (pi: PaymentIntentObject) => {
  const id = pi.metadata?.topupId;
  return id && isUuid(id) ? id : null;
};

/**
 * payment_intent.succeeded: an auto top-up's money arrived. Whichever comes first, this event or
 * the worker's own answer, credits it; the other finds it done (topups.outcomes.ts).
 */
export async function topupSucceeded(c: RuleContext, pi: PaymentIntentObject): Promise<Handled<Effects>> {
  const topupId = topupOf(pi);
  if (!topupId) return ignored('not an auto top-up');
  const outcome = { kind: 'succeeded' as const, paymentIntentId: pi.id, amountCents: pi.amount_received ?? pi.amount };
  const applied = await c.tx.applyTopup(c.topups, topupId, outcome, c.correlationId);
  const effects: Effects = applied.credited
    ? { purchased: applied.credited.credits, bonus: applied.credited.bonusCredits }
    : { mismatch: applied.mismatch };
  return done(effects, applied.note);
}

/**
 * payment_intent.payment_failed: a processing payment that failed, or a decline the worker may not
 * have recorded yet. authentication_required is left to the worker, which asks the user with a
 * recovery link (its retry with the same idempotency key gets the same answer from Stripe).
 */
export async function topupFailed(c: RuleContext, pi: PaymentIntentObject): Promise<Handled<Effects>> {
  const topupId = topupOf(pi);
  if (!topupId) return ignored('not an auto top-up');
  const failureCode = pi.last_payment_error?.code ?? 'payment_failed';
  if (needsAuthentication(failureCode, pi.last_payment_error?.decline_code))
    return ignored('authentication_required: recorded by the worker');
  const applied = await c.tx.applyTopup(
    c.topups,
    topupId,
    { kind: 'failed', failureCode, paymentIntentId: pi.id },
    c.correlationId,
  );
  return done({}, applied.note);
}
