import { z } from 'zod';
import { identifier } from '../../platform/http/identifiers';
import { documentRoute, json, problems } from '../../platform/openapi/registry';

export const EVENT_TYPES = [
  'purchase.completed',
  'credits.reversed',
  'balance.low',
  'balance.depleted',
  'topup.succeeded',
  'topup.failed',
  'topup.requires_action',
  'topup.limit_reached',
  'autotopup.paused',
] as const;

export const EventsQuery = z
  .object({
    status: z.enum(['pending', 'delivered', 'failed']).optional(),
    type: z
      .string()
      .regex(/^[a-z_]{1,40}\.[a-z_]{1,40}$/, 'an event type such as balance.low')
      .optional(),
    userId: identifier().optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,40}$/)
      .optional(),
  })
  .strict();

export type EventsQuery = z.infer<typeof EventsQuery>;

export const EventIdParams = z
  .object({ eventId: z.string().regex(/^evt_[0-9a-f]{32}$/, 'an event id (evt_…)') })
  .strict();

export const AdminEvent = z
  .object({
    eventId: z.string(),
    type: z.string(),
    userId: z.string(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    lastAttemptAt: z.string().datetime().nullable(),
    lastStatusCode: z.number().int().nullable(),
    nextAttemptAt: z.string().datetime().nullable(),
    createdAt: z.string().datetime(),
  })
  .openapi('OutboundEvent');

documentRoute({
  method: 'get',
  path: '/v1/admin/events',
  summary: 'Outbound events, newest first, cursor-paginated',
  tags: ['events'],
  security: [{ bearer: ['billing:admin'] }],
  request: { query: EventsQuery },
  responses: {
    200: json(z.object({ data: z.array(AdminEvent), nextCursor: z.string().nullable() }), 'A page of events'),
    400: problems[400],
    401: problems[401],
    403: problems[403],
    429: problems[429],
  },
});

documentRoute({
  method: 'post',
  path: '/v1/admin/events/{eventId}/redeliver',
  summary: 'Send one event again now, with the same id (a failed one gets one more attempt, then is failed again)',
  tags: ['events'],
  security: [{ bearer: ['billing:admin'] }],
  request: { params: EventIdParams },
  responses: {
    202: json(AdminEvent, 'Queued for delivery now'),
    400: problems[400],
    401: problems[401],
    403: problems[403],
    404: problems[404],
    409: {
      description: '`delivery_in_progress`: a dispatcher is delivering it right now',
      content: problems[409].content,
    },
    429: problems[429],
  },
});
