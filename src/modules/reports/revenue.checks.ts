import { formatCredits, money, usdFromCents } from '../../platform/money';
import { share } from '../webhooks/webhooks.rules';
import type { PurchaseMatch } from './revenue.repository';
import type { DisputeRef, SessionRef, TopupRef } from './revenue.stripe';

export type DiscrepancyKind = 'missing_in_ledger' | 'missing_in_stripe' | 'amount_mismatch';

/** One disagreement, with the ids on both sides and both amounts (unit says which money). */
export interface Discrepancy {
  kind: DiscrepancyKind;
  object: 'checkout_session' | 'payment_intent' | 'refund' | 'dispute';
  stripeId: string | null;
  purchaseId: string | null;
  ledgerTransactionId: string | null;
  unit: 'usd' | 'credits';
  stripeAmount: string;
  ledgerAmount: string;
  detail: string;
}

const credits = (v: string | null | undefined) => formatCredits(v ?? '0');

/** A payment Stripe took: a paid Checkout Session, or an auto top-up's succeeded PaymentIntent. */
interface Paid {
  id: string;
  amountCents: number | null;
  currency: string | null;
  purchaseId: string | null;
}

const PAID = {
  checkout_session: { paid: 'paid in Stripe', what: 'this Checkout Session' },
  payment_intent: { paid: 'succeeded in Stripe', what: "this top-up's PaymentIntent" },
} as const;

/** A paid Checkout Session against its purchase and the credits the ledger posted for it. */
export const checkSession = (s: SessionRef, p: PurchaseMatch | undefined) => checkPaid('checkout_session', s, p);

/** An auto top-up's succeeded PaymentIntent against its purchase and its stripe:topup / stripe:topup_bonus credits. */
export const checkTopup = (pi: TopupRef, p: PurchaseMatch | undefined) =>
  checkPaid('payment_intent', { ...pi, purchaseId: null }, p);

function checkPaid(object: keyof typeof PAID, s: Paid, p: PurchaseMatch | undefined): Discrepancy[] {
  const words = PAID[object];
  const base = { object, stripeId: s.id, purchaseId: p?.purchaseId ?? s.purchaseId };
  const notInLedger = (detail: string): Discrepancy[] => [
    {
      ...base,
      kind: 'missing_in_ledger',
      ledgerTransactionId: null,
      unit: 'usd',
      stripeAmount: usdFromCents(s.amountCents),
      ledgerAmount: usdFromCents(0),
      detail,
    },
  ];
  if (!p) return notInLedger(`${words.paid}, no purchase records ${words.what}`);
  if (s.amountCents !== p.priceCents || s.currency !== p.currency) {
    return [
      {
        ...base,
        kind: 'amount_mismatch',
        ledgerTransactionId: p.purchaseTransactionId,
        unit: 'usd',
        stripeAmount: usdFromCents(s.amountCents),
        ledgerAmount: usdFromCents(p.priceCents),
        detail:
          `Stripe charged ${s.amountCents ?? 'null'} ${s.currency ?? 'null'}, ` +
          `the package was sold at ${p.priceCents} ${p.currency}`,
      },
    ];
  }
  if (!p.purchaseTransactionId) return notInLedger(`${words.paid}, never credited`);
  const found: Discrepancy[] = [];
  if (!money(p.credited ?? 0).eq(p.credits)) {
    found.push({
      ...base,
      kind: 'amount_mismatch',
      ledgerTransactionId: p.purchaseTransactionId,
      unit: 'credits',
      stripeAmount: credits(p.credits),
      ledgerAmount: credits(p.credited),
      detail: 'credits posted differ from the package bought',
    });
  }
  if (!money(p.bonusCredited ?? 0).eq(p.bonusCredits)) {
    found.push({
      ...base,
      kind: 'amount_mismatch',
      ledgerTransactionId: p.bonusTransactionId ?? p.purchaseTransactionId,
      unit: 'credits',
      stripeAmount: credits(p.bonusCredits),
      ledgerAmount: credits(p.bonusCredited),
      detail: 'bonus credits posted differ from the package bought',
    });
  }
  return found;
}

/** A purchase credited in the period whose session Stripe does not show as paid. */
export function unpaidInStripe(
  sessionId: string | null,
  p: PurchaseMatch | undefined,
  purchaseId: string,
  transactionId: string,
  session: SessionRef | null,
): Discrepancy {
  return {
    kind: 'missing_in_stripe',
    object: 'checkout_session',
    stripeId: sessionId,
    purchaseId,
    ledgerTransactionId: transactionId,
    unit: 'usd',
    stripeAmount: usdFromCents(0),
    ledgerAmount: usdFromCents(p ? (p.amountPaidCents ?? p.priceCents) : 0),
    detail: !p
      ? 'ledger credit for an unknown purchase'
      : !session
        ? 'credited, but Stripe has no such Checkout Session'
        : `credited, but the session is ${session.paid ? 'paid' : 'not paid'} in Stripe`,
  };
}

