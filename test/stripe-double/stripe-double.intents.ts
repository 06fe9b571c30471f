import type { FormValue } from './form-decode';
import { CARDS, StripeDoubleCards, declineOf, type Decline } from './stripe-double.cards';
import { apiError, clone, noSuch, now, stripeId, type Reply, type StripeObject } from './stripe-double.objects';

const docUrl = (code: string) => `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
const isTrue = (v: FormValue | undefined) => v === 'true' || v === 'one_off' || v === 'recurring';

/** PaymentIntents and their charges: the ones Checkout makes and the off-session ones the service creates. */
export class StripeDoubleIntents extends StripeDoubleCards {
  newPaymentIntent(f: Partial<StripeObject> & { amount: number; currency: string }): StripeObject {
    const id = stripeId('pi');
    const pi: StripeObject = {
      id,
      object: 'payment_intent',
      created: now(),
      amount_capturable: 0,
      amount_received: 0,
      canceled_at: null,
      cancellation_reason: null,
      capture_method: 'automatic_async',
      client_secret: `${id}_secret_${stripeId('x').slice(7)}`,
      confirmation_method: 'automatic',
      customer: null,
      description: null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      metadata: {},
      next_action: null,
      payment_method: null,
      payment_method_types: ['card'],
      setup_future_usage: null,
      status: 'requires_payment_method',
      ...f,
    };
    this.paymentIntents.push(pi);
    return pi;
  }

  /** A charge of the PaymentIntent's whole amount; it becomes the PaymentIntent's latest_charge. */
  createCharge(pi: StripeObject, status: 'succeeded' | 'pending' | 'failed', decline?: Decline): StripeObject {
    const pm = pi.payment_method ? this.paymentMethods.find((x) => x.id === pi.payment_method) : undefined;
    const paid = status === 'succeeded';
    const charge: StripeObject = {
      id: stripeId('ch'),
      object: 'charge',
      created: pi.created,
      amount: pi.amount,
      amount_captured: paid ? pi.amount : 0,
      amount_refunded: 0,
      currency: pi.currency,
      customer: pi.customer ?? null,
      paid,
      captured: paid,
      refunded: false,
      disputed: false,
      failure_code: decline?.code ?? null,
      failure_message: decline?.message ?? null,
      payment_intent: pi.id,
      payment_method: pm?.id ?? null,
      payment_method_details: pm ? { type: 'card', card: clone(pm.card) } : null,
      status,
      metadata: pi.metadata,
      livemode: false,
      refunds: { object: 'list', data: [], has_more: false, total_count: 0, url: '' },
    };
    this.charges.push(charge);
    pi.latest_charge = charge.id;
    return charge;
  }

  /**
   * POST /v1/payment_intents. With confirm=true the saved card is charged at once and answers as its
   * kind says: succeeded, processing, or Stripe's 402 card_error carrying the failed PaymentIntent.
   */
  createPaymentIntent(p: Record<string, FormValue>, idempotencyKey?: string): Reply {
    for (const param of ['amount', 'currency'])
      if (typeof p[param] !== 'string')
        return apiError(400, `Missing required param: ${param}.`, 'invalid_request_error', {
          code: 'parameter_missing',
          param,
        });
    const amount = Number(p.amount);
    if (!Number.isInteger(amount) || amount < 1)
      return apiError(400, 'Invalid positive integer', 'invalid_request_error', { param: 'amount' });
    const customer = typeof p.customer === 'string' ? p.customer : null;
    if (customer && !this.customers.some((c) => c.id === customer)) return noSuch('customer', customer, 'customer');
    const pmId = typeof p.payment_method === 'string' ? p.payment_method : null;
    const pm = pmId ? this.paymentMethods.find((x) => x.id === pmId) : undefined;
    if (pmId && !pm) return noSuch('PaymentMethod', pmId, 'payment_method');
    if (pm && pm.customer !== customer)
      return apiError(
        400,
        pm.customer
          ? `The PaymentMethod '${pm.id}' does not belong to the Customer you supplied ${customer ?? '(none)'}.`
          : `The PaymentMethod '${pm.id}' is not attached to a Customer; attach it to '${customer}' first.`,
        'invalid_request_error',
        { code: 'resource_missing', param: 'payment_method' },
      );
    const confirm = p.confirm === 'true';
    if (isTrue(p.off_session) && !confirm)
      return apiError(400, 'You can only set `off_session` when `confirm` is `true`.', 'invalid_request_error', {
        param: 'off_session',
      });
    const pi = this.newPaymentIntent({
      amount,
      currency: String(p.currency).toLowerCase(),
      customer,
      description: p.description ?? null,
      metadata: p.metadata ?? {},
      payment_method: pm?.id ?? null,
      setup_future_usage: p.setup_future_usage ?? null,
      status: pm ? 'requires_confirmation' : 'requires_payment_method',
    });
    if (!confirm || !pm) return { status: 200, body: pi };
    const kind = this.cardBehaviour(pm.id);
    const decline = declineOf(kind);
    const processing = (CARDS[kind] as { processing?: true }).processing;
    const type = this.settle(pi, decline ? 'failed' : processing ? 'processing' : 'succeeded', decline);
    this.emitted.push(this.event(type, pi, idempotencyKey));
    if (!decline) return { status: 200, body: pi };
    const error = { ...clone(pi.last_payment_error), payment_intent: clone(pi), payment_method: clone(pm) };
    return { status: 402, body: { error } };
  }

  /** The bank answers a processing PaymentIntent; returns the event Stripe sends for it. */
  settlePaymentIntent(id: string, outcome: 'succeeded' | 'failed') {
    const pi = this.paymentIntent(id);
    if (pi.status !== 'processing') throw new Error(`stripe double: payment intent ${id} is ${pi.status}`);
    return this.event(this.settle(pi, outcome, CARDS.chargeDeclined.decline), pi);
  }

  paymentIntentsFor(customerId: string): StripeObject[] {
    return this.paymentIntents.filter((pi) => pi.customer === customerId);
  }

  /**
   * Moves the PaymentIntent and its charge (the pending one when there is one) to the outcome and
   * names the event Stripe sends. A failure keeps the card in last_payment_error and, as Stripe does,
   * clears payment_method: the PaymentIntent asks for another one.
   */
  private settle(pi: StripeObject, outcome: 'succeeded' | 'processing' | 'failed', decline?: Decline): string {
    const pending = this.charges.find((c) => c.id === pi.latest_charge && c.status === 'pending');
    const status = outcome === 'processing' ? 'pending' : outcome;
    const charge = pending ?? this.createCharge(pi, status, decline);
    Object.assign(charge, {
      status,
      paid: status === 'succeeded',
      captured: status === 'succeeded',
      amount_captured: status === 'succeeded' ? pi.amount : 0,
      failure_code: decline && status === 'failed' ? decline.code : null,
      failure_message: decline && status === 'failed' ? decline.message : null,
    });
    pi.status = outcome === 'failed' ? 'requires_payment_method' : outcome;
    if (outcome === 'succeeded') pi.amount_received = pi.amount;
    if (outcome !== 'failed') return `payment_intent.${outcome}`;
    const pm = this.paymentMethods.find((x) => x.id === pi.payment_method);
    pi.payment_method = null;
    pi.last_payment_error = {
      type: 'card_error',
      charge: charge.id,
      ...decline,
      doc_url: docUrl(decline!.code),
      payment_method: pm ? clone(pm) : null,
    };
    return 'payment_intent.payment_failed';
  }
}
