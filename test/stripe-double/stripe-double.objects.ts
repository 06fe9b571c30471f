import { randomBytes } from 'node:crypto';

/* eslint-disable @typescript-eslint/no-explicit-any */
export type StripeObject = Record<string, any> & { id: string; object: string; created: number };

/** An HTTP answer of the double: a Stripe object or a Stripe error body. */
export interface Reply {
  status: number;
  body: unknown;
}

export const stripeId = (prefix: string) => `${prefix}_test_${randomBytes(12).toString('hex')}`;
export const now = () => Math.floor(Date.now() / 1000);
export const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

/** Stripe's error body: `{error:{type, message, code?, param?, …}}` (card errors carry more fields). */
export function apiError(
  status: number,
  message: string,
  type = 'invalid_request_error',
  extra: Record<string, unknown> = {},
): Reply {
  return { status, body: { error: { type, message, ...extra } } };
}

/** Stripe's answer when an id names nothing: 404 for the path's id, 400 for a parameter's. */
export const noSuch = (kind: string, id: string, param?: string) =>
  apiError(param ? 400 : 404, `No such ${kind}: '${id}'`, 'invalid_request_error', {
    code: 'resource_missing',
    ...(param ? { param } : {}),
  });

/**
 * The object lists every part of the double shares, the events it recorded, and lookups by id.
 * Parts (cards, intents, checkout) extend this class in turn, so the store stays one object.
 */
export class StripeDoubleBase {
  readonly sessions: StripeObject[] = [];
  readonly paymentIntents: StripeObject[] = [];
  readonly charges: StripeObject[] = [];
  readonly refunds: StripeObject[] = [];
  readonly disputes: StripeObject[] = [];
  readonly customers: StripeObject[] = [];
  readonly paymentMethods: StripeObject[] = [];
  readonly setupIntents: StripeObject[] = [];
  /** Events the API calls caused (Stripe would POST them); the test delivers them itself. */
  readonly emitted: StripeEventObject[] = [];

  /** A Stripe event (snapshot of the object now) as Stripe would POST it. */
  event(type: string, object: StripeObject, idempotencyKey?: string) {
    return {
      id: stripeId('evt'),
      object: 'event',
      api_version: '2026-10-28.endive',
      created: now(),
      livemode: false,
      pending_webhooks: 1,
      request: idempotencyKey
        ? { id: `req_${randomBytes(8).toString('hex')}`, idempotency_key: idempotencyKey }
        : { id: null, idempotency_key: null },
      type,
      data: { object: clone(object) },
    };
  }

  /** Removes and returns the recorded events (all, those of one type, or those a predicate picks), oldest first. */
  takeEvents(filter?: string | ((e: StripeEventObject) => boolean)): StripeEventObject[] {
    const pick = typeof filter === 'string' ? (e: StripeEventObject) => e.type === filter : (filter ?? (() => true));
    const taken = this.emitted.filter(pick);
    const rest = this.emitted.filter((e) => !taken.includes(e));
    this.emitted.splice(0, this.emitted.length, ...rest);
    return taken;
  }

  /** Any object the double holds, by id (used to expand references). */
  find(id: string): StripeObject | undefined {
    const all = [
      this.sessions,
      this.paymentIntents,
      this.charges,
      this.refunds,
      this.disputes,
      this.customers,
      this.paymentMethods,
      this.setupIntents,
    ];
    for (const list of all) {
      const found = list.find((o) => o.id === id);
      if (found) return found;
    }
    return undefined;
  }

  session(id: string): StripeObject {
    const s = this.sessions.find((x) => x.id === id);
    if (!s) throw new Error(`stripe double: no session ${id}`);
    return s;
  }

  paymentIntent(id: string): StripeObject {
    const pi = this.paymentIntents.find((x) => x.id === id);
    if (!pi) throw new Error(`stripe double: no payment intent ${id}`);
    return pi;
  }

  /** The charge itself (`ch_…`), or the latest charge of a PaymentIntent (`pi_…`) or Checkout Session (`cs_…`). */
  charge(idOrSessionOrPi: string): StripeObject {
    let id = idOrSessionOrPi;
    if (id.startsWith('cs_')) id = this.session(id).payment_intent ?? id;
    if (id.startsWith('pi_')) id = this.paymentIntent(id).latest_charge ?? id;
    const c = this.charges.find((x) => x.id === id);
    if (!c) throw new Error(`stripe double: no charge for ${idOrSessionOrPi}`);
    return c;
  }
}

export type StripeEventObject = ReturnType<StripeDoubleBase['event']>;
