import Decimal from 'decimal.js';
import { formatCredits, money } from '../../platform/money';
import { businessKey } from '../ledger/business-keys';
import type { Handled, LockedPurchase, WebhookTx } from './webhooks.repository';
import { idOf, type ChargeObject, type DisputeObject, type Effects, type SessionObject } from './webhooks.events';
import type { PurchaseOfPaymentIntent } from './webhooks.payment-intents';
import type { CardsGateway } from '../cards/cards.gateway';
import type { TopupOutcomes } from '../topups/topups.outcomes';
import { saveCardOfPurchase } from './webhooks.cards';

export interface RuleContext {
  tx: WebhookTx;
  eventId: string;
  correlationId: string;
  /** Absent when no Stripe key is configured: an unmatched refund or dispute is then only ignored. */
  purchaseOfPaymentIntent?: PurchaseOfPaymentIntent;
  /** Reads a saved card's details from Stripe; absent without a Stripe key. */
  cards?: CardsGateway;
  topups: TopupOutcomes;
}

/** States a purchase can still be credited from: money arriving turns a failed or expired one paid. */
const CREDITABLE = ['pending', 'failed', 'expired'];

export const done = (effects: Effects, note?: string): Handled<Effects> => ({ outcome: 'processed', note, effects });
export const ignored = (note: string): Handled<Effects> => ({ outcome: 'ignored', note, effects: {} });

/**
 * A refund or dispute for a PaymentIntent that no purchase carries. Stripe does not order its
 * deliveries (retries after an outage arrive in any order), so it can belong to one of our purchases
 * whose credit is still to come or is committing right now: acknowledging it would lose the
 * take-back for good. Such an event is refused (the transaction rolls back, the answer is 500) and
 * Stripe delivers it again, after the credit. Acknowledged as ignored: a payment that is not ours,
 * or a purchase that can never be credited (its paid session did not match the package).
 */
async function unmatched(c: RuleContext, paymentIntentId: string | null, note: string): Promise<Handled<Effects>> {
  const owner = paymentIntentId && c.purchaseOfPaymentIntent ? await c.purchaseOfPaymentIntent(paymentIntentId) : null;
  if (owner?.topupId) {
    // An auto top-up's payment. Its credit (and purchase) may still come: the attempt is in flight, or
    // succeeded while we asked Stripe (its purchase is now there: the redelivery finds it), or Stripe
    // says the money arrived, which payment_intent.succeeded credits from any state. Refused, so Stripe
    // delivers it again after the credit.
    const status = await c.tx.lockTopupStatus(owner.topupId);
    const creditable = status === 'pending' || status === 'processing' || status === 'succeeded';
    if (status && (creditable || owner.succeeded))
      throw new Error(`top-up ${owner.topupId} is not credited yet (${status}); event ${c.eventId} must wait`);
    return ignored(`${note}: top-up ${owner.topupId} is ${status ?? 'unknown'} and will not be credited`);
  }
  const purchaseId = owner?.purchaseId ?? null;
  const p = purchaseId ? await c.tx.lockNamedPurchase(purchaseId) : null;
  const creditable = p && !p.amountMismatch && (CREDITABLE.includes(p.status) || p.paymentIntentId === paymentIntentId);
  if (creditable)
    throw new Error(
      `purchase ${purchaseId} is not credited yet (${p.status}); event ${c.eventId} must wait for its credit`,
    );
  return ignored(p ? `${note}: purchase ${purchaseId} is ${p.status} and will not be credited` : note);
}

type Priced = Pick<LockedPurchase, 'credits' | 'bonusCredits' | 'amountPaidCents' | 'priceCents'>;
const totalCredits = (p: Priced) => money(p.credits).plus(p.bonusCredits);
const paidCents = (p: Priced) => p.amountPaidCents ?? p.priceCents;

/**
 * The purchase's credits in proportion to an amount of its payment; never more than all of them.
 * Exported so the revenue report checks take-backs with the very rule that posted them.
 */
export function share(p: Priced, cents: number): Decimal {
  const paid = paidCents(p);
  return totalCredits(p).times(Math.min(cents, paid)).div(paid).toDecimalPlaces(18, Decimal.ROUND_DOWN);
}

/** Where a purchase stands once no dispute is open. */
function settledStatus(p: LockedPurchase, refundedCents: number): string {
  if (refundedCents <= 0) return 'paid';
  return refundedCents >= paidCents(p) ? 'refunded' : 'partially_refunded';
}

