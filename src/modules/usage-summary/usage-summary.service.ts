import { badRequest } from '../../platform/errors';
import { formatCredits, money } from '../../platform/money';
import type { RoutedReads } from '../../platform/db/read-router';
import type { UsageSummaryRepository } from './usage-summary.repository';
import type { SummaryQuery } from './usage-summary.schemas';

const DAY_MS = 86_400_000;
/** A year and a day: a chart's widest range, and a bound on the rows one request sums. */
export const MAX_RANGE_DAYS = 367;

export class UsageSummaryService {
  /** Read on the replica when one is configured and fresh, like history and reports (ReadRouter). */
  constructor(
    private readonly reads: RoutedReads<UsageSummaryRepository>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async summarize(userId: string, q: SummaryQuery) {
    // Whole UTC days (the rollup's grain): from starts its day, to ends its day unless it is a midnight.
    const to = new Date(Math.ceil((q.to ?? this.now()).getTime() / DAY_MS) * DAY_MS);
    // Default: 30 UTC calendar days, today included.
    const from = q.from
      ? new Date(Math.floor(q.from.getTime() / DAY_MS) * DAY_MS)
      : new Date(to.getTime() - 30 * DAY_MS);
    if (from >= to) throw badRequest('from must be before to', [{ field: 'from', message: 'must be before to' }]);
    if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) {
      throw badRequest(`The range may span at most ${MAX_RANGE_DAYS} days`, [
        { field: 'to', message: `at most ${MAX_RANGE_DAYS} days after from` },
      ]);
    }
    const { value: rows, asOf } = await this.reads.run((repo) => repo.summarize(userId, from, to, q.groupBy));
    let total = money(0);
    const data = rows.map((r) => {
      total = total.plus(r.credits);
      // Token sums stay far below 2^53 (a year of calls at the 1e9-token cap per call would need 9 million calls).
      return {
        key: r.key,
        requests: Number(r.requests),
        inputTokens: Number(r.inputTokens),
        outputTokens: Number(r.outputTokens),
        cachedInputTokens: Number(r.cachedInputTokens),
        credits: formatCredits(r.credits),
      };
    });
    const body = {
      userId,
      from: from.toISOString(),
      to: to.toISOString(),
      groupBy: q.groupBy,
      data,
      totalCredits: formatCredits(total),
    };
    return { body, asOf };
  }
}
