import type { Database } from '../../platform/db/database';
import { timed, type Metrics } from '../../platform/metrics';

export interface ChargeCommand {
  userId: string;
  requestId: string;
  model: string;
  family: string;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  payloadHash: string;
  correlationId: string;
  metadata?: unknown;
}

export interface ChargeRow {
  outcome: 'charged' | 'replay' | 'mismatch' | 'insufficient' | 'unknown_model';
  usageId: string | null;
  transactionId: string | null;
  credits: string | null;
  balance: string | null;
  available: string | null;
  correlationId: string | null;
  model: string | null;
  holdId: string | null;
}

// A named statement: parsed and planned once per pooled connection, then only bound and executed.
// Prisma's $queryRaw re-sends and re-plans the text on every call and runs it through its query
// engine; on the hottest path of the service that cost showed up in `npm run bench`.
const CHARGE = {
  name: 'billing_charge_usage_v1',
  text: `SELECT outcome, usage_id::text AS "usageId", transaction_id::text AS "transactionId", credits::text AS credits,
               balance::text AS balance, available::text AS available, correlation_id AS "correlationId", model, hold_id::text AS "holdId"
        FROM billing_charge_usage($1, $2, $3, $4, $5::bigint, $6::bigint, $7::bigint, $8, $9, $10::jsonb)`,
};

export class UsageRepository {
  constructor(private readonly db: Database, private readonly metrics?: Metrics) {}

  /** The whole charge in one round trip: see billing_charge_usage in prisma/migrations. */
  async charge(c: ChargeCommand): Promise<ChargeRow> {
    const metadata = c.metadata === undefined ? null : JSON.stringify(c.metadata);
    const values = [c.userId, c.requestId, c.model, c.family, c.inputTokens, c.outputTokens, c.cachedInputTokens, c.payloadHash, c.correlationId, metadata];
    const { rows } = await timed(this.metrics, 'charge_usage', () => this.db.pool.query<ChargeRow>({ ...CHARGE, values }));
    return rows[0];
  }
}
