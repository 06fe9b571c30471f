import type { RevenueReport } from './revenue.service';

/** One table for a spreadsheet: the totals side by side (Stripe | ledger), then one row per discrepancy. */
export function revenueCsvRows(r: RevenueReport): Array<Record<string, unknown>> {
  const row = (o: Record<string, unknown>) => ({
    section: '',
    kind: '',
    object: '',
    stripeId: '',
    purchaseId: '',
    ledgerTransactionId: '',
    unit: '',
    stripeAmount: '',
    ledgerAmount: '',
    detail: '',
    ...o,
  });
  const total = (kind: string, unit: string, stripe: unknown, ledger: unknown) =>
    row({ section: 'total', kind, unit, stripeAmount: stripe, ledgerAmount: ledger });
  return [
    total('gross', 'usd', r.stripe.grossUsd, r.ledger.grossUsd),
    total('refunded', 'usd', r.stripe.refundedUsd, r.ledger.refundedUsd),
    total('disputed', 'usd', r.stripe.disputedUsd, r.ledger.disputedUsd),
    total('net', 'usd', r.stripe.netUsd, r.ledger.netUsd),
    total('purchases', 'count', r.stripe.paidSessions + r.stripe.topups, r.ledger.purchases),
    total('topups', 'count', r.stripe.topups, r.ledger.topups),
    total('refunds', 'count', r.stripe.refunds, r.ledger.refunds),
    total('disputes', 'count', r.stripe.disputes, r.ledger.disputes),
    total('credits_purchased', 'credits', '', r.ledger.creditsPurchased),
    total('credits_bonus', 'credits', '', r.ledger.creditsBonus),
    total('credits_taken_back', 'credits', '', r.ledger.creditsTakenBack),
    ...r.discrepancies.map((d) => row({ section: 'discrepancy', ...d })),
  ];
}
