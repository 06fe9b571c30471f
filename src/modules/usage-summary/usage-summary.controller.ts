import type { IRouter } from 'express';
import { targetUserId } from '../../platform/auth/auth.middleware';
import { dataAsOf } from '../../platform/http/data-as-of';
import { parseInput } from '../../platform/http/validate';
import { SummaryQuery } from './usage-summary.schemas';
import type { UsageSummaryService } from './usage-summary.service';

export function usageSummaryRoutes(router: IRouter, summary: UsageSummaryService): void {
  router.get('/v1/usage/summary', async (req, res) => {
    const query = parseInput(SummaryQuery, req.query, 'query');
    const { body, asOf } = await summary.summarize(targetUserId(req, query.userId), query);
    dataAsOf(res, asOf).json(body);
  });
}
