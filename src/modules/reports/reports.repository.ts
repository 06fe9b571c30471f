import type { ReadDatabase } from '../../platform/db/read-replica';

export interface Period {
  from: Date;
  to: Date;
}

/** The SQL behind the credits (trial balance) and usage reports. Every amount comes back as text. */
export class ReportsRepository {
  constructor(private readonly db: ReadDatabase) {}

  byType(p: Period) {
    return this.db.prisma.$queryRaw<Array<{ type: string; transactions: number; walletAmount: string }>>`
      SELECT t.type, count(DISTINCT t.id)::int AS transactions, COALESCE(sum(po.amount), 0)::text AS "walletAmount"
      FROM ledger_transactions t JOIN postings po ON po.transaction_id = t.id JOIN accounts a ON a.id = po.account_id AND a.kind = 'wallet'
      WHERE t.created_at >= ${p.from} AND t.created_at < ${p.to} GROUP BY t.type ORDER BY t.type`;
  }

  /** System balances are sums of postings (they keep no cached balance). */
  byAccount(p: Period) {
    return this.db.prisma.$queryRaw<Array<{ account: string; balance: string; periodNet: string }>>`
      SELECT a.code AS account, COALESCE(sum(po.amount) FILTER (WHERE po.created_at < ${p.to}), 0)::text AS balance,
             COALESCE(sum(po.amount) FILTER (WHERE po.created_at >= ${p.from} AND po.created_at < ${p.to}), 0)::text AS "periodNet"
      FROM accounts a LEFT JOIN postings po ON po.account_id = a.id WHERE a.kind = 'system' GROUP BY a.code ORDER BY a.code`;
  }

  async wallets() {
    const [row] = await this.db.prisma.$queryRaw<Array<{ count: number; total: string; negative: number }>>`
      SELECT count(*)::int AS count, COALESCE(sum(balance), 0)::text AS total, count(*) FILTER (WHERE balance < 0)::int AS negative
      FROM accounts WHERE kind = 'wallet'`;
    return row;
  }

  unbalancedTransactions() {
    return this.db.prisma.$queryRaw<Array<{ transactionId: string; type: string; sum: string }>>`
      SELECT t.id::text AS "transactionId", t.type, sum(po.amount)::text AS sum
      FROM postings po JOIN ledger_transactions t ON t.id = po.transaction_id
      GROUP BY t.id HAVING sum(po.amount) <> 0 LIMIT 100`;
  }

  walletsNotMatchingPostings() {
    return this.db.prisma.$queryRaw<Array<{ userId: string; balance: string; postings: string }>>`
      SELECT a.user_id AS "userId", a.balance::text AS balance, COALESCE(sum(po.amount), 0)::text AS postings
      FROM accounts a LEFT JOIN postings po ON po.account_id = a.id
      WHERE a.kind = 'wallet' GROUP BY a.id HAVING a.balance <> COALESCE(sum(po.amount), 0) LIMIT 100`;
  }

  /** All-time wallet postings per ledger type, for the wallets-total equation. */
  walletTotalsByType() {
    return this.db.prisma.$queryRaw<Array<{ type: string; amount: string }>>`
      SELECT t.type, sum(po.amount)::text AS amount
      FROM postings po JOIN accounts a ON a.id = po.account_id AND a.kind = 'wallet' JOIN ledger_transactions t ON t.id = po.transaction_id
      GROUP BY t.type`;
  }

  usage(p: Period, groupBy: 'model' | 'user' | 'day') {
    const group = { model: 'u.model', user: 'u.user_id', day: `to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')` }[groupBy];
    return this.db.prisma.$queryRawUnsafe<Array<Record<string, string | number>>>(
      `SELECT ${group} AS "group", count(*)::int AS requests, sum(u.input_tokens)::text AS "inputTokens",
              sum(u.cached_input_tokens)::text AS "cachedInputTokens", sum(u.output_tokens)::text AS "outputTokens",
              sum(u.credits)::text AS credits,
              sum(billing_usage_usd(c, u.input_tokens, u.output_tokens, u.cached_input_tokens))::text AS "usdAtCost",
              sum(u.credits * 0.001)::text AS "usdAtPrice"
       FROM usages u JOIN rate_cards c ON c.id = u.rate_card_id
       WHERE u.created_at >= $1 AND u.created_at < $2 GROUP BY 1 ORDER BY sum(u.credits) DESC, 1`,
      p.from,
      p.to,
    );
  }
}
