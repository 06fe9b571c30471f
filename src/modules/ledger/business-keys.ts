/**
 * Business keys: the identity of each ledger transaction (unique ledger_transactions.business_key),
 * so one business fact posts once however often it is retried. This module is the one statement of
 * the protocol: it builds and parses every key, and gives the SQL fragments that read them. The usage
 * key is built in SQL by billing_usage_business_key (prisma/sql/functions); a test holds the two equal.
 *
 *   usage:<length of userId>:<userId>:<requestId>           a charge of one LLM call
 *   adjustment:<length of admin>:<admin>:<Idempotency-Key>  an admin's adjustment
 *   stripe:purchase:<purchase id>, stripe:bonus:<purchase id>
 *   stripe:topup:<PaymentIntent id>, stripe:topup_bonus:<PaymentIntent id>  an auto top-up's credits
 *   stripe:refund:<purchase id>:<cumulative cents refunded>  one per refund step
 *   stripe:dispute:<dispute id>, stripe:dispute_reversal:<dispute id>
 *
 * A caller-chosen part that may hold ':' is preceded by its length, so two facts never share a key.
 */

// The usage key's length counts characters as PostgreSQL's length() does (code points). The
// adjustment key's counts UTF-16 units, as every adjustment key already posted was written.
const codePoints = (s: string) => [...s].length;

export const STRIPE_PREFIX = {
  /** Every key a Stripe event posted. */
  any: 'stripe:',
  purchase: 'stripe:purchase:',
  bonus: 'stripe:bonus:',
  refund: 'stripe:refund:',
  dispute: 'stripe:dispute:',
  disputeReversal: 'stripe:dispute_reversal:',
  topup: 'stripe:topup:',
  topupBonus: 'stripe:topup_bonus:',
  /** Both dispute kinds: stripe:dispute: and stripe:dispute_reversal: */
  anyDispute: 'stripe:dispute',
} as const;

export const businessKey = {
  usage: (userId: string, requestId: string) => `usage:${codePoints(userId)}:${userId}:${requestId}`,
  adjustment: (admin: string, idempotencyKey: string) => `adjustment:${admin.length}:${admin}:${idempotencyKey}`,
  stripePurchase: (purchaseId: string) => `${STRIPE_PREFIX.purchase}${purchaseId}`,
  stripeBonus: (purchaseId: string) => `${STRIPE_PREFIX.bonus}${purchaseId}`,
  stripeTopup: (paymentIntentId: string) => `${STRIPE_PREFIX.topup}${paymentIntentId}`,
  stripeTopupBonus: (paymentIntentId: string) => `${STRIPE_PREFIX.topupBonus}${paymentIntentId}`,
  stripeRefund: (purchaseId: string, cumulativeRefundedCents: number) =>
    `${STRIPE_PREFIX.refund}${purchaseId}:${cumulativeRefundedCents}`,
  stripeDispute: (disputeId: string) => `${STRIPE_PREFIX.dispute}${disputeId}`,
  stripeDisputeReversal: (disputeId: string) => `${STRIPE_PREFIX.disputeReversal}${disputeId}`,
};

export type ParsedBusinessKey =
  | { kind: 'usage'; userId: string; requestId: string }
  | { kind: 'adjustment'; admin: string; idempotencyKey: string }
  | {
      kind:
        | 'stripe_purchase'
        | 'stripe_bonus'
        | 'stripe_topup'
        | 'stripe_topup_bonus'
        | 'stripe_dispute'
        | 'stripe_dispute_reversal';
      objectId: string;
    }
  | { kind: 'stripe_refund'; objectId: string; cumulativeRefundedCents: number };

/** "<n>:<n units of owner>:<rest>" → [owner, rest], with n counted by `unitsOf`'s split. */
function lengthPrefixed(s: string, units: (s: string) => string[]): [string, string] | null {
  const m = /^(\d{1,4}):/.exec(s);
  if (!m) return null;
  const n = Number(m[1]);
  const chars = units(s.slice(m[0].length));
  if (chars.length <= n || chars[n] !== ':') return null;
  return [chars.slice(0, n).join(''), chars.slice(n + 1).join('')];
}

/** The parts of a key this module built; null for anything else. */
export function parseBusinessKey(key: string): ParsedBusinessKey | null {
  const [head, kind, ...rest] = key.split(':');
  if (head === 'usage') {
    const parts = lengthPrefixed(key.slice('usage:'.length), (s) => [...s]);
    return parts && { kind: 'usage', userId: parts[0], requestId: parts[1] };
  }
  if (head === 'adjustment') {
    const parts = lengthPrefixed(key.slice('adjustment:'.length), (s) => s.split(''));
    return parts && { kind: 'adjustment', admin: parts[0], idempotencyKey: parts[1] };
  }
  if (head !== 'stripe' || !rest[0]) return null;
  if (kind === 'refund') {
    const cents = Number(rest[1]);
    return rest.length === 2 && Number.isSafeInteger(cents)
      ? { kind: 'stripe_refund', objectId: rest[0], cumulativeRefundedCents: cents }
      : null;
  }
  if (rest.length !== 1) return null;
  const kinds = ['purchase', 'bonus', 'topup', 'topup_bonus', 'dispute', 'dispute_reversal'] as const;
  if (kinds.includes(kind as (typeof kinds)[number])) {
    return { kind: `stripe_${kind as (typeof kinds)[number]}`, objectId: rest[0] };
  }
  return null;
}

/** The purchase, PaymentIntent (top-up) or dispute id a Stripe key names. */
export function stripeObjectId(key: string): string | null {
  const parsed = parseBusinessKey(key);
  return parsed && 'objectId' in parsed ? parsed.objectId : null;
}

/** SQL fragments over a business_key column or a purchase / PaymentIntent / dispute id (trusted SQL text only). */
export const businessKeySql = {
  stripePurchase: (purchaseIdText: string) => `'${STRIPE_PREFIX.purchase}' || ${purchaseIdText}`,
  stripeBonus: (purchaseIdText: string) => `'${STRIPE_PREFIX.bonus}' || ${purchaseIdText}`,
  stripeTopup: (paymentIntentIdText: string) => `'${STRIPE_PREFIX.topup}' || ${paymentIntentIdText}`,
  stripeTopupBonus: (paymentIntentIdText: string) => `'${STRIPE_PREFIX.topupBonus}' || ${paymentIntentIdText}`,
  stripeDisputeReversal: (disputeIdText: string) => `'${STRIPE_PREFIX.disputeReversal}' || ${disputeIdText}`,
  /** The purchase or dispute id of a stripe:<kind>:<id>[:<cents>] key. */
  stripeObjectId: (keyColumn: string) => `split_part(${keyColumn}, ':', 3)`,
  /** The cumulative cents refunded that a stripe:refund: key carries. */
  refundedCents: (keyColumn: string) => `split_part(${keyColumn}, ':', 4)::bigint`,
};