/** checkout.session.completed (paid) and async_payment_succeeded: credit the package once per purchase. */
export async function creditSession(c: RuleContext, s: SessionObject): Promise<Handled<Effects>> {
  const p = await c.tx.lockPurchaseForSession(s.id, s.metadata?.purchaseId);
  if (!p) return ignored(`no purchase for checkout session ${s.id}`);
  const paymentIntentId = idOf(s.payment_intent) ?? p.paymentIntentId;
  // Not linked to the payment on a mismatch: refunds of money never credited must take nothing back.
  if (s.amount_total !== p.priceCents || (s.currency ?? '').toLowerCase() !== p.currency) {
    const reason =
      `amount_mismatch: session ${s.amount_total ?? 'null'} ${s.currency ?? 'null'}, ` +
      `package ${p.priceCents} ${p.currency}, payment_intent ${paymentIntentId ?? 'none'}`;
    if (p.status === 'pending')
      await c.tx.updatePurchase(p.id, { status: 'failed', failureReason: reason, checkoutSessionId: s.id });
    return done({ mismatch: true }, reason);
  }
  // Before the wallet is locked (the lookup is a call to Stripe), and best effort: never fails the credit.
  const cardNote =
    s.metadata?.saveCard === 'true' && paymentIntentId
      ? await saveCardOfPurchase(c, s, p.userId, paymentIntentId)
      : undefined;
  const base = { userId: p.userId, correlationId: c.correlationId, reference: s.id, allowNegative: false };
  const metadata = { purchaseId: p.id, checkoutSessionId: s.id, paymentIntentId, eventId: c.eventId };
  const effects: Effects = {};
  const purchase = await c.tx.post({
    ...base,
    type: 'purchase',
    businessKey: businessKey.stripePurchase(p.id),
    counterAccount: 'stripe_clearing',
    amount: p.credits,
    metadata,
  });
  if (purchase.outcome === 'posted') effects.purchased = p.credits;
  let balance = purchase.balance;
  if (money(p.bonusCredits).gt(0)) {
    const bonus = await c.tx.post({
      ...base,
      type: 'bonus',
      businessKey: businessKey.stripeBonus(p.id),
      counterAccount: 'bonus_expense',
      amount: p.bonusCredits,
      metadata,
    });
    if (bonus.outcome === 'posted') effects.bonus = p.bonusCredits;
    balance = bonus.balance;
  }
  if (purchase.outcome === 'posted') {
    await c.tx.emit('purchase.completed', p.userId, {
      purchaseId: p.id,
      packageId: p.packageId,
      credits: formatCredits(p.credits),
      bonusCredits: formatCredits(p.bonusCredits),
      balance: formatCredits(balance),
    });
  }
  // Money arrived: a purchase that looked failed or expired is paid after all; a later state is kept.
  const upgrade = CREDITABLE.includes(p.status);
  await c.tx.updatePurchase(p.id, {
    status: upgrade ? 'paid' : p.status,
    failureReason: upgrade ? null : undefined,
    checkoutSessionId: s.id,
    paymentIntentId,
    amountPaidCents: s.amount_total ?? p.priceCents,
    paidAt: p.paidAt ?? new Date(),
  });
  const notes = [effects.purchased ? undefined : 'already credited', cardNote].filter(Boolean);
  return done(effects, notes.length ? notes.join('; ') : undefined);
}

/** async_payment_failed and expired: the purchase ends unpaid; a paid purchase is never downgraded. */
export async function endSession(
  c: RuleContext,
  s: SessionObject,
  status: 'failed' | 'expired',
): Promise<Handled<Effects>> {
  const p = await c.tx.lockPurchaseForSession(s.id, s.metadata?.purchaseId);
  if (!p) return ignored(`no purchase for checkout session ${s.id}`);
  if (p.status !== 'pending') return done({}, `purchase already ${p.status}`);
  await c.tx.updatePurchase(p.id, {
    status,
    checkoutSessionId: s.id,
    failureReason: status === 'failed' ? 'async_payment_failed' : 'checkout_session_expired',
  });
  return done({});
}

/**
 * charge.refunded carries the cumulative amount refunded. The credits to have taken back are
 * that share of the purchase; what posts is the difference from what was taken back before, keyed
 * on the cumulative amount, so each refund posts once whatever the order or repetition.
 */
