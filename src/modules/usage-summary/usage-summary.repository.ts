import type { Database } from '../../platform/db/database';

export interface SummaryRow {
  key: string;
  requests: string;
  inputTokens: string;
  outputTokens: string;
  cachedInputTokens: string;
  credits: string;
}

// Every column read is in usages_user_id_created_at_idx, so PostgreSQL answers from the index alone.
const select = (key: string) => `
  SELECT ${key} AS key, count(*)::text AS requests, sum(input_tokens)::text AS "inputTokens",
         sum(output_tokens)::text AS "outputTokens", sum(cached_input_tokens)::text AS "cachedInputTokens",
         trim_scale(sum(credits))::text AS credits
  FROM usages WHERE user_id = $1 AND created_at >= $2 AND created_at < $3
  GROUP BY 1 ORDER BY 1`;

// Named: planned once per pooled connection.
const BY = {
  day: { name: 'usage_summary_day_v1', text: select(`to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`) },
  model: { name: 'usage_summary_model_v1', text: select('model') },
} as const;

export class UsageSummaryRepository {
  constructor(private readonly db: Database) {}

  async summarize(userId: string, from: Date, to: Date, groupBy: 'day' | 'model'): Promise<SummaryRow[]> {
    const { rows } = await this.db.pool.query<SummaryRow>({ ...BY[groupBy], values: [userId, from, to] });
    return rows;
  }
}
