import type { IRouter, RequestHandler } from 'express';
import { requireScope, SCOPES } from '../../platform/auth/auth.middleware';
import { parseInput } from '../../platform/http/validate';
import { ReconcileBody } from './usage.schemas';
import type { UsageService } from './usage.service';

export function usageRoutes(router: IRouter, usage: UsageService, idempotent: RequestHandler): void {
  router.post('/v1/usage/reconcile', requireScope(SCOPES.usageWrite), idempotent, async (req, res) => {
    const input = parseInput(ReconcileBody, req.body);
    const result = await usage.reconcile(input, req.correlationId);
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(result.replayed ? 200 : 201).json(result.body);
  });
}
