/**
 * The few fields of Stripe's objects that the rules read. Events arrive as JSON, so these are
 * read defensively: an id may also come expanded as an object.
 */
export interface SessionObject {
  id: string;
  /** payment (a purchase) or setup (saving a card) */
  mode?: string | null;
  customer?: string | { id: string } | null;
  setup_intent?: string | { id: string } | null;
  payment_status?: string;
  amount_total?: number | null;
  currency?: string | null;
  payment_intent?: string | { id: string } | null;
  metadata?: Record<string, string> | null;
}

export interface ChargeObject {
  id: string;
  amount: number;
  amount_refunded: number;
  payment_intent?: string | { id: string } | null;
  refunds?: { data?: { id: string; created?: number }[] } | null;
}

export interface DisputeObject {
  id: string;
  amount: number;
  status: string;
  charge?: string | { id: string } | null;
  payment_intent?: string | { id: string } | null;
}

export interface PaymentIntentObject {
  id: string;
  status: string;
  amount: number;
  amount_received?: number | null;
  metadata?: Record<string, string> | null;
  last_payment_error?: { code?: string | null; decline_code?: string | null } | null;
}

export const idOf = (v: string | { id: string } | null | undefined): string | null =>
  typeof v === 'string' ? v : (v?.id ?? null);

/** Credit movements an event caused, for the counters once the transaction has committed. */
export interface Effects {
  purchased?: string;
  bonus?: string;
  refunded?: string;
  disputed?: string;
  reinstated?: string;
  mismatch?: boolean;
}

export const HANDLED_TYPES = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
  'charge.refunded',
  'charge.dispute.created',
  'charge.dispute.closed',
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
] as const;
