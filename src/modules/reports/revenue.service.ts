import type { RoutedReads } from '../../platform/db/read-router';
import { stripeNotConfigured } from '../../platform/errors';
import { formatCredits, money, usdFromCents } from '../../platform/money';
import { businessKey, STRIPE_PREFIX, stripeObjectId } from '../ledger/business-keys';
import type { Period } from './reports.repository';
import {
  checkDispute,
  checkRefunds,
  checkSession,
  checkTopup,
  unconfirmedTopup,
  unpaidInStripe,
  type Discrepancy,
} from './revenue.checks';
import { type LedgerRow, type PurchaseMatch, type RevenueRepository } from './revenue.repository';
import type { StripeRevenueSource } from './revenue.stripe';

/** At most this many discrepancies are listed (all are counted): a broken webhook must not build a huge answer. */
const MAX_LISTED = 1000;

const keyPart = (row: LedgerRow) => stripeObjectId(row.businessKey) ?? '';
const index = <T>(rows: T[], key: (r: T) => string | null) =>
  new Map(rows.flatMap((r) => (key(r) ? [[key(r)!, r] as const] : [])));

/**
 * Stripe against the ledger for one period. Each Stripe list is walked page by page with one
 * batched database lookup per page; the ledger is walked the other way in keyset pages, so a
 * credit Stripe does not know about is found too. Only ids stay in memory between pages.
 */
class Reconciliation {
  readonly discrepancies: Discrepancy[] = [];
  count = 0;
  readonly stripe = {
    paidSessions: 0,
    topups: 0,
    grossCents: 0,
    refunds: 0,
    refundedCents: 0,
    disputes: 0,
    disputedCents: 0,
  };
  private readonly paidSessions = new Set<string>();
  private readonly paidTopups = new Set<string>();
  private readonly refundChecked = new Set<string>();
  private readonly disputesSeen = new Set<string>();

  constructor(
    private readonly repo: RevenueRepository,
    private readonly source: StripeRevenueSource,
    private readonly period: Period,
  ) {}

  private add(found: Discrepancy[]) {
    this.count += found.length;
    this.discrepancies.push(...found.slice(0, Math.max(0, MAX_LISTED - this.discrepancies.length)));
  }

  private async *ledger(types: string[], prefix: string): AsyncGenerator<LedgerRow[]> {
    let after: LedgerRow | null = null;
    for (;;) {
      const rows = await this.repo.ledgerPage(this.period, types, prefix, after, this.source.pageSize);
      if (rows.length) yield rows;
      if (rows.length < this.source.pageSize) return;
      after = rows[rows.length - 1];
    }
  }

  async sessions() {
    for await (const page of this.source.sessions(this.period)) {
      const paid = page.filter((s) => s.paid);
      if (!paid.length) continue;
      const matches = await this.repo.purchasesForSessions(
        paid.map((s) => s.id),
        paid.flatMap((s) => (s.purchaseId ? [s.purchaseId] : [])),
      );
      const bySession = index(matches, (m) => m.sessionId);
      const unlinked = index(
        matches.filter((m) => !m.sessionId),
        (m) => m.purchaseId,
      );
      for (const s of paid) {
        this.paidSessions.add(s.id);
        this.stripe.paidSessions += 1;
        if (s.currency === 'usd') this.stripe.grossCents += s.amountCents ?? 0;
        this.add(checkSession(s, bySession.get(s.id) ?? (s.purchaseId ? unlinked.get(s.purchaseId) : undefined)));
      }
    }
    for await (const rows of this.ledger(['purchase'], STRIPE_PREFIX.purchase)) {
      const purchases = index(await this.repo.purchasesByIds(rows.map(keyPart)), (m) => m.purchaseId);
      for (const row of rows) {
        const p = purchases.get(keyPart(row));
        if (p?.sessionId && this.paidSessions.has(p.sessionId)) continue;
        // Not among the period's paid sessions: ask Stripe, as it may have been created before the period.
        const session = p?.sessionId ? await this.source.session(p.sessionId) : null;
        if (p && session?.paid) this.add(checkSession(session, p));
        else this.add([unpaidInStripe(p?.sessionId ?? null, p, keyPart(row), row.transactionId, session)]);
      }
    }
  }

