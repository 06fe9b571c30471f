import type { ReadDatabase } from '../../platform/db/read-replica';
import { inTransaction } from '../../platform/db/transaction';
import { POSTINGS_FLOOR_SQL } from './postings-floor';
import type { Period } from './reports.repository';

/** Where a check starts: the end of a closed period, or the first posting (a full scan). */
export type Since = Date | null;
const at = (since: Since) => since ?? '-infinity';

/** Postings joined to their transactions; every use bounds po.id below by a floor (postings-floor.ts). */
const MOVES = `ledger_transactions t JOIN postings po ON po.transaction_id = t.id`;
/** An account's balance at the newest closing at or before $n (none: 0). */
const closingAt = (n: number) => `LEFT JOIN LATERAL (SELECT cb.balance FROM ledger_closing_balances cb
  WHERE cb.account_id = a.id AND cb.period_end <= $${n} ORDER BY cb.period_end DESC LIMIT 1) c ON true`;

export interface TrialBalanceRows {
  since: Since;
  byType: Array<{ type: string; transactions: number; walletAmount: string }>;
  byAccount: Array<{ account: string; balance: string; periodNet: string }>;
  wallets: { count: number; total: string; negative: number };
  unbalanced: Array<{ transactionId: string; type: string; sum: string }>;
  drift: Array<{ userId: string; balance: string; postings: string }>;
  totals: Array<{ type: string; amount: string }>;
}

/**
 * The trial balance's SQL. Every query runs in one REPEATABLE READ READ ONLY transaction, so all of
 * them see the same snapshot (a charge committing midway cannot unbalance the equation) — allowed
 * on a hot standby too. Invariants are checked from the newest closing on (incremental) or from the
 * first posting (full). Every amount comes back as text.
 */
export class TrialBalanceRepository {
  constructor(private readonly db: ReadDatabase) {}

  async read(period: Period, full: boolean): Promise<TrialBalanceRows> {
    return inTransaction(this.db.pool, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async (client) => {
      const q = async <T>(sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows as T[];
      const closingBefore = async (to: Date | null): Promise<Since> => {
        if (full) return null;
        const [row] = await q<{ end: Date }>(
          `SELECT period_end AS end FROM ledger_closing_periods WHERE $1::timestamptz IS NULL OR period_end <= $1
           ORDER BY period_end DESC LIMIT 1`,
          [to],
        );
        return row?.end ?? null;
      };
      const floor = async (from: Since) =>
        from ? (await q<{ floor: string }>(POSTINGS_FLOOR_SQL, [from]))[0].floor : '0';
      const since = await closingBefore(null);
      const periodBase = await closingBefore(period.to);
      const movesFrom = periodBase && periodBase < period.from ? periodBase : periodBase ? period.from : null;
      const [sinceFloor, periodFloor, movesFloor] = [
        await floor(since),
        await floor(period.from),
        await floor(movesFrom),
      ];
      return {
        since,
        byType: await q(
          `SELECT t.type, count(DISTINCT t.id)::int AS transactions, COALESCE(sum(po.amount), 0)::text AS "walletAmount"
           FROM ${MOVES} JOIN accounts a ON a.id = po.account_id AND a.kind = 'wallet'
           WHERE po.id >= $3 AND t.created_at >= $1 AND t.created_at < $2 GROUP BY t.type ORDER BY t.type`,
          [period.from, period.to, periodFloor],
        ),
        // System accounts keep no cached balance: closing + postings since, up to the period's end.
        byAccount: await q(
          `WITH moves AS (
             SELECT po.account_id, sum(po.amount) FILTER (WHERE t.created_at >= $3) AS since_closing,
                    sum(po.amount) FILTER (WHERE t.created_at >= $1) AS period_net
             FROM ${MOVES} WHERE po.id >= $4 AND t.created_at >= LEAST($1::timestamptz, $3::timestamptz)
             AND t.created_at < $2
             GROUP BY po.account_id)
           SELECT a.code AS account, (COALESCE(c.balance, 0) + COALESCE(m.since_closing, 0))::text AS balance,
                  COALESCE(m.period_net, 0)::text AS "periodNet"
           FROM accounts a LEFT JOIN moves m ON m.account_id = a.id ${closingAt(3)}
           WHERE a.kind = 'system' ORDER BY a.code`,
          [period.from, period.to, at(periodBase), movesFloor],
        ),
        wallets: (
          await q<TrialBalanceRows['wallets']>(
            `SELECT count(*)::int AS count, COALESCE(sum(balance), 0)::text AS total,
                    count(*) FILTER (WHERE balance < 0)::int AS negative
             FROM accounts WHERE kind = 'wallet'`,
          )
        )[0],
        unbalanced: await q(
          // Materialized: with the LIMIT outside, the planner would walk every transaction by key.
          `WITH sums AS MATERIALIZED (
             SELECT t.id, t.type, sum(po.amount) AS sum FROM ${MOVES} WHERE po.id >= $2 AND t.created_at >= $1
             GROUP BY t.id)
           SELECT id::text AS "transactionId", type, sum::text AS sum FROM sums WHERE sum <> 0 LIMIT 100`,
          [at(since), sinceFloor],
        ),
        // Each wallet's cached balance against its newest closing plus the postings since.
        drift: await q(
          `WITH moves AS MATERIALIZED (
             SELECT po.account_id, sum(po.amount) AS amount FROM ${MOVES} WHERE po.id >= $2 AND t.created_at >= $1
             GROUP BY po.account_id)
           SELECT a.user_id AS "userId", a.balance::text AS balance, (COALESCE(c.balance, 0) + COALESCE(m.amount,
                  0))::text AS postings
           FROM accounts a LEFT JOIN moves m ON m.account_id = a.id ${closingAt(1)}
           WHERE a.kind = 'wallet' AND a.balance <> COALESCE(c.balance, 0) + COALESCE(m.amount, 0) ORDER BY a.id
             LIMIT 100`,
          [at(since), sinceFloor],
        ),
        // Wallet postings per ledger type from the first posting: the closing's totals plus the moves since.
        totals: await q(
          `SELECT type, sum(amount)::text AS amount FROM (
             SELECT type, amount FROM ledger_closing_wallet_totals WHERE period_end = $1
             UNION ALL
             SELECT t.type, po.amount FROM ${MOVES} JOIN accounts a ON a.id = po.account_id AND a.kind = 'wallet'
             WHERE po.id >= $2 AND t.created_at >= $1) x
           GROUP BY type`,
          [at(since), sinceFloor],
        ),
      };
    });
  }
}
