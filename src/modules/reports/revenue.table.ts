import type { RevenueReport } from './revenue.service';

const pad = (cells: string[], widths: number[]) =>
  cells
    .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
    .join('  ')
    .trimEnd();

/** The revenue report as the CLI prints it: totals side by side, then one line per discrepancy. */
export function revenueTable(r: RevenueReport): string {
  const s = r.stripe;
  const l = r.ledger;
  const totals: string[][] = [
    ['', 'Stripe', 'Ledger'],
    ['Gross (USD)', s.grossUsd, l.grossUsd],
    ['Refunded (USD)', s.refundedUsd, l.refundedUsd],
    ['Disputed (USD)', s.disputedUsd, l.disputedUsd],
    ['Net (USD)', s.netUsd, l.netUsd],
    ['Paid purchases', String(s.paidSessions + s.topups), String(l.purchases)],
    ['  of which top-ups', String(s.topups), String(l.topups)],
    ['Refunds', String(s.refunds), String(l.refunds)],
    ['Disputes', String(s.disputes), String(l.disputes)],
    ['Credits purchased', '', l.creditsPurchased],
    ['Credits bonus', '', l.creditsBonus],
    ['Credits taken back', '', l.creditsTakenBack],
  ];
  const widths = [0, 1, 2].map((i) => Math.max(...totals.map((row) => row[i].length)));
  const lines = [
    `Revenue reconciliation ${r.period.from} .. ${r.period.to}`,
    '',
    ...totals.map((row) => pad(row, widths)),
    '',
  ];
  if (r.ok) return [...lines, 'OK: no discrepancies', ''].join('\n');
  const head = [
    'kind',
    'object',
    'stripe id',
    'purchase id',
    'ledger transaction',
    'unit',
    'stripe',
    'ledger',
    'detail',
  ];
  const rows = r.discrepancies.map((d) => [
    d.kind,
    d.object,
    d.stripeId ?? '-',
    d.purchaseId ?? '-',
    d.ledgerTransactionId ?? '-',
    d.unit,
    d.stripeAmount,
    d.ledgerAmount,
    d.detail,
  ]);
  const w = head.map((_, i) => Math.max(...[head, ...rows].map((row) => row[i].length)));
  const line = (row: string[]) =>
    row
      .map((c, i) => c.padEnd(w[i]))
      .join('  ')
      .trimEnd();
  const more =
    r.discrepancyCount > r.discrepancies.length ? [`... and ${r.discrepancyCount - r.discrepancies.length} more`] : [];
  return [...lines, `DISCREPANCIES: ${r.discrepancyCount}`, line(head), ...rows.map(line), ...more, ''].join('\n');
}