  /** Auto top-ups: off-session PaymentIntents (no Checkout Session), credited under stripe:topup:<pi>. */
  async topups() {
    for await (const page of this.source.paymentIntents(this.period)) {
      const paid = page.filter((pi) => pi.isTopup && pi.status === 'succeeded');
      if (!paid.length) continue;
      const purchases = index(
        await this.repo.purchasesByPaymentIntents(paid.map((pi) => pi.id)),
        (m) => m.paymentIntentId,
      );
      for (const pi of paid) {
        this.paidTopups.add(pi.id);
        this.stripe.topups += 1;
        if (pi.currency === 'usd') this.stripe.grossCents += pi.amountCents;
        this.add(checkTopup(pi, purchases.get(pi.id)));
      }
    }
    for await (const rows of this.ledger(['purchase'], STRIPE_PREFIX.topup)) {
      const purchases = index(await this.repo.purchasesByPaymentIntents(rows.map(keyPart)), (m) => m.paymentIntentId);
      for (const row of rows) {
        if (this.paidTopups.has(keyPart(row))) continue;
        // Not among the period's succeeded top-ups: ask Stripe, as it may have been created before the period.
        const pi = await this.source.paymentIntent(keyPart(row));
        const p = purchases.get(keyPart(row));
        if (pi?.isTopup && pi.status === 'succeeded') this.add(checkTopup(pi, p));
        else this.add([unconfirmedTopup(keyPart(row), p, row.transactionId, pi)]);
      }
    }
  }

  private async refundsOf(purchases: PurchaseMatch[], refundIds: Map<string, string>) {
    const ledger = index(await this.repo.refundsOf(purchases.map((p) => p.purchaseId)), (r) => r.purchaseId);
    for (const p of purchases) {
      if (this.refundChecked.has(p.purchaseId)) continue;
      this.refundChecked.add(p.purchaseId);
      const cents = p.paymentIntentId ? await this.source.refundedCents(p.paymentIntentId) : 0;
      this.add(
        checkRefunds(
          p,
          cents,
          ledger.get(p.purchaseId),
          p.paymentIntentId ? (refundIds.get(p.paymentIntentId) ?? null) : null,
        ),
      );
    }
  }

  async refunds() {
    // payment intent → its newest refund in the period (lists are newest first)
    const latestRefund = new Map<string, string>();
    for await (const page of this.source.refunds(this.period)) {
      for (const r of page) {
        if (r.counts && r.currency === 'usd') {
          this.stripe.refunds += 1;
          this.stripe.refundedCents += r.amountCents;
        }
        if (r.paymentIntentId && !latestRefund.has(r.paymentIntentId)) latestRefund.set(r.paymentIntentId, r.id);
      }
    }
    const intents = [...latestRefund.keys()];
    for (let i = 0; i < intents.length; i += this.source.pageSize) {
      const chunk = intents.slice(i, i + this.source.pageSize);
      const purchases = await this.repo.purchasesByPaymentIntents(chunk);
      const known = new Set(purchases.map((p) => p.paymentIntentId));
      for (const pi of chunk.filter((x) => !known.has(x))) {
        this.add([
          {
            kind: 'missing_in_ledger',
            object: 'refund',
            stripeId: latestRefund.get(pi)!,
            purchaseId: null,
            ledgerTransactionId: null,
            unit: 'usd',
            stripeAmount: usdFromCents(await this.source.refundedCents(pi)),
            ledgerAmount: usdFromCents(0),
            detail: `refunded payment ${pi} matches no purchase`,
          },
        ]);
      }
      await this.refundsOf(purchases, latestRefund);
    }
    for await (const rows of this.ledger(['refund'], STRIPE_PREFIX.refund)) {
      const ids = [...new Set(rows.map(keyPart))].filter((id) => !this.refundChecked.has(id));
      if (ids.length) await this.refundsOf(await this.repo.purchasesByIds(ids), latestRefund);
    }
  }