export async function refundCharge(c: RuleContext, ch: ChargeObject): Promise<Handled<Effects>> {
  const pi = idOf(ch.payment_intent);
  const p = pi ? await c.tx.lockPurchaseForPaymentIntent(pi) : null;
  if (!p) return unmatched(c, pi, `no paid purchase for charge ${ch.id}`);
  if (ch.amount_refunded <= p.amountRefundedCents) return done({}, 'refund already applied');
  const target = share(p, ch.amount_refunded);
  const delta = target.minus(p.creditsRefunded);
  const refundId = ch.refunds?.data?.[0]?.id ?? ch.id; // Stripe lists the newest refund first
  const effects: Effects = {};
  if (delta.gt(0)) {
    const posted = await c.tx.post({
      userId: p.userId,
      type: 'refund',
      businessKey: businessKey.stripeRefund(p.id, ch.amount_refunded),
      counterAccount: 'refunds',
      amount: delta.negated().toFixed(),
      allowNegative: true,
      correlationId: c.correlationId,
      reference: refundId,
      metadata: { purchaseId: p.id, chargeId: ch.id, amountRefundedCents: ch.amount_refunded, eventId: c.eventId },
    });
    if (posted.outcome === 'posted') {
      effects.refunded = delta.toFixed();
      const reversed = {
        reason: 'refund',
        purchaseId: p.id,
        credits: formatCredits(delta),
        balance: formatCredits(posted.balance),
      };
      await c.tx.emit('credits.reversed', p.userId, reversed);
    }
  }
  await c.tx.updatePurchase(p.id, {
    amountRefundedCents: ch.amount_refunded,
    creditsRefunded: target.toFixed(),
    status: p.status === 'disputed' ? 'disputed' : settledStatus(p, ch.amount_refunded),
  });
  return done(effects);
}

/** Takes back the disputed share once per dispute; returns the credits the dispute holds. */
async function takeBackDispute(
  c: RuleContext,
  p: LockedPurchase,
  d: DisputeObject,
  effects: Effects,
): Promise<Decimal> {
  const credits = share(p, d.amount);
  const posted = await c.tx.post({
    userId: p.userId,
    type: 'dispute',
    businessKey: businessKey.stripeDispute(d.id),
    counterAccount: 'disputes',
    amount: credits.negated().toFixed(),
    allowNegative: true,
    correlationId: c.correlationId,
    reference: d.id,
    metadata: { purchaseId: p.id, disputeId: d.id, amountCents: d.amount, eventId: c.eventId },
  });
  if (posted.outcome === 'posted') {
    effects.disputed = credits.toFixed();
    const reversed = {
      reason: 'dispute',
      purchaseId: p.id,
      credits: formatCredits(credits),
      balance: formatCredits(posted.balance),
    };
    await c.tx.emit('credits.reversed', p.userId, reversed);
    await c.tx.updatePurchase(p.id, {
      status: 'disputed',
      amountDisputedCents: p.amountDisputedCents + d.amount,
      creditsDisputed: money(p.creditsDisputed).plus(credits).toFixed(),
    });
    p.amountDisputedCents += d.amount;
    p.creditsDisputed = money(p.creditsDisputed).plus(credits).toFixed();
  }
  return money(posted.amount).negated();
}

export async function openDispute(c: RuleContext, d: DisputeObject): Promise<Handled<Effects>> {
  const pi = idOf(d.payment_intent);
  const p = pi ? await c.tx.lockPurchaseForPaymentIntent(pi) : null;
  if (!p) return unmatched(c, pi, `no paid purchase for dispute ${d.id}`);
  const effects: Effects = {};
  await takeBackDispute(c, p, d, effects);
  return done(effects, effects.disputed ? undefined : 'dispute already applied');
}

/**
 * A dispute closed as won gives back exactly what it took. If the close arrives before the
 * open, both post here (net zero, both visible) and the late open finds its key taken.
 */
export async function closeDispute(c: RuleContext, d: DisputeObject): Promise<Handled<Effects>> {
  if (d.status !== 'won') return done({}, `dispute closed as ${d.status}: credits stay taken back`);
  const pi = idOf(d.payment_intent);
  const p = pi ? await c.tx.lockPurchaseForPaymentIntent(pi) : null;
  if (!p) return unmatched(c, pi, `no paid purchase for dispute ${d.id}`);
  const effects: Effects = {};
  const taken = await takeBackDispute(c, p, d, effects);
  const posted = await c.tx.post({
    userId: p.userId,
    type: 'dispute_reversal',
    businessKey: businessKey.stripeDisputeReversal(d.id),
    counterAccount: 'disputes',
    amount: taken.toFixed(),
    allowNegative: false,
    correlationId: c.correlationId,
    reference: d.id,
    metadata: { purchaseId: p.id, disputeId: d.id, eventId: c.eventId },
  });
  if (posted.outcome !== 'posted') return done(effects, 'dispute reversal already applied');
  effects.reinstated = taken.toFixed();
  const amountDisputedCents = Math.max(0, p.amountDisputedCents - d.amount);
  const stillDisputed = money(p.creditsDisputed).minus(taken);
  await c.tx.updatePurchase(p.id, {
    amountDisputedCents,
    creditsDisputed: stillDisputed.isNegative() ? '0' : stillDisputed.toFixed(),
    status: amountDisputedCents > 0 ? 'disputed' : settledStatus(p, p.amountRefundedCents),
  });
  return done(effects);
}
