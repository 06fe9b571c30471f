import { badRequest } from '../../platform/errors';
import type { RoutedReads } from '../../platform/db/read-router';
import type { Metrics } from '../../platform/metrics';
import { formatCredits, money, type Money } from '../../platform/money';
import type { Period, ReportsRepository } from './reports.repository';
import type { TrialBalanceRows } from './trial-balance.repository';

const DAY_MS = 24 * 3600_000;

/** The contract's default: the last 24 hours. */
export function resolvePeriod(q: { from?: Date; to?: Date }, now = new Date()): Period {
  const to = q.to ?? now;
  const from = q.from ?? new Date(to.getTime() - DAY_MS);
  if (from >= to) throw badRequest('from must be before to', [{ field: 'from', message: 'must be before to' }]);
  return { from, to };
}

const sum = (rows: Array<{ type: string; amount: string }>, type: string): Money =>
  money(rows.find((r) => r.type === type)?.amount ?? '0');

export class ReportsService {
  /** Reports read on the replica when one is configured and fresh (ReadRouter); asOf says when it was. */
  constructor(
    private readonly reads: RoutedReads<ReportsRepository>,
    private readonly metrics?: Metrics,
  ) {}

  /**
   * The trial balance, from one snapshot. Totals are for the period. Invariants are checked from the
   * newest closed period on (incremental: the cost follows the activity since, not the ledger's age),
   * or over the whole ledger with full.
   */
  async credits(period: Period, options: { full?: boolean } = {}) {
    const { value, asOf } = await this.reads.run((repo) => repo.trialBalance.read(period, options.full ?? false));
    return { value: this.trialBalance(period, value), asOf };
  }

  private trialBalance(
    period: Period,
    { since, byType, byAccount, wallets, unbalanced, drift, totals }: TrialBalanceRows,
  ) {
    // credits in wallets = purchased + bonus + adjustments − usage − refunds − disputes (+ reversals)
    const expected = sum(totals, 'purchase')
      .plus(sum(totals, 'bonus'))
      .plus(sum(totals, 'adjustment'))
      .plus(sum(totals, 'usage'))
      .plus(sum(totals, 'refund'))
      .plus(sum(totals, 'dispute'))
      .plus(sum(totals, 'dispute_reversal'));
    const equationOk = expected.eq(wallets.total);
    const equation = {
      walletsTotal: formatCredits(wallets.total),
      purchased: formatCredits(sum(totals, 'purchase')),
      bonus: formatCredits(sum(totals, 'bonus')),
      adjustments: formatCredits(sum(totals, 'adjustment')),
      usage: formatCredits(sum(totals, 'usage').negated()),
      refunds: formatCredits(sum(totals, 'refund').negated()),
      disputes: formatCredits(sum(totals, 'dispute').negated()),
      disputeReversals: formatCredits(sum(totals, 'dispute_reversal')),
      expected: formatCredits(expected),
    };
    const invariants = [
      {
        name: 'transactions_sum_to_zero',
        ok: unbalanced.length === 0,
        offending: unbalanced.map((r) => ({ ...r, sum: formatCredits(r.sum) })),
      },
      {
        name: 'wallets_equal_postings',
        ok: drift.length === 0,
        offending: drift.map((r) => ({ ...r, balance: formatCredits(r.balance), postings: formatCredits(r.postings) })),
      },
      { name: 'wallets_total_equation', ok: equationOk, offending: equationOk ? [] : [equation] },
    ];
    const ok = invariants.every((i) => i.ok);
    this.metrics?.ledgerInvariantsOk.set(ok ? 1 : 0);
    return {
      period: { from: period.from.toISOString(), to: period.to.toISOString() },
      checkedFrom: since ? since.toISOString() : null,
      ok,
      byType: byType.map((r) => ({ ...r, walletAmount: formatCredits(r.walletAmount) })),
      byAccount: byAccount.map((r) => ({
        account: r.account,
        balance: formatCredits(r.balance),
        periodNet: formatCredits(r.periodNet),
      })),
      wallets: { count: wallets.count, total: formatCredits(wallets.total), negative: wallets.negative },
      equation,
      invariants,
    };
  }

  async usage(period: Period, groupBy: 'model' | 'user' | 'day') {
    const { value: rows, asOf } = await this.reads.run((repo) => repo.usage(period, groupBy));
    return { value: this.usageReport(period, groupBy, rows), asOf };
  }

  private usageReport(period: Period, groupBy: 'model' | 'user' | 'day', rows: Array<Record<string, string | number>>) {
    const total = rows.reduce((acc, r) => acc.plus(String(r.credits)), money(0));
    const add = (key: string) => rows.reduce((acc, r) => acc.plus(String(r[key])), money(0));
    return {
      period: { from: period.from.toISOString(), to: period.to.toISOString() },
      groupBy,
      totals: {
        requests: rows.reduce((n, r) => n + Number(r.requests), 0),
        inputTokens: add('inputTokens').toFixed(),
        cachedInputTokens: add('cachedInputTokens').toFixed(),
        outputTokens: add('outputTokens').toFixed(),
        credits: formatCredits(total),
        usdAtCost: formatCredits(add('usdAtCost')),
        usdAtPrice: formatCredits(add('usdAtPrice')),
      },
      data: rows.map((r) => ({
        group: String(r.group),
        requests: Number(r.requests),
        inputTokens: String(r.inputTokens),
        cachedInputTokens: String(r.cachedInputTokens),
        outputTokens: String(r.outputTokens),
        credits: formatCredits(String(r.credits)),
        usdAtCost: formatCredits(String(r.usdAtCost)),
        usdAtPrice: formatCredits(String(r.usdAtPrice)),
        share: total.isZero() ? '0' : formatCredits(money(String(r.credits)).div(total).toDecimalPlaces(6)),
      })),
    };
  }
}
