import type { IRouter } from 'express';
import { targetUserId } from '../../platform/auth/auth.middleware';
import { parseInput } from '../../platform/http/validate';
import { TopupsQuery } from './topups.schemas';
import type { TopupsList } from './topups.list';

export function topupsRoutes(router: IRouter, topups: TopupsList): void {
  router.get('/v1/billing/topups', async (req, res) => {
    const query = parseInput(TopupsQuery, req.query, 'query');
    res.json(await topups.list(targetUserId(req, query.userId), query));
  });
}
