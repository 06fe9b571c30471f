import type { FormValue } from './form-decode';
import type { CardKind } from './stripe-double.cards';
import { StripeDoubleIntents } from './stripe-double.intents';
import { clone, now, stripeId, type StripeObject } from './stripe-double.objects';

export { CARDS, type CardKind } from './stripe-double.cards';
export { stripeId, type StripeEventObject, type StripeObject } from './stripe-double.objects';

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * The Stripe-shaped objects the double holds, and the test controls that move them the way a
 * customer, a bank or a card network would. Each control returns the Stripe event to deliver.
 *
 * API (through the SDK): POST/GET customers, GET customers/:id/payment_methods; POST checkout/sessions
 * (mode payment or setup; setup needs currency; customer must exist; payment_intent_data.{setup_future_usage,
 * metadata} and setup_intent_data.metadata are kept); GET setup_intents/:id, payment_methods[/:id]
 * (?customer=), payment_intents[/:id] (?customer=); POST payment_intents (confirm=true with off_session
 * charges the saved card at once; an unknown card or one of another customer is a 400 on param
 * payment_method). `expand[]` works on every answer. Idempotency-Key replays the first answer below 500
 * (402s included); the same key while its first request runs gets 409 idempotency_error.
 * Cards (CardKind): visa (4242, default), mastercard (4444), chargeDeclined (0002: 402 card_declined /
 * generic_decline), expiredCard (0069: 402 expired_card), authenticationRequired (3184: 402
 * authentication_required), processing (0000: the PaymentIntent stays 'processing' until settled).
 * A 402 carries error.{code, decline_code, message, charge, payment_intent, payment_method}; the failed
 * PaymentIntent is requires_payment_method with last_payment_error and payment_method null.
 * Controls: completeSession(id, {card}), completeSetupSession(id, {card}) -> checkout.session.completed;
 * setCardBehaviour(pmId, kind); settlePaymentIntent(piId, 'succeeded'|'failed') -> payment_intent.*;
 * refund/openDispute accept a ch_, pi_ or cs_ id. Events the API caused (payment_intent.succeeded,
 * .payment_failed, .processing) collect in `emitted`; takeEvents(type | predicate?) removes and returns them.
 * Lookups: paymentIntentsFor(cus), paymentMethodsFor(cus), customer(id), paymentMethod(id), paymentIntent(id).
 */
export class StripeDoubleStore extends StripeDoubleIntents {
  /** What a session was created with that Stripe does not show on the Session itself. */
  private readonly intentData = new Map<string, { payment?: any; setup?: any }>();

  createSession(p: Record<string, FormValue>, origin: string): StripeObject {
    const setup = p.mode === 'setup';
    const items = (p.line_items ?? []) as any[];
    const amount = items.reduce(
      (sum, li) => sum + Number(li.price_data?.unit_amount ?? 0) * Number(li.quantity ?? 1),
      0,
    );
    const id = stripeId('cs');
    const created = now();
    const session: StripeObject = {
      id,
      object: 'checkout.session',
      created,
      expires_at: created + 24 * 3600,
      livemode: false,
      mode: p.mode,
      status: 'open',
      payment_status: setup ? 'no_payment_required' : 'unpaid',
      amount_subtotal: setup ? null : amount,
      amount_total: setup ? null : amount,
      currency: String(p.currency ?? items[0]?.price_data?.currency ?? 'usd'),
      customer: p.customer ?? null,
      client_reference_id: p.client_reference_id ?? null,
      metadata: p.metadata ?? {},
      payment_intent: null,
      setup_intent: null,
      success_url: p.success_url,
      cancel_url: p.cancel_url ?? null,
      url: `${origin}/c/pay/${id}`,
    };
    this.sessions.push(session);
    this.intentData.set(id, { payment: p.payment_intent_data, setup: p.setup_intent_data });
    return session;
  }

  /**
   * The customer finishes a payment-mode Checkout with `card` (visa unless said). Card: paid now.
   * Delayed method (`async`): paid later or failed. With payment_intent_data.setup_future_usage the
   * card is saved on the session's customer, ready for off-session PaymentIntents.
   */
  completeSession(
    id: string,
    o: { async?: boolean; amountTotal?: number; currency?: string; created?: number; card?: CardKind } = {},
  ) {
    const s = this.session(id);
    if (s.mode === 'setup') throw new Error(`stripe double: ${id} is a setup session, use completeSetupSession`);
    if (o.amountTotal !== undefined) s.amount_total = o.amountTotal;
    if (o.currency !== undefined) s.currency = o.currency;
    s.status = 'complete';
    this.createPayment(s, o.created, o.card);
    if (!o.async) s.payment_status = 'paid';
    return this.event('checkout.session.completed', s);
  }

