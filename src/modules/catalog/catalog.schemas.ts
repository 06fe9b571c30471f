import { z } from 'zod';
import { DecimalString, documentRoute, json } from '../../platform/openapi/registry';

export const CreditPackageSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    priceUsd: DecimalString,
    credits: DecimalString,
    bonusCredits: DecimalString,
    totalCredits: DecimalString,
  })
  .openapi('CreditPackage');

export const RateCardSchema = z
  .object({
    model: z.string(),
    inputUsdPer1M: DecimalString,
    outputUsdPer1M: DecimalString,
    // A union, not .nullable(): on a referenced schema the generator writes allOf [DecimalString, string|null],
    // which null cannot satisfy.
    cachedInputUsdPer1M: z
      .union([DecimalString, z.null()])
      .openapi({ description: 'null: cached tokens are charged as input' }),
    markup: DecimalString,
    effectiveFrom: z.string().datetime(),
  })
  .openapi('RateCard');

documentRoute({
  method: 'get',
  path: '/v1/credit-packages',
  summary: 'The five credit packages',
  tags: ['catalog'],
  responses: { 200: json(z.object({ data: z.array(CreditPackageSchema) }), 'Packages') },
});

documentRoute({
  method: 'get',
  path: '/v1/rate-cards',
  summary: 'The per-model prices in force now',
  tags: ['catalog'],
  responses: { 200: json(z.object({ data: z.array(RateCardSchema) }), 'Rate cards') },
});
