import { z } from 'zod';
import { identifier } from '../../platform/http/identifiers';
import { DECIMAL_PATTERN } from '../../platform/money';
import { DecimalString, documentRoute, json, problems } from '../../platform/openapi/registry';

const credits = z
  .string()
  .regex(DECIMAL_PATTERN, 'a decimal string with at most 18 fractional digits')
  .refine((s) => !s.startsWith('-'), 'must not be negative');

const AutoTopUpInput = z
  .object({
    enabled: z.boolean(),
    thresholdCredits: credits.optional(),
    packageId: identifier(64).optional(),
    monthlyLimitUsd: z
      .string()
      .regex(/^(0|[1-9]\d{0,6})(\.\d{1,2})?$/, 'a USD amount such as "50.00"')
      .optional(),
  })
  .strict();

export const SettingsBody = z
  .object({
    autoTopUp: AutoTopUpInput.optional(),
    lowBalance: z.object({ thresholdCredits: credits.nullable() }).strict().optional(),
  })
  .strict()
  .openapi('BillingSettingsUpdate');

export type SettingsBody = z.infer<typeof SettingsBody>;

export const SettingsQuery = z.object({ userId: identifier().optional() }).strict();

// A union, not .nullable(): on a referenced schema the generator writes allOf [DecimalString, string|null],
// which null cannot satisfy.
const NullableDecimal = z.union([DecimalString, z.null()]);

export const BillingSettings = z
  .object({
    userId: z.string(),
    autoTopUp: z.object({
      enabled: z.boolean(),
      thresholdCredits: NullableDecimal,
      packageId: z.string().nullable(),
      monthlyLimitUsd: z.string().nullable(),
      status: z.enum(['off', 'active', 'paused']),
      pausedReason: z.string().nullable(),
      spentThisMonthUsd: z.string(),
    }),
    lowBalance: z.object({
      thresholdCredits: NullableDecimal.openapi({
        description: 'balance.low is sent once each time available falls below it; null: off',
      }),
    }),
    paymentMethod: z
      .object({ brand: z.string(), last4: z.string(), expMonth: z.number().int(), expYear: z.number().int() })
      .nullable(),
  })
  .openapi('BillingSettings');

documentRoute({
  method: 'get',
  path: '/v1/billing/settings',
  summary: "The caller's billing settings: auto top-up, the low-balance threshold and the saved card",
  tags: ['billing'],
  security: [{ bearer: [] }],
  request: { query: SettingsQuery },
  responses: {
    200: json(BillingSettings, 'The settings'),
    400: problems[400],
    401: problems[401],
    403: problems[403],
    429: problems[429],
  },
});

documentRoute({
  method: 'put',
  path: '/v1/billing/settings',
  summary: "Change the caller's billing settings; fields left out keep their value",
  tags: ['billing'],
  security: [{ bearer: [] }],
  request: { body: { content: { 'application/json': { schema: SettingsBody } } } },
  responses: {
    200: json(BillingSettings, 'The settings after the change'),
    400: problems[400],
    401: problems[401],
    409: { description: '`payment_method_required`: auto top-up needs a saved card', content: problems[409].content },
    422: {
      description: '`unknown_package`, or `monthly_limit_below_price`: the limit would not pay for one top-up',
      content: problems[422].content,
    },
    429: problems[429],
  },
});
