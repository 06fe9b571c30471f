import { z } from 'zod';
import { DECIMAL_PATTERN } from '../../platform/money';
import { identifier } from '../../platform/http/identifiers';
import { DecimalString, documentRoute, IdempotencyKeyHeader, json, problems } from '../../platform/openapi/registry';

export const AdjustmentBody = z
  .object({
    userId: identifier(),
    amount: z
      .string()
      .regex(DECIMAL_PATTERN, 'must be a signed decimal string with at most 18 fractional digits')
      .refine((s) => !/^-?0(\.0+)?$/.test(s), 'must not be zero')
      .openapi({ description: 'Signed decimal string; positive grants, negative takes back', example: '500' }),
    reason: z.string().trim().min(1).max(500),
    allowNegative: z.boolean().optional(),
  })
  .strict()
  .openapi('AdjustmentRequest');

export const AdjustmentSchema = z
  .object({
    transactionId: z.string().uuid(),
    userId: z.string(),
    amount: DecimalString,
    balance: DecimalString,
    reason: z.string(),
    createdAt: z.string().datetime(),
  })
  .openapi('Adjustment');

export type AdjustmentInput = z.infer<typeof AdjustmentBody>;

documentRoute({
  method: 'post',
  path: '/v1/admin/credits/adjustments',
  summary: 'Grant or take back credits (promotion, support correction)',
  tags: ['admin'],
  security: [{ bearer: ['billing:admin'] }],
  request: {
    headers: z.object({ 'Idempotency-Key': IdempotencyKeyHeader }),
    body: { content: { 'application/json': { schema: AdjustmentBody } } },
  },
  responses: {
    201: json(AdjustmentSchema, 'Posted'),
    400: problems[400],
    401: problems[401],
    402: problems[402],
    403: problems[403],
    409: problems[409],
    422: problems[422],
    429: problems[429],
  },
});
