import { z } from 'zod';
import { identifier } from '../../platform/http/identifiers';
import { DecimalString, documentRoute, json, problems } from '../../platform/openapi/registry';

export const BalanceQuery = z.object({ userId: identifier().optional() }).strict();

export const BalanceSchema = z
  .object({
    userId: z.string(),
    balance: DecimalString,
    held: DecimalString.openapi({ description: 'Credits reserved by unexpired holds' }),
    available: DecimalString.openapi({ description: 'balance − held' }),
    currency: z.literal('credits'),
  })
  .openapi('Balance');

documentRoute({
  method: 'get',
  path: '/v1/balance',
  summary: "The caller's balance (any user's with billing:admin and ?userId=)",
  tags: ['balance'],
  security: [{ bearer: [] }],
  request: { query: BalanceQuery },
  responses: {
    200: json(BalanceSchema, 'Balance'),
    400: problems[400],
    401: problems[401],
    403: problems[403],
    429: problems[429],
  },
});