  private async checkDisputes(disputes: Array<Parameters<typeof checkDispute>[0]>) {
    const purchases = index(
      await this.repo.purchasesByPaymentIntents(
        disputes.flatMap((d) => (d.paymentIntentId ? [d.paymentIntentId] : [])),
      ),
      (p) => p.paymentIntentId,
    );
    const txs = index(await this.repo.disputeTransactions(disputes.map((d) => d.id)), (t) => t.businessKey);
    for (const d of disputes) {
      this.disputesSeen.add(d.id);
      const p = d.paymentIntentId ? purchases.get(d.paymentIntentId) : undefined;
      this.add(
        checkDispute(d, p, txs.get(businessKey.stripeDispute(d.id)), txs.get(businessKey.stripeDisputeReversal(d.id))),
      );
    }
  }

  async disputes() {
    for await (const page of this.source.disputes(this.period)) {
      for (const d of page.filter((x) => x.currency === 'usd')) {
        this.stripe.disputes += 1;
        if (d.status !== 'won') this.stripe.disputedCents += d.amountCents; // a won dispute returned the money
      }
      await this.checkDisputes(page);
    }
    for await (const rows of this.ledger(['dispute', 'dispute_reversal'], STRIPE_PREFIX.anyDispute)) {
      const found = [];
      for (const row of rows) {
        if (this.disputesSeen.has(keyPart(row))) continue;
        const d = await this.source.dispute(keyPart(row));
        this.disputesSeen.add(keyPart(row));
        if (d) found.push(d);
        else
          this.add([
            {
              kind: 'missing_in_stripe',
              object: 'dispute',
              stripeId: keyPart(row),
              purchaseId: null,
              ledgerTransactionId: row.transactionId,
              unit: 'usd',
              stripeAmount: usdFromCents(0),
              ledgerAmount: usdFromCents(0),
              detail: 'ledger posting for a dispute Stripe does not know',
            },
          ]);
      }
      if (found.length) await this.checkDisputes(found);
    }
  }
}

export class RevenueReportService {
  constructor(
    private readonly reads: RoutedReads<RevenueRepository>,
    private readonly source: StripeRevenueSource | undefined,
  ) {}

  async revenue(period: Period) {
    return (await this.served(period)).value;
  }

  /** The report and, when the replica's ledger was used, how fresh it was. */
  async served(period: Period) {
    const source = this.source;
    if (!source) throw stripeNotConfigured('The revenue report needs Stripe, which is not configured on this server.');
    return this.reads.run((repo) => this.reconcile(repo, source, period));
  }

  private async reconcile(repo: RevenueRepository, source: StripeRevenueSource, period: Period) {
    const run = new Reconciliation(repo, source, period);
    await run.sessions();
    await run.topups();
    await run.refunds();
    await run.disputes();
    const l = await repo.totals(period);
    const s = run.stripe;
    const net = (gross: number | string, refunded: number | string, disputed: number | string) =>
      usdFromCents(money(gross).minus(refunded).minus(disputed).toFixed());
    return {
      period: { from: period.from.toISOString(), to: period.to.toISOString() },
      ok: run.count === 0,
      stripe: {
        grossUsd: usdFromCents(s.grossCents),
        refundedUsd: usdFromCents(s.refundedCents),
        disputedUsd: usdFromCents(s.disputedCents),
        netUsd: net(s.grossCents, s.refundedCents, s.disputedCents),
        paidSessions: s.paidSessions,
        topups: s.topups,
        refunds: s.refunds,
        disputes: s.disputes,
      },
      ledger: {
        grossUsd: usdFromCents(l.grossCents),
        refundedUsd: usdFromCents(l.refundedCents),
        disputedUsd: usdFromCents(l.disputedCents),
        netUsd: net(l.grossCents, l.refundedCents, l.disputedCents),
        purchases: Number(l.purchases),
        topups: Number(l.topups),
        refunds: Number(l.refunds),
        disputes: Number(l.disputes),
        creditsPurchased: formatCredits(String(l.creditsPurchased)),
        creditsBonus: formatCredits(String(l.creditsBonus)),
        creditsTakenBack: formatCredits(String(l.creditsTakenBack)),
      },
      discrepancyCount: run.count,
      discrepancies: run.discrepancies,
    };
  }
}

export type RevenueReport = Awaited<ReturnType<RevenueReportService['revenue']>>;
