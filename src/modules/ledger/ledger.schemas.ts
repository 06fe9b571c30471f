import { z } from 'zod';
import { identifier } from '../../platform/http/identifiers';
import { DecimalString, documentRoute, json, problems } from '../../platform/openapi/registry';

const isoDate = z
  .string()
  .datetime({ offset: true })
  .transform((s) => new Date(s));

export const LedgerQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,40}$/)
      .optional(),
    from: isoDate.optional(),
    to: isoDate.optional(),
    userId: identifier().optional(),
  })
  .strict();

export const ExportQuery = z
  .object({ from: isoDate.optional(), to: isoDate.optional(), userId: identifier().optional() })
  .strict();

export const LedgerEntry = z
  .object({
    transactionId: z.string().uuid(),
    type: z.enum(['purchase', 'bonus', 'usage', 'refund', 'dispute', 'dispute_reversal', 'adjustment']),
    amount: DecimalString.openapi({ description: 'Signed: positive credits the wallet' }),
    balanceAfter: DecimalString,
    correlationId: z.string().nullable(),
    reference: z.string().nullable(),
    createdAt: z.string().datetime(),
  })
  .openapi('LedgerEntry');

documentRoute({
  method: 'get',
  path: '/v1/ledger',
  summary: "Entries on the caller's wallet, newest first, cursor-paginated",
  tags: ['ledger'],
  security: [{ bearer: [] }],
  request: { query: LedgerQuery },
  responses: {
    200: json(z.object({ data: z.array(LedgerEntry), nextCursor: z.string().nullable() }), 'A page of entries'),
    400: problems[400],
    401: problems[401],
    403: problems[403],
    429: problems[429],
  },
});

documentRoute({
  method: 'get',
  path: '/v1/ledger/export.csv',
  summary: 'The ledger as CSV for finance (own wallet; any user or all with billing:admin)',
  tags: ['ledger'],
  security: [{ bearer: [] }],
  request: { query: ExportQuery },
  responses: {
    200: {
      description:
        'RFC 4180 CSV, streamed: created_at,transaction_id,user_id,type,amount,balance_after,correlation_id,reference',
      content: { 'text/csv': { schema: z.string() } },
    },
    400: problems[400],
    401: problems[401],
    403: problems[403],
    429: problems[429],
  },
});
