import type pg from 'pg';
import { inTransaction } from '../../platform/db/transaction';
import { POSTINGS_CEILING_SQL, POSTINGS_FLOOR_SQL } from './postings-floor';

/** The moves of the period's transactions ($1 start, $2 end), keyed on the transaction's created_at. */
const MOVES = `ledger_transactions t JOIN postings po ON po.transaction_id = t.id WHERE po.id >= $3 AND po.id < $4
               AND t.created_at >= $1 AND t.created_at < $2`;
const WALLET_MOVES = `ledger_transactions t JOIN postings po ON po.transaction_id = t.id
  JOIN accounts a ON a.id = po.account_id AND a.kind = 'wallet' WHERE po.id >= $3 AND po.id < $4 AND t.created_at >= $1
  AND t.created_at < $2`;

/** A period of the books: [start, end), start '-infinity' for the first one. */
export interface ClosingPeriod {
  start: Date | null;
  end: Date;
}

/** The SQL that closes the books, on the primary (closings are writes). Append-only tables; see the migration. */
export class LedgerClosingsRepository {
  constructor(private readonly pool: pg.Pool) {}

  /** The end of the newest closed period, and the first transaction's time when nothing is closed yet. */
  async lastClosing(): Promise<{ end: Date | null; firstTransactionAt: Date | null }> {
    const { rows } = await this.pool.query<{ end: Date | null; first: Date | null }>(
      `SELECT (SELECT max(period_end) FROM ledger_closing_periods) AS end,
              (SELECT min(created_at) FROM ledger_transactions) AS first`,
    );
    return { end: rows[0].end, firstTransactionAt: rows[0].first };
  }

  /**
   * Writes the period's closing balances (newest closing + the period's postings, for every account
   * the period moved) and the wallet totals per type, in one transaction. The period's row goes
   * first: when another process closed it already, its primary key makes this a no-op (false).
   */
  async close(period: ClosingPeriod): Promise<boolean> {
    return inTransaction(this.pool, 'BEGIN', async (client) => {
      const floor = period.start
        ? (await client.query<{ floor: string }>(POSTINGS_FLOOR_SQL, [period.start])).rows[0].floor
        : '0';
      const { ceiling } = (await client.query<{ ceiling: string }>(POSTINGS_CEILING_SQL, [period.end])).rows[0];
      const params = [period.start ?? '-infinity', period.end, floor, ceiling];
      const inserted = await client.query(
        `INSERT INTO ledger_closing_periods (period_end, period_start, transactions)
         SELECT $2, $1, count(*) FROM ledger_transactions t WHERE t.created_at >= $1 AND t.created_at < $2
         ON CONFLICT (period_end) DO NOTHING RETURNING period_end`,
        params.slice(0, 2),
      );
      if (inserted.rowCount === 0) return false;
      await client.query(
        `INSERT INTO ledger_closing_balances (account_id, period_end, balance)
         SELECT m.account_id, $2, COALESCE(c.balance, 0) + m.amount
         FROM (SELECT po.account_id, sum(po.amount) AS amount FROM ${MOVES} GROUP BY po.account_id) m
         LEFT JOIN LATERAL (SELECT cb.balance FROM ledger_closing_balances cb
           WHERE cb.account_id = m.account_id AND cb.period_end <= $1 ORDER BY cb.period_end DESC LIMIT 1) c ON true`,
        params,
      );
      await client.query(
        `INSERT INTO ledger_closing_wallet_totals (period_end, type, amount)
         SELECT $2, type, sum(amount) FROM (
           SELECT type, amount FROM ledger_closing_wallet_totals WHERE period_end = $1
           UNION ALL
           SELECT t.type, po.amount FROM ${WALLET_MOVES}
         ) x GROUP BY type`,
        params,
      );
      return true;
    });
  }
}
