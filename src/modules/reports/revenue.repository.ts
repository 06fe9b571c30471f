import type { ReadDatabase } from '../../platform/db/read-replica';
import { isUuid } from '../../platform/uuid';
import { businessKey, businessKeySql, STRIPE_PREFIX } from '../ledger/business-keys';
import type { Period } from './reports.repository';

/**
 * A purchase with what the ledger credited for it: the wallet side of its stripe:purchase / stripe:bonus
 * transactions, or stripe:topup / stripe:topup_bonus (keyed by its PaymentIntent) for an auto top-up's.
 */
export interface PurchaseMatch {
  purchaseId: string;
  sessionId: string | null;
  paymentIntentId: string | null;
  priceCents: number;
  amountPaidCents: number | null;
  currency: string;
  credits: string;
  bonusCredits: string;
  amountRefundedCents: number;
  purchaseTransactionId: string | null;
  credited: string | null;
  bonusTransactionId: string | null;
  bonusCredited: string | null;
}

export interface LedgerRow {
  transactionId: string;
  businessKey: string;
  createdAt: string;
}

// The wallet side of a transaction: what the customer was credited (+) or had taken back (−).
const WALLET_SUM = `(SELECT sum(po.amount) FROM postings po JOIN accounts a ON a.id = po.account_id
                     AND a.kind = 'wallet' WHERE po.transaction_id = t.id)`;

const MATCH = `SELECT p.id::text AS "purchaseId", p.checkout_session_id AS "sessionId",
                      p.payment_intent_id AS "paymentIntentId",
    p.price_cents AS "priceCents", p.amount_paid_cents AS "amountPaidCents", p.currency, p.credits::text,
    p.bonus_credits::text AS "bonusCredits",
    p.amount_refunded_cents AS "amountRefundedCents",
    t.id::text AS "purchaseTransactionId", ${WALLET_SUM}::text AS credited,
    b.id::text AS "bonusTransactionId", ${WALLET_SUM.replace('= t.id', '= b.id')}::text AS "bonusCredited"
  FROM purchases p
  LEFT JOIN ledger_transactions t ON t.business_key = CASE WHEN p.topup_id IS NULL
    THEN ${businessKeySql.stripePurchase('p.id::text')} ELSE ${businessKeySql.stripeTopup('p.payment_intent_id')} END
  LEFT JOIN ledger_transactions b ON b.business_key = CASE WHEN p.topup_id IS NULL
    THEN ${businessKeySql.stripeBonus('p.id::text')}
    ELSE ${businessKeySql.stripeTopupBonus('p.payment_intent_id')} END`;

const OBJECT_ID = businessKeySql.stripeObjectId('t.business_key');
// The reversal key of the dispute a `tx` row is.
const DISPUTE_REVERSAL_KEY = businessKeySql.stripeDisputeReversal(businessKeySql.stripeObjectId('tx.business_key'));

/** The SQL behind the revenue report: batched lookups (one query per Stripe page) and keyset pages of the ledger. */
export class RevenueRepository {
  constructor(private readonly db: ReadDatabase) {}

  /** Purchases by Checkout Session id, or by the purchase id a session carries in its metadata. */
  purchasesForSessions(sessionIds: string[], purchaseIds: string[]) {
    return this.db.prisma.$queryRawUnsafe<PurchaseMatch[]>(
      `${MATCH} WHERE p.checkout_session_id = ANY($1::text[]) OR p.id = ANY($2::uuid[])`,
      sessionIds,
      purchaseIds.filter(isUuid),
    );
  }

  purchasesByIds(ids: string[]) {
    return this.db.prisma.$queryRawUnsafe<PurchaseMatch[]>(`${MATCH} WHERE p.id = ANY($1::uuid[])`, ids.filter(isUuid));
  }

  purchasesByPaymentIntents(ids: string[]) {
    return this.db.prisma.$queryRawUnsafe<PurchaseMatch[]>(`${MATCH} WHERE p.payment_intent_id = ANY($1::text[])`, ids);
  }

  /** Credits the ledger took back per purchase through Stripe refunds (all time), and the latest refund transaction. */
  refundsOf(purchaseIds: string[]) {
    return this.db.prisma.$queryRawUnsafe<
      Array<{ purchaseId: string; transactions: number; lastTransactionId: string; credits: string }>
    >(
      `SELECT ${OBJECT_ID} AS "purchaseId", count(*)::int AS transactions,
              (array_agg(t.id::text ORDER BY t.created_at DESC, t.id))[1] AS "lastTransactionId",
               (-sum(${WALLET_SUM}))::text AS credits
       FROM ledger_transactions t
       WHERE t.type = 'refund' AND t.business_key LIKE '${STRIPE_PREFIX.refund}%' AND ${OBJECT_ID} = ANY($1::text[])
       GROUP BY 1`,
      purchaseIds,
    );
  }

