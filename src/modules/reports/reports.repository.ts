import type { ReadDatabase } from '../../platform/db/read-replica';
import { TrialBalanceRepository } from './trial-balance.repository';

export interface Period {
  from: Date;
  to: Date;
}

/**
 * The SQL behind the credits (trial balance, see TrialBalanceRepository) and usage reports. Amounts come back as text.
 */
export class ReportsRepository {
  readonly trialBalance: TrialBalanceRepository;

  constructor(private readonly db: ReadDatabase) {
    this.trialBalance = new TrialBalanceRepository(db);
  }

  usage(p: Period, groupBy: 'model' | 'user' | 'day') {
    const group = {
      model: 'u.model',
      user: 'u.user_id',
      day: `to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
    }[groupBy];
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
