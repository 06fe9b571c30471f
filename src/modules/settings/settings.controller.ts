import type { IRouter } from 'express';
import { principalOf, targetUserId } from '../../platform/auth/auth.middleware';
import { parseInput } from '../../platform/http/validate';
import { SettingsBody, SettingsQuery } from './settings.schemas';
import type { SettingsService } from './settings.service';

export function settingsRoutes(router: IRouter, settings: SettingsService): void {
  router.get('/v1/billing/settings', async (req, res) => {
    const query = parseInput(SettingsQuery, req.query, 'query');
    res.json(await settings.get(targetUserId(req, query.userId)));
  });

  // Only the user changes their own settings.
  router.put('/v1/billing/settings', async (req, res) => {
    const body = parseInput(SettingsBody, req.body);
    res.json(await settings.update(principalOf(req).sub, body));
  });
}
