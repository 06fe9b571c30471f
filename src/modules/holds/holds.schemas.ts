import { z } from 'zod';
import { DecimalString, documentRoute, IdempotencyKeyHeader, json, problems } from '../../platform/openapi/registry';
import { ModelName, RequestId, UserId } from '../usage/usage.schemas';

const maxTokens = z.number().int().min(0).max(1_000_000_000);
export const DEFAULT_TTL_SECONDS = 600;

export const HoldBody = z
  .object({
    userId: UserId,
    requestId: RequestId.openapi({ description: "The LLM call's id; settle by reconciling the same requestId" }),
    model: ModelName,
    maxInputTokens: maxTokens.openapi({
      description: 'All prompt tokens the call may use, cached included (priced at the input rate)',
    }),
    maxOutputTokens: maxTokens,
    ttlSeconds: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .optional()
      .openapi({ description: 'Seconds until the hold stops counting (default 600)' }),
  })
  .strict()
  .openapi('HoldRequest');

export const HoldParams = z.object({
  holdId: z.string().openapi({ description: 'The holdId returned when the hold was placed' }),
});

export const HoldSchema = z
  .object({
    holdId: z.string().uuid(),
    requestId: z.string(),
    userId: z.string(),
    heldCredits: DecimalString,
    availableCredits: DecimalString.openapi({ description: 'Available credits once this hold was placed' }),
    expiresAt: z.string().datetime(),
  })
  .openapi('Hold');

export const ReleasedHoldSchema = z
  .object({
    holdId: z.string().uuid(),
    requestId: z.string(),
    userId: z.string(),
    status: z.enum(['active', 'settled', 'released']),
    heldCredits: DecimalString,
    expiresAt: z.string().datetime(),
    endedAt: z.string().datetime().nullable(),
    balance: DecimalString,
    availableCredits: DecimalString,
  })
  .openapi('HoldState');

export type HoldInput = z.infer<typeof HoldBody>;

documentRoute({
  method: 'post',
  path: '/v1/usage/holds',
  summary: 'Reserve credits for the maximum tokens of a (streaming) LLM call; settle with /v1/usage/reconcile',
  tags: ['usage'],
  security: [{ bearer: ['usage:write'] }],
  request: {
    headers: z.object({ 'Idempotency-Key': IdempotencyKeyHeader.optional() }),
    body: { content: { 'application/json': { schema: HoldBody } } },
  },
  responses: {
    201: json(HoldSchema, 'Held'),
    200: json(HoldSchema, 'Replay of an earlier hold for this requestId (Idempotent-Replayed: true); nothing reserved'),
    400: problems[400],
    401: problems[401],
    402: problems[402],
    403: problems[403],
    409: {
      description:
        'requestId already charged as a plain usage (code request_already_charged), ' +
        'or an Idempotency-Key still running',
      content: problems[409].content,
    },
    422: problems[422],
    429: problems[429],
  },
});

documentRoute({
  method: 'post',
  path: '/v1/usage/holds/{holdId}/release',
  summary: 'End a hold without charge (the call failed); releasing twice or after a settle changes nothing',
  tags: ['usage'],
  security: [{ bearer: ['usage:write'] }],
  request: { params: HoldParams, headers: z.object({ 'Idempotency-Key': IdempotencyKeyHeader.optional() }) },
  responses: {
    200: json(ReleasedHoldSchema, "The hold's state after the release (unchanged when it had already ended)"),
    401: problems[401],
    403: problems[403],
    404: problems[404],
    429: problems[429],
  },
});
