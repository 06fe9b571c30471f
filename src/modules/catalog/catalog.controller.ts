import type { IRouter } from 'express';
import type { CatalogService } from './catalog.service';
import './catalog.schemas';

export function catalogRoutes(router: IRouter, catalog: CatalogService): void {
  router.get('/v1/credit-packages', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json({ data: catalog.listPackages() });
  });
  router.get('/v1/rate-cards', async (_req, res) => {
    res.set('Cache-Control', 'public, max-age=60').json({ data: await catalog.listRateCards() });
  });
}
