import type { IRouter } from 'express';
import { targetUserId } from '../../platform/auth/auth.middleware';
import { parseInput } from '../../platform/http/validate';
import { BalanceQuery } from './balance.schemas';
import type { BalanceService } from './balance.service';

export function balanceRoutes(router: IRouter, balances: BalanceService): void {
  router.get('/v1/balance', async (req, res) => {
    const query = parseInput(BalanceQuery, req.query, 'query');
    res.json(await balances.get(targetUserId(req, query.userId)));
  });
}
