import type { IRouter } from 'express';
import { principalOf } from '../../platform/auth/auth.middleware';
import type { CardsService } from './cards.service';
// The route's OpenAPI description is registered when its schemas load.
import './cards.schemas';

export function cardsRoutes(router: IRouter, cards: CardsService): void {
  // Only the user saves their own card.
  router.post('/v1/billing/payment-method', async (req, res) => {
    res.status(201).json(await cards.startSetup(principalOf(req).sub));
  });
}