/** An auto top-up credited in the period whose PaymentIntent Stripe does not show as a succeeded top-up. */
export function unconfirmedTopup(
  paymentIntentId: string,
  p: PurchaseMatch | undefined,
  transactionId: string,
  pi: TopupRef | null,
): Discrepancy {
  return {
    kind: 'missing_in_stripe',
    object: 'payment_intent',
    stripeId: paymentIntentId,
    purchaseId: p?.purchaseId ?? null,
    ledgerTransactionId: transactionId,
    unit: 'usd',
    stripeAmount: usdFromCents(0),
    ledgerAmount: usdFromCents(p ? (p.amountPaidCents ?? p.priceCents) : 0),
    detail: !pi
      ? 'credited, but Stripe has no such PaymentIntent'
      : pi.isTopup
        ? `credited, but the PaymentIntent is ${pi.status} in Stripe`
        : "credited, but the PaymentIntent is not an auto top-up's",
  };
}

/** Stripe's cumulative refund of a payment against the purchase's record and the credits the ledger took back. */
export function checkRefunds(
  p: PurchaseMatch,
  stripeCents: number,
  ledger: { transactions: number; lastTransactionId: string; credits: string } | undefined,
  refundId: string | null,
): Discrepancy[] {
  const base = {
    object: 'refund' as const,
    stripeId: refundId ?? p.paymentIntentId,
    purchaseId: p.purchaseId,
    ledgerTransactionId: ledger?.lastTransactionId ?? null,
  };
  if (stripeCents === 0 && ledger) {
    return [
      {
        ...base,
        kind: 'missing_in_stripe',
        unit: 'usd',
        stripeAmount: usdFromCents(0),
        ledgerAmount: usdFromCents(p.amountRefundedCents),
        detail: 'credits taken back for a refund Stripe does not show',
      },
    ];
  }
  if (stripeCents > 0 && !ledger) {
    return [
      {
        ...base,
        kind: 'missing_in_ledger',
        unit: 'usd',
        stripeAmount: usdFromCents(stripeCents),
        ledgerAmount: usdFromCents(p.amountRefundedCents),
        detail: 'refunded in Stripe, no credits taken back',
      },
    ];
  }
  if (stripeCents !== p.amountRefundedCents) {
    return [
      {
        ...base,
        kind: 'amount_mismatch',
        unit: 'usd',
        stripeAmount: usdFromCents(stripeCents),
        ledgerAmount: usdFromCents(p.amountRefundedCents),
        detail: 'cumulative refunded amount differs',
      },
    ];
  }
  const expected = share(p, stripeCents);
  if (!expected.eq(ledger?.credits ?? 0)) {
    return [
      {
        ...base,
        kind: 'amount_mismatch',
        unit: 'credits',
        stripeAmount: formatCredits(expected),
        ledgerAmount: credits(ledger?.credits),
        detail: 'credits taken back differ from the refunded share',
      },
    ];
  }
  return [];
}

/** A dispute must have taken back its share; a won one must have given it back, and only a won one. */
export function checkDispute(
  d: DisputeRef,
  p: PurchaseMatch | undefined,
  taken: { transactionId: string; amount: string | null } | undefined,
  reversal: { transactionId: string; amount: string | null } | undefined,
): Discrepancy[] {
  const base = { object: 'dispute' as const, stripeId: d.id, purchaseId: p?.purchaseId ?? null };
  if (!p || !taken) {
    return [
      {
        ...base,
        kind: 'missing_in_ledger',
        ledgerTransactionId: null,
        unit: 'usd',
        stripeAmount: usdFromCents(d.amountCents),
        ledgerAmount: usdFromCents(0),
        detail: p ? 'disputed in Stripe, no credits taken back' : 'disputed payment matches no purchase',
      },
    ];
  }
  const expected = share(p, d.amountCents);
  const takenBack = money(taken.amount ?? 0).negated();
  if (!takenBack.eq(expected)) {
    return [
      {
        ...base,
        kind: 'amount_mismatch',
        ledgerTransactionId: taken.transactionId,
        unit: 'credits',
        stripeAmount: formatCredits(expected),
        ledgerAmount: formatCredits(takenBack),
        detail: 'credits taken back differ from the disputed share',
      },
    ];
  }
  if (d.status === 'won' && !reversal) {
    return [
      {
        ...base,
        kind: 'missing_in_ledger',
        ledgerTransactionId: taken.transactionId,
        unit: 'credits',
        stripeAmount: formatCredits(expected),
        ledgerAmount: '0',
        detail: 'dispute won in Stripe, credits not given back',
      },
    ];
  }
  if (d.status !== 'won' && reversal) {
    return [
      {
        ...base,
        kind: 'missing_in_stripe',
        ledgerTransactionId: reversal.transactionId,
        unit: 'credits',
        stripeAmount: '0',
        ledgerAmount: credits(reversal.amount),
        detail: `credits given back, but the dispute is ${d.status} in Stripe`,
      },
    ];
  }
  if (reversal && !money(reversal.amount ?? 0).eq(takenBack)) {
    return [
      {
        ...base,
        kind: 'amount_mismatch',
        ledgerTransactionId: reversal.transactionId,
        unit: 'credits',
        stripeAmount: formatCredits(takenBack),
        ledgerAmount: credits(reversal.amount),
        detail: 'reversal differs from what the dispute took',
      },
    ];
  }
  return [];
}
