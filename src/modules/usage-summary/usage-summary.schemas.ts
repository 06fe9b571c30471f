import { z } from 'zod';
import { identifier } from '../../platform/http/identifiers';
import { DecimalString, documentRoute, json, problems } from '../../platform/openapi/registry';

// A UTC day (2026-12-01, from its start) or an instant with an offset; the summary widens it to whole UTC days.
const instant = z
  .string()
  .max(40)
  .refine(
    (s) => /^\d{4}-\d{2}-\d{2}$/.test(s) || z.string().datetime({ offset: true }).safeParse(s).success,
    'a date (YYYY-MM-DD) or an ISO 8601 date-time with offset',
  )
  .transform((s) => new Date(s.length === 10 ? `${s}T00:00:00Z` : s))
  .refine((d) => !Number.isNaN(d.getTime()), 'not a real date');

export const SummaryQuery = z
  .object({
    from: instant.optional().openapi({
      description:
        'Inclusive start, a UTC day (a date-time counts from the start of its UTC day); default: 29 days before today',
    }),
    to: instant.optional().openapi({
      description:
        'Exclusive end: a date is the start of that UTC day; a date-time other than a midnight includes its whole ' +
        'UTC day; default: the end of today',
    }),
    groupBy: z.enum(['day', 'model']).default('day'),
    userId: identifier().optional(),
  })
  .strict();

export type SummaryQuery = z.infer<typeof SummaryQuery>;

const SummaryRow = z
  .object({
    key: z.string().openapi({ description: 'The UTC day (2026-12-01) or the model as charged' }),
    requests: z.number().int(),
    inputTokens: z.number().int(),
    outputTokens: z.number().int(),
    cachedInputTokens: z.number().int(),
    credits: DecimalString,
  })
  .openapi('UsageSummaryRow');

export const UsageSummary = z
  .object({
    userId: z.string(),
    from: z.string().datetime(),
    to: z.string().datetime(),
    groupBy: z.enum(['day', 'model']),
    data: z.array(SummaryRow),
    totalCredits: DecimalString,
  })
  .openapi('UsageSummary');

documentRoute({
  method: 'get',
  path: '/v1/usage/summary',
  summary:
    "The caller's usage by UTC day or by model, for a chart, " +
    'over whole UTC days (days and models without usage are absent)',
  tags: ['usage'],
  security: [{ bearer: [] }],
  request: { query: SummaryQuery },
  responses: {
    200: json(UsageSummary, 'Sums over [from, to), both UTC midnights'),
    400: problems[400],
    401: problems[401],
    403: problems[403],
    429: problems[429],
  },
});
