import type { IRouter } from 'express';
import { targetUserId } from '../../platform/auth/auth.middleware';
import { parseInput } from '../../platform/http/validate';
import { SummaryQuery } from './usage-summary.schemas';
import type { UsageSummaryService } from './usage-summary.service';

export function usageSummaryRoutes(router: IRouter, summary: UsageSummaryService): void {
  router.get('/v1/usage/summary', async (req, res) => {
    const query = parseInput(SummaryQuery, req.query, 'query');
    res.json(await summary.summarize(targetUserId(req, query.userId), query));
  });
}
