import type { IRouter, RequestHandler } from 'express';
import { requireScope, SCOPES } from '../../platform/auth/auth.middleware';
import { parseInput } from '../../platform/http/validate';
import { HoldBody, HoldParams } from './holds.schemas';
import type { HoldsService } from './holds.service';

export function holdsRoutes(router: IRouter, holds: HoldsService, idempotent: RequestHandler): void {
  router.post('/v1/usage/holds', requireScope(SCOPES.usageWrite), idempotent, async (req, res) => {
    const input = parseInput(HoldBody, req.body);
    const result = await holds.place(input, req.correlationId);
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(result.replayed ? 200 : 201).json(result.body);
  });
  router.post('/v1/usage/holds/:holdId/release', requireScope(SCOPES.usageWrite), idempotent, async (req, res) => {
    const { holdId } = parseInput(HoldParams, req.params, 'params');
    res.json(await holds.release(holdId));
  });
}
