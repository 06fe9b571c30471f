import { z } from 'zod';
import { DecimalString, documentRoute, IdempotencyKeyHeader, json, problems } from '../../platform/openapi/registry';

export const PurchaseBody = z
  .object({
    packageId: z.string().min(1).max(64),
    saveCard: z.boolean().optional().openapi({
      description: "Save the card paid with for auto top-up (the Checkout Session is made for the caller's Customer)",
    }),
  })
  .strict()
  .openapi('PurchaseRequest');

export const PurchaseParams = z.object({ purchaseId: z.string().min(1).max(64) });

export const PURCHASE_STATUSES = [
  'pending',
  'paid',
  'failed',
  'expired',
  'refunded',
  'partially_refunded',
  'disputed',
] as const;

export const StartedPurchaseSchema = z
  .object({
    purchaseId: z.string().uuid(),
    status: z.literal('pending'),
    packageId: z.string(),
    priceUsd: DecimalString,
    totalCredits: DecimalString,
    checkoutUrl: z.string().url(),
    stripeCheckoutSessionId: z.string(),
  })
  .openapi('StartedPurchase');

export const PurchaseSchema = z
  .object({
    purchaseId: z.string().uuid(),
    userId: z.string(),
    status: z.enum(PURCHASE_STATUSES),
    packageId: z.string(),
    priceUsd: DecimalString,
    credits: DecimalString,
    bonusCredits: DecimalString,
    totalCredits: DecimalString,
    creditsRefunded: DecimalString.openapi({ description: 'Credits taken back for refunds so far' }),
    creditsDisputed: DecimalString.openapi({ description: 'Credits held back by open or lost disputes' }),
    checkoutUrl: z.string().nullable(),
    stripeCheckoutSessionId: z.string().nullable(),
    failureReason: z.string().nullable(),
    createdAt: z.string().datetime(),
    paidAt: z.string().datetime().nullable(),
  })
  .openapi('Purchase');

export type PurchaseInput = z.infer<typeof PurchaseBody>;

documentRoute({
  method: 'post',
  path: '/v1/credits/purchase',
  operationId: 'createPurchase',
  summary: 'Start a Stripe Checkout for a credit package; credits move only when Stripe says it is paid',
  tags: ['purchases'],
  security: [{ bearer: [] }],
  request: {
    headers: z.object({ 'Idempotency-Key': IdempotencyKeyHeader.optional() }),
    body: { content: { 'application/json': { schema: PurchaseBody } } },
  },
  responses: {
    201: json(StartedPurchaseSchema, 'Checkout Session created; redirect the user to checkoutUrl'),
    400: problems[400],
    401: problems[401],
    409: problems[409],
    422: problems[422],
    429: problems[429],
    502: {
      description: 'Stripe refused or could not be reached; retry with the same Idempotency-Key',
      content: problems[500].content,
    },
    503: problems[503],
  },
});

documentRoute({
  method: 'get',
  path: '/v1/credits/purchases/{purchaseId}',
  operationId: 'getPurchase',
  summary: "A purchase and its status (the owner's, or any with billing:admin); others get 404",
  tags: ['purchases'],
  security: [{ bearer: [] }],
  request: { params: PurchaseParams },
  responses: { 200: json(PurchaseSchema, 'Purchase'), 401: problems[401], 404: problems[404], 429: problems[429] },
});
