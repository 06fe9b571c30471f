import type { IRouter, RequestHandler } from 'express';
import { principalOf, requireScope, SCOPES } from '../../platform/auth/auth.middleware';
import { parseInput } from '../../platform/http/validate';
import { AdjustmentBody } from './adjustments.schemas';
import type { AdjustmentsService } from './adjustments.service';

export function adjustmentsRoutes(router: IRouter, adjustments: AdjustmentsService, idempotent: RequestHandler): void {
  router.post('/v1/admin/credits/adjustments', requireScope(SCOPES.admin), idempotent, async (req, res) => {
    const input = parseInput(AdjustmentBody, req.body);
    const result = await adjustments.adjust(
      input,
      principalOf(req).sub,
      req.get('idempotency-key')!,
      req.correlationId,
    );
    res.status(201).json(result);
  });
}