  /**
   * The dispute and reversal transactions of these Stripe disputes (exact business keys, so the unique index answers).
   */
  disputeTransactions(disputeIds: string[]) {
    const keys = disputeIds.flatMap((id) => [businessKey.stripeDispute(id), businessKey.stripeDisputeReversal(id)]);
    return this.db.prisma.$queryRawUnsafe<Array<{ transactionId: string; businessKey: string; amount: string | null }>>(
      `SELECT t.id::text AS "transactionId", t.business_key AS "businessKey", ${WALLET_SUM}::text AS amount
       FROM ledger_transactions t WHERE t.business_key = ANY($1::text[])`,
      keys,
    );
  }

  /**
   * One keyset page of the Stripe-posted ledger transactions of the period whose business key
   * starts with `prefix`. created_at travels as text so the cursor keeps its microseconds.
   */
  ledgerPage(p: Period, types: string[], prefix: string, after: LedgerRow | null, limit: number) {
    return this.db.prisma.$queryRawUnsafe<LedgerRow[]>(
      `SELECT t.id::text AS "transactionId", t.business_key AS "businessKey", t.created_at::text AS "createdAt"
       FROM ledger_transactions t
       WHERE t.created_at >= $1 AND t.created_at < $2 AND t.type = ANY($3::text[]) AND t.business_key LIKE $4
         AND ($5::timestamptz IS NULL OR (t.created_at, t.id) > ($5::timestamptz, $6::uuid))
       ORDER BY t.created_at, t.id LIMIT $7`,
      p.from,
      p.to,
      types,
      `${prefix}%`,
      after?.createdAt ?? null,
      after?.transactionId ?? null,
      limit,
    );
  }

  /** The ledger side's totals for the period, from the Stripe-keyed transactions alone. */
  async totals(p: Period) {
    const [row] = await this.db.prisma.$queryRawUnsafe<Array<Record<string, string | number>>>(
      `WITH tx AS (
         SELECT t.type, t.business_key, t.metadata, ${WALLET_SUM} AS amount FROM ledger_transactions t
         WHERE t.created_at >= $1 AND t.created_at < $2 AND t.business_key LIKE '${STRIPE_PREFIX.any}%'),
       refunded AS (
         -- a refund's business key carries the cumulative cents: its own cents are the step from the previous one
         SELECT r.created_at, r.cum - lag(r.cum, 1, 0::bigint) OVER (PARTITION BY r.pid ORDER BY r.cum) AS cents
         FROM (SELECT t.created_at, ${OBJECT_ID} AS pid, ${businessKeySql.refundedCents('t.business_key')} AS cum
               FROM ledger_transactions t WHERE t.type = 'refund' AND t.business_key LIKE '${STRIPE_PREFIX.refund}%'
                 AND ${OBJECT_ID} IN (SELECT ${businessKeySql.stripeObjectId('business_key')}
                                      FROM tx WHERE type = 'refund')) r)
       SELECT
         (SELECT count(*) FROM tx WHERE type = 'purchase')::int AS purchases,
         (SELECT count(*) FROM tx
          WHERE type = 'purchase' AND business_key LIKE '${STRIPE_PREFIX.topup}%')::int AS topups,
         -- a Checkout purchase's key names the purchase, an auto top-up's its PaymentIntent
         ((SELECT COALESCE(sum(COALESCE(p.amount_paid_cents, p.price_cents)), 0)
           FROM tx JOIN purchases p ON p.id::text = ${businessKeySql.stripeObjectId('tx.business_key')}
           WHERE tx.type = 'purchase')
          + (SELECT COALESCE(sum(COALESCE(p.amount_paid_cents, p.price_cents)), 0)
             FROM tx JOIN purchases p ON p.payment_intent_id = ${businessKeySql.stripeObjectId('tx.business_key')}
             WHERE tx.type = 'purchase' AND tx.business_key LIKE '${STRIPE_PREFIX.topup}%'))::text AS "grossCents",
         (SELECT COALESCE(sum(cents), 0) FROM refunded
          WHERE created_at >= $1 AND created_at < $2)::text AS "refundedCents",
         (SELECT count(*) FROM tx WHERE type = 'refund')::int AS refunds,
         (SELECT COALESCE(sum((tx.metadata->>'amountCents')::bigint), 0) FROM tx
          WHERE tx.type = 'dispute' AND NOT EXISTS (
            SELECT 1 FROM ledger_transactions v
            WHERE v.business_key = ${DISPUTE_REVERSAL_KEY})
         )::text AS "disputedCents",
         (SELECT count(*) FROM tx WHERE type = 'dispute')::int AS disputes,
         (SELECT COALESCE(sum(amount), 0) FROM tx WHERE type = 'purchase')::text AS "creditsPurchased",
         (SELECT COALESCE(sum(amount), 0) FROM tx WHERE type = 'bonus')::text AS "creditsBonus",
         (SELECT COALESCE(-sum(amount), 0) FROM tx
          WHERE type IN ('refund', 'dispute', 'dispute_reversal'))::text AS "creditsTakenBack"`,
      p.from,
      p.to,
    );
    return row;
  }
}
