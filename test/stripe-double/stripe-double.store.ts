import { randomBytes } from 'node:crypto';
import type { FormValue } from './form-decode';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type StripeObject = Record<string, any> & { id: string; object: string; created: number };

export const stripeId = (prefix: string) => `${prefix}_test_${randomBytes(12).toString('hex')}`;
const now = () => Math.floor(Date.now() / 1000);
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

/**
 * The Stripe-shaped objects the double holds, and the test controls that move them the way a
 * customer, a bank or a card network would. Each control returns the Stripe event to deliver.
 */
export class StripeDoubleStore {
  readonly sessions: StripeObject[] = [];
  readonly paymentIntents: StripeObject[] = [];
  readonly charges: StripeObject[] = [];
  readonly refunds: StripeObject[] = [];
  readonly disputes: StripeObject[] = [];

  createSession(p: Record<string, FormValue>, origin: string): StripeObject {
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
      payment_status: 'unpaid',
      amount_subtotal: amount,
      amount_total: amount,
      currency: String(items[0]?.price_data?.currency ?? 'usd'),
      client_reference_id: p.client_reference_id ?? null,
      metadata: p.metadata ?? {},
      payment_intent: null,
      success_url: p.success_url,
      cancel_url: p.cancel_url,
      url: `${origin}/c/pay/${id}`,
    };
    this.sessions.push(session);
    return session;
  }

  session(id: string): StripeObject {
    const s = this.sessions.find((x) => x.id === id);
    if (!s) throw new Error(`stripe double: no session ${id}`);
    return s;
  }

  charge(idOrSession: string): StripeObject {
    const pi = idOrSession.startsWith('cs_') ? this.session(idOrSession).payment_intent : undefined;
    const c = this.charges.find((x) => x.id === idOrSession || (pi && x.payment_intent === pi));
    if (!c) throw new Error(`stripe double: no charge for ${idOrSession}`);
    return c;
  }

  /** The customer finishes Checkout. Card: paid now. Delayed method (`async`): paid later or failed. */
  completeSession(id: string, o: { async?: boolean; amountTotal?: number; currency?: string; created?: number } = {}) {
    const s = this.session(id);
    if (o.amountTotal !== undefined) s.amount_total = o.amountTotal;
    if (o.currency !== undefined) s.currency = o.currency;
    s.status = 'complete';
    this.createPayment(s, o.created);
    if (!o.async) s.payment_status = 'paid';
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
  refund(idOrSession: string, amount: number, o: { created?: number } = {}) {
    const c = this.charge(idOrSession);
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

  openDispute(idOrSession: string, o: { amount?: number; created?: number } = {}) {
    const c = this.charge(idOrSession);
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

  /** A Stripe event (snapshot of the object now) as Stripe would POST it. */
  event(type: string, object: StripeObject) {
    return {
      id: stripeId('evt'),
      object: 'event',
      api_version: '2026-10-28.endive',
      created: now(),
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
      data: { object: clone(object) },
    };
  }

  private createPayment(s: StripeObject, created = now()) {
    if (s.payment_intent) return;
    const pi: StripeObject = {
      id: stripeId('pi'),
      object: 'payment_intent',
      created,
      amount: s.amount_total,
      currency: s.currency,
      status: 'succeeded',
      metadata: s.metadata,
    };
    const charge: StripeObject = {
      id: stripeId('ch'),
      object: 'charge',
      created,
      amount: s.amount_total,
      amount_captured: s.amount_total,
      amount_refunded: 0,
      currency: s.currency,
      paid: true,
      captured: true,
      refunded: false,
      disputed: false,
      payment_intent: pi.id,
      status: 'succeeded',
      metadata: s.metadata,
      livemode: false,
      refunds: { object: 'list', data: [], has_more: false, total_count: 0, url: '' },
    };
    pi.latest_charge = charge.id;
    this.paymentIntents.push(pi);
    this.charges.push(charge);
    s.payment_intent = pi.id;
  }
}

export type StripeEventObject = ReturnType<StripeDoubleStore['event']>;