  /** The customer saves `card` (visa unless said) in a setup-mode Checkout: a PaymentMethod and a SetupIntent. */
  completeSetupSession(id: string, o: { card?: CardKind } = {}) {
    const s = this.session(id);
    if (s.mode !== 'setup') throw new Error(`stripe double: ${id} is not a setup session`);
    if (s.status !== 'open') throw new Error(`stripe double: session ${id} is ${s.status}`);
    const pm = this.createPaymentMethod(o.card, s.customer);
    s.setup_intent = this.createSetupIntent(s.customer, pm.id, this.intentData.get(id)?.setup?.metadata).id;
    s.status = 'complete';
    return this.event('checkout.session.completed', s);
  }

  asyncPaymentSucceeded(id: string) {
    const s = this.session(id);
    this.createPayment(s);
    s.payment_status = 'paid';
    return this.event('checkout.session.async_payment_succeeded', s);
  }

  asyncPaymentFailed(id: string) {
    const s = this.session(id);
    s.payment_status = 'unpaid';
    return this.event('checkout.session.async_payment_failed', s);
  }

  expireSession(id: string) {
    const s = this.session(id);
    s.status = 'expired';
    return this.event('checkout.session.expired', s);
  }

  /** Refunds part (or the rest) of a charge; the event carries the cumulative amount_refunded. */
  refund(idOrSessionOrPi: string, amount: number, o: { created?: number } = {}) {
    const c = this.charge(idOrSessionOrPi);
    if (c.status !== 'succeeded') throw new Error(`stripe double: charge ${c.id} is ${c.status}, nothing to refund`);
    const refund: StripeObject = {
      id: stripeId('re'),
      object: 'refund',
      created: o.created ?? now(),
      amount,
      currency: c.currency,
      charge: c.id,
      payment_intent: c.payment_intent,
      status: 'succeeded',
      reason: null,
      metadata: {},
    };
    this.refunds.push(refund);
    c.amount_refunded += amount;
    c.refunded = c.amount_refunded >= c.amount;
    const mine = this.refunds.filter((r) => r.charge === c.id).reverse();
    c.refunds = {
      object: 'list',
      data: mine,
      has_more: false,
      total_count: mine.length,
      url: `/v1/charges/${c.id}/refunds`,
    };
    return this.event('charge.refunded', c);
  }

  openDispute(idOrSessionOrPi: string, o: { amount?: number; created?: number } = {}) {
    const c = this.charge(idOrSessionOrPi);
    const dispute: StripeObject = {
      id: stripeId('du'),
      object: 'dispute',
      created: o.created ?? now(),
      amount: o.amount ?? c.amount,
      currency: c.currency,
      charge: c.id,
      payment_intent: c.payment_intent,
      status: 'needs_response',
      reason: 'fraudulent',
      livemode: false,
      metadata: {},
    };
    this.disputes.push(dispute);
    c.disputed = true;
    return this.event('charge.dispute.created', dispute);
  }

  closeDispute(id: string, status: 'won' | 'lost') {
    const d = this.disputes.find((x) => x.id === id);
    if (!d) throw new Error(`stripe double: no dispute ${id}`);
    d.status = status;
    return this.event('charge.dispute.closed', d);
  }

  private createPayment(s: StripeObject, created = now(), card?: CardKind) {
    if (s.payment_intent) return;
    const data = this.intentData.get(s.id)?.payment ?? {};
    const future = data.setup_future_usage ?? null;
    const pm = this.createPaymentMethod(card, future && s.customer ? s.customer : null);
    const pi = this.newPaymentIntent({
      created,
      amount: s.amount_total,
      currency: s.currency,
      customer: s.customer ?? null,
      metadata: clone(data.metadata ?? s.metadata),
      payment_method: pm.id,
      setup_future_usage: future,
      status: 'succeeded',
      amount_received: s.amount_total,
    });
    this.createCharge(pi, 'succeeded');
    s.payment_intent = pi.id;
  }
}
