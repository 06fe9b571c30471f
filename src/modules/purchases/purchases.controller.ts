import type { IRouter, RequestHandler } from 'express';
import { principalOf } from '../../platform/auth/auth.middleware';
import { parseInput } from '../../platform/http/validate';
import { PurchaseBody, PurchaseParams } from './purchases.schemas';
import type { PurchasesService } from './purchases.service';

export function purchasesRoutes(router: IRouter, purchases: PurchasesService, idempotent: RequestHandler): void {
  router.post('/v1/credits/purchase', idempotent, async (req, res) => {
    const input = parseInput(PurchaseBody, req.body);
    const options = { saveCard: input.saveCard === true };
    res.status(201).json(await purchases.start(principalOf(req).sub, input.packageId, req.correlationId, options));
  });
  router.get('/v1/credits/purchases/:purchaseId', async (req, res) => {
    const { purchaseId } = parseInput(PurchaseParams, req.params, 'params');
    res.json(await purchases.get(purchaseId, principalOf(req)));
  });
}
