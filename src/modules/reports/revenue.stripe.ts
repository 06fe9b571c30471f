import type { Stripe } from '../../platform/stripe';
import type { Period } from './reports.repository';

/** The few fields of a Stripe object the reconciliation reads: whole objects are never kept. */
export interface SessionRef {
  id: string;
  paid: boolean;
  amountCents: number | null;
  currency: string | null;
  purchaseId: string | null;
}

/** An auto top-up's off-session PaymentIntent (one whose metadata names its attempt). */
export interface TopupRef {
  id: string;
  status: string;
  /** Created by the auto top-up worker: its metadata carries the attempt's id. */
  isTopup: boolean;
  amountCents: number;
  currency: string;
}

export interface RefundRef {
  id: string;
  paymentIntentId: string | null;
  amountCents: number;
  currency: string;
  counts: boolean;
}

export interface DisputeRef {
  id: string;
  paymentIntentId: string | null;
  amountCents: number;
  currency: string;
  status: string;
}

const idOf = (v: string | { id: string } | null | undefined): string | null =>
  typeof v === 'string' ? v : (v?.id ?? null);

const toSession = (s: Stripe.Checkout.Session): SessionRef => ({
  id: s.id,
  paid: s.payment_status === 'paid',
  amountCents: s.amount_total ?? null,
  currency: s.currency?.toLowerCase() ?? null,
  purchaseId: s.metadata?.purchaseId ?? null,
});

const toTopup = (pi: Stripe.PaymentIntent): TopupRef => ({
  id: pi.id,
  status: pi.status,
  isTopup: Boolean(pi.metadata?.topupId),
  amountCents: pi.amount_received,
  currency: pi.currency.toLowerCase(),
});

const toDispute = (d: Stripe.Dispute): DisputeRef => ({
  id: d.id,
  paymentIntentId: idOf(d.payment_intent),
  amountCents: d.amount,
  currency: d.currency.toLowerCase(),
  status: d.status,
});

const isMissing = (error: unknown) => (error as { statusCode?: number }).statusCode === 404;

/** Groups an auto-paginating iterator into batches of one API page, mapped to refs as they arrive. */
async function* pages<T, R>(items: AsyncIterable<T>, size: number, map: (item: T) => R): AsyncGenerator<R[]> {
  let batch: R[] = [];
  for await (const item of items) {
    batch.push(map(item));
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

/**
 * Reads Stripe for the revenue report with the SDK's auto-pagination, one page in memory at a
 * time. Stripe's `created` is in whole seconds: [from, to) becomes gte ceil(from), lt ceil(to).
 */
export class StripeRevenueSource {
  constructor(
    private readonly stripe: Stripe,
    readonly pageSize = 100,
  ) {}

  private created(p: Period) {
    return { gte: Math.ceil(p.from.getTime() / 1000), lt: Math.ceil(p.to.getTime() / 1000) };
  }

  sessions(p: Period): AsyncGenerator<SessionRef[]> {
    return pages(
      this.stripe.checkout.sessions.list({ created: this.created(p), limit: this.pageSize }),
      this.pageSize,
      toSession,
    );
  }

  /** Every PaymentIntent created in the period (Checkout's too): the caller keeps the top-ups. */
  paymentIntents(p: Period): AsyncGenerator<TopupRef[]> {
    return pages(
      this.stripe.paymentIntents.list({ created: this.created(p), limit: this.pageSize }),
      this.pageSize,
      toTopup,
    );
  }

  refunds(p: Period): AsyncGenerator<RefundRef[]> {
    return pages(this.stripe.refunds.list({ created: this.created(p), limit: this.pageSize }), this.pageSize, (r) => ({
      id: r.id,
      paymentIntentId: idOf(r.payment_intent),
      amountCents: r.amount,
      currency: r.currency.toLowerCase(),
      // A failed or canceled refund returned no money.
      counts: r.status === 'succeeded' || r.status === 'pending',
    }));
  }

  disputes(p: Period): AsyncGenerator<DisputeRef[]> {
    return pages(
      this.stripe.disputes.list({ created: this.created(p), limit: this.pageSize }),
      this.pageSize,
      toDispute,
    );
  }

  async session(id: string): Promise<SessionRef | null> {
    try {
      return toSession(await this.stripe.checkout.sessions.retrieve(id));
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async paymentIntent(id: string): Promise<TopupRef | null> {
    try {
      return toTopup(await this.stripe.paymentIntents.retrieve(id));
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async dispute(id: string): Promise<DisputeRef | null> {
    try {
      return toDispute(await this.stripe.disputes.retrieve(id));
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  /** Stripe's cumulative refunded amount for a payment (all its charges), whenever refunded. */
  async refundedCents(paymentIntentId: string): Promise<number> {
    let cents = 0;
    for await (const charge of this.stripe.charges.list({ payment_intent: paymentIntentId, limit: 100 }))
      cents += charge.amount_refunded;
    return cents;
  }
}
