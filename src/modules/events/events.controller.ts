import type { IRouter } from 'express';
import { requireScope, SCOPES } from '../../platform/auth/auth.middleware';
import { parseInput } from '../../platform/http/validate';
import { EventIdParams, EventsQuery } from './events.schemas';
import type { EventsService } from './events.service';

export function eventsAdminRoutes(router: IRouter, events: EventsService): void {
  router.get('/v1/admin/events', requireScope(SCOPES.admin), async (req, res) => {
    res.json(await events.list(parseInput(EventsQuery, req.query, 'query')));
  });

  router.post('/v1/admin/events/:eventId/redeliver', requireScope(SCOPES.admin), async (req, res) => {
    const { eventId } = parseInput(EventIdParams, req.params, 'params');
    res.status(202).json(await events.redeliver(eventId));
  });
}
