import { z } from 'zod';
import { DecimalString, documentRoute, json, problems } from '../../platform/openapi/registry';

const isoDate = z
  .string()
  .datetime({ offset: true })
  .transform((s) => new Date(s));

export const PeriodQuery = z.object({ from: isoDate.optional(), to: isoDate.optional() }).strict();
export const CreditsReportQuery = PeriodQuery.extend({
  full: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .openapi({ description: 'Check the invariants over the whole ledger instead of from the newest closed period' }),
}).strict();
export const UsageReportQuery = PeriodQuery.extend({
  groupBy: z.enum(['model', 'user', 'day']).default('model'),
}).strict();

const Period = z.object({ from: z.string().datetime(), to: z.string().datetime() });
const Invariant = z.object({
  name: z.string(),
  ok: z.boolean(),
  offending: z.array(z.record(z.string(), z.unknown())),
});

export const CreditsReport = z
  .object({
    period: Period,
    checkedFrom: z.string().datetime().nullable().openapi({
      description: 'End of the closed period the invariants were checked from; null: checked over the whole ledger',
    }),
    ok: z.boolean(),
    byType: z.array(z.object({ type: z.string(), transactions: z.number().int(), walletAmount: DecimalString })),
    byAccount: z.array(z.object({ account: z.string(), balance: DecimalString, periodNet: DecimalString })),
    wallets: z.object({ count: z.number().int(), total: DecimalString, negative: z.number().int() }),
    invariants: z.array(Invariant),
  })
  .openapi('CreditsReport');

export const UsageReportRow = z.object({
  group: z.string(),
  requests: z.number().int(),
  inputTokens: z.string(),
  cachedInputTokens: z.string(),
  outputTokens: z.string(),
  credits: DecimalString,
  usdAtCost: DecimalString,
  usdAtPrice: DecimalString,
  share: DecimalString.openapi({ description: "This group's fraction of the period's credits (0-1)" }),
});

export const UsageReport = z
  .object({
    period: Period,
    groupBy: z.enum(['model', 'user', 'day']),
    totals: UsageReportRow.omit({ group: true, share: true }),
    data: z.array(UsageReportRow),
  })
  .openapi('UsageReport');

const csv = { 'text/csv': { schema: z.string() } };
const admin = { security: [{ bearer: ['billing:admin'] }], tags: ['reports'] };
const errors = { 400: problems[400], 401: problems[401], 403: problems[403], 429: problems[429] };

documentRoute({
  method: 'get',
  path: '/v1/admin/reports/credits',
  summary: 'Trial balance: totals per ledger type and system account, and the ledger invariants checked in SQL',
  ...admin,
  request: { query: CreditsReportQuery },
  responses: {
    200: {
      description: 'The report (CSV with Accept: text/csv)',
      content: { ...json(CreditsReport, '').content, ...csv },
    },
    ...errors,
  },
});

documentRoute({
  method: 'get',
  path: '/v1/admin/reports/usage',
  summary: 'Usage by model, user or day: requests, tokens, credits, USD at cost and at price, share',
  ...admin,
  request: { query: UsageReportQuery },
  responses: {
    200: {
      description: 'The report (CSV with Accept: text/csv)',
      content: { ...json(UsageReport, '').content, ...csv },
    },
    ...errors,
  },
});

const Discrepancy = z.object({
  kind: z.enum(['missing_in_ledger', 'missing_in_stripe', 'amount_mismatch']),
  object: z.enum(['checkout_session', 'payment_intent', 'refund', 'dispute']).openapi({
    description: "payment_intent: an auto top-up's off-session PaymentIntent",
  }),
  stripeId: z.string().nullable(),
  purchaseId: z.string().nullable(),
  ledgerTransactionId: z.string().nullable(),
  unit: z.enum(['usd', 'credits']),
  stripeAmount: DecimalString,
  ledgerAmount: DecimalString,
  detail: z.string(),
});

export const RevenueReport = z
  .object({
    period: Period,
    ok: z.boolean().openapi({ description: 'true when no discrepancy was found' }),
    stripe: z.object({
      grossUsd: DecimalString,
      refundedUsd: DecimalString,
      disputedUsd: DecimalString,
      netUsd: DecimalString,
      paidSessions: z.number().int(),
      topups: z.number().int().openapi({ description: "Auto top-ups' PaymentIntents that succeeded" }),
      refunds: z.number().int(),
      disputes: z.number().int(),
    }),
    ledger: z.object({
      grossUsd: DecimalString,
      refundedUsd: DecimalString,
      disputedUsd: DecimalString,
      netUsd: DecimalString,
      purchases: z.number().int().openapi({ description: 'Purchases credited, auto top-ups included' }),
      topups: z.number().int().openapi({ description: 'Of the purchases, those that were auto top-ups' }),
      refunds: z.number().int(),
      disputes: z.number().int(),
      creditsPurchased: DecimalString,
      creditsBonus: DecimalString,
      creditsTakenBack: DecimalString,
    }),
    discrepancyCount: z.number().int(),
    discrepancies: z.array(Discrepancy).openapi({ description: 'The first 1000; discrepancyCount counts all' }),
  })
  .openapi('RevenueReport');

documentRoute({
  method: 'get',
  path: '/v1/admin/reports/revenue',
  summary:
    "Stripe against the ledger: paid Checkout Sessions, auto top-ups' PaymentIntents, " +
    'refunds and disputes matched to purchases and ledger transactions',
  ...admin,
  request: { query: PeriodQuery },
  responses: {
    200: {
      description: 'The report (CSV with Accept: text/csv: totals side by side, then one row per discrepancy)',
      content: { ...json(RevenueReport, '').content, ...csv },
    },
    ...errors,
    502: { description: 'Stripe refused or could not be reached; retry later', content: problems[500].content },
    503: problems[503],
  },
});
