import type { ReadDatabase } from '../../platform/db/read-replica';

export interface SummaryRow {
  key: string;
  requests: string;
  inputTokens: string;
  outputTokens: string;
  cachedInputTokens: string;
  credits: string;
}

// usage_daily holds one row per (user, UTC day, model), upserted by the charge functions in the
// charge's transaction: a range reads at most days x models rows of one user, through its primary key.
const select = (group: string, key: string) => `
  SELECT ${key} AS key, requests::text, "inputTokens"::text, "outputTokens"::text, "cachedInputTokens"::text,
         trim_scale(credits)::text AS credits
  FROM (SELECT ${group} AS g, sum(requests) AS requests, sum(input_tokens) AS "inputTokens",
               sum(output_tokens) AS "outputTokens",
               sum(cached_input_tokens) AS "cachedInputTokens", sum(credits) AS credits
        FROM usage_daily WHERE user_id = $1 AND day >= $2::date AND day < $3::date GROUP BY 1) s
  ORDER BY 1`;

// Named: planned once per pooled connection.
const BY = {
  day: { name: 'usage_summary_day_v2', text: select('day', `to_char(g, 'YYYY-MM-DD')`) },
  model: { name: 'usage_summary_model_v2', text: select('model', 'g') },
} as const;

const isoDay = (d: Date) => d.toISOString().slice(0, 10);

export class UsageSummaryRepository {
  /** Built on the primary and on the replica (ReadRouter); the service picks one per read. */
  constructor(private readonly db: ReadDatabase) {}

  /** Sums over the UTC days [from, to); both are midnights UTC. */
  async summarize(userId: string, from: Date, to: Date, groupBy: 'day' | 'model'): Promise<SummaryRow[]> {
    const { rows } = await this.db.pool.query<SummaryRow>({
      ...BY[groupBy],
      values: [userId, isoDay(from), isoDay(to)],
    });
    return rows;
  }
}
