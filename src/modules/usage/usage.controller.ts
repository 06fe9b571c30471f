import type { IRouter, RequestHandler } from 'express';
import type { DispatchableRoute } from '../../platform/http/fast-lane';
import { requireScope, SCOPES } from '../../platform/auth/auth.middleware';
import { parseInput } from '../../platform/http/validate';
import { ReconcileBody } from './usage.schemas';
import type { UsageService } from './usage.service';

/** Returns the route, which app.ts also runs from its fast lane. */
export function usageRoutes(router: IRouter, usage: UsageService, idempotent: RequestHandler): DispatchableRoute {
  const route = router.route('/v1/usage/reconcile');
  route.post(requireScope(SCOPES.usageWrite), idempotent, async (req, res) => {
    const input = parseInput(ReconcileBody, req.body);
    const result = await usage.reconcile(input, req.correlationId);
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(result.replayed ? 200 : 201).json(result.body);
  });
  return route as unknown as DispatchableRoute;
}
