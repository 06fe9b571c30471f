import { z } from 'zod';
import { identifier } from '../../platform/http/identifiers';
import { DecimalString, documentRoute, json, problems } from '../../platform/openapi/registry';

export const TOPUP_STATUSES = ['pending', 'processing', 'succeeded', 'failed', 'requires_action'] as const;

export const TopupsQuery = z
  .object({
    userId: identifier().optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,120}$/)
      .optional(),
  })
  .strict();

export type TopupsQuery = z.infer<typeof TopupsQuery>;

export const Topup = z
  .object({
    topupId: z.string().uuid(),
    status: z.enum(TOPUP_STATUSES),
    packageId: z.string(),
    priceUsd: z.string().openapi({ example: '20.00' }),
    credits: DecimalString.openapi({ description: "The package's credits and bonus, credited on success" }),
    paymentIntentId: z.string().nullable(),
    failureCode: z
      .string()
      .nullable()
      .openapi({ description: "Stripe's code (card_declined, authentication_required, …), or canceled" }),
    recoveryUrl: z
      .string()
      .nullable()
      .openapi({ description: 'requires_action: a Checkout Session for the same package, paid on session' }),
    createdAt: z.string().datetime(),
  })
  .openapi('Topup');

documentRoute({
  method: 'get',
  path: '/v1/billing/topups',
  summary: "The caller's auto top-up attempts, newest first, cursor-paginated",
  tags: ['billing'],
  security: [{ bearer: [] }],
  request: { query: TopupsQuery },
  responses: {
    200: json(z.object({ data: z.array(Topup), nextCursor: z.string().nullable() }), 'A page of attempts'),
    400: problems[400],
    401: problems[401],
    403: problems[403],
    429: problems[429],
  },
});
