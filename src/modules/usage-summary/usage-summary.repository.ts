import type { Database } from '../../platform/db/database';

export interface SummaryRow {
  key: string;
  requests: string;
  inputTokens: string;
  outputTokens: string;
  cachedInputTokens: string;
  credits: string;
}

// Every column read is in usages_user_id_created_at_idx, so PostgreSQL can answer from the index
// alone. Days are grouped as dates (a hash of a few keys) and only then formatted.
const select = (group: string, key: string) => `
  SELECT ${key} AS key, requests::text, "inputTokens"::text, "outputTokens"::text, "cachedInputTokens"::text, trim_scale(credits)::text AS credits
  FROM (SELECT ${group} AS g, count(*) AS requests, sum(input_tokens) AS "inputTokens", sum(output_tokens) AS "outputTokens",
               sum(cached_input_tokens) AS "cachedInputTokens", sum(credits) AS credits
        FROM usages WHERE user_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY 1) s
  ORDER BY 1`;

// Named: planned once per pooled connection.
const BY = {
  day: { name: 'usage_summary_day_v1', text: select(`(created_at AT TIME ZONE 'UTC')::date`, `to_char(g, 'YYYY-MM-DD')`) },
  model: { name: 'usage_summary_model_v1', text: select('model', 'g') },
} as const;

export class UsageSummaryRepository {
  constructor(private readonly db: Database) {}

  async summarize(userId: string, from: Date, to: Date, groupBy: 'day' | 'model'): Promise<SummaryRow[]> {
    const { rows } = await this.db.pool.query<SummaryRow>({ ...BY[groupBy], values: [userId, from, to] });
    return rows;
  }
}
