import { z } from 'zod';
import { identifier } from '../../platform/http/identifiers';
import { DecimalString, documentRoute, IdempotencyKeyHeader, json, problems } from '../../platform/openapi/registry';

const tokens = z.number().int().min(0).max(1_000_000_000);
export const UserId = identifier().openapi({ description: "The wallet owner's user id (the JWT sub of that user)" });
export const RequestId = identifier().openapi({
  description: "The LLM call's id; the natural idempotency key per user",
});
export const ModelName = identifier(100).openapi({
  description: 'The model called, a rate card family or a dated snapshot of one',
});

export const ReconcileBody = z
  .object({
    userId: UserId,
    requestId: RequestId,
    model: ModelName,
    inputTokens: tokens,
    outputTokens: tokens,
    cachedInputTokens: tokens.optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .openapi('ReconcileRequest');

export const UsageCharge = z
  .object({
    usageId: z.string().uuid(),
    requestId: z.string(),
    userId: z.string(),
    model: z.string(),
    credits: DecimalString,
    balance: DecimalString,
    transactionId: z.string().uuid().nullable(),
    correlationId: z.string().nullable(),
  })
  .openapi('UsageCharge');

export type ReconcileInput = z.infer<typeof ReconcileBody>;

documentRoute({
  method: 'post',
  path: '/v1/usage/reconcile',
  summary: 'Charge one LLM call (or settle its hold), exactly once per requestId',
  tags: ['usage'],
  security: [{ bearer: ['usage:write'] }],
  request: {
    headers: z.object({ 'Idempotency-Key': IdempotencyKeyHeader.optional() }),
    body: { content: { 'application/json': { schema: ReconcileBody } } },
  },
  responses: {
    201: json(UsageCharge, 'Charged'),
    200: json(UsageCharge, 'Replay of an earlier charge (Idempotent-Replayed: true); nothing charged'),
    400: problems[400],
    401: problems[401],
    402: problems[402],
    403: problems[403],
    409: problems[409],
    422: problems[422],
    429: problems[429],
  },
});
