import type { IRouter } from 'express';
import { principalOf } from '../../platform/auth/auth.middleware';
import { parseInput } from '../../platform/http/validate';
import type { CardsService } from './cards.service';
import { CardSetupBody } from './cards.schemas';

export function cardsRoutes(router: IRouter, cards: CardsService): void {
  // Only the user saves their own card.
  router.post('/v1/billing/payment-method', async (req, res) => {
    parseInput(CardSetupBody, req.body ?? {});
    res.status(201).json(await cards.startSetup(principalOf(req).sub));
  });
}
