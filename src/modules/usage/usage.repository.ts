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
  /** The settled hold's reservation, for the overage metric; null without a hold. */
  heldCredits: string | null;
}

export class UsageRepository {
  constructor(private readonly db: Database, private readonly metrics?: Metrics) {}

  /**
   * The whole charge in one round trip: see billing_charge_usage in prisma/migrations. The hold's
   * amount rides along in the same statement (it never changes once placed, so the statement's
   * snapshot reads it as the function saw it).
   */
  async charge(c: ChargeCommand): Promise<ChargeRow> {
    const metadata = c.metadata === undefined ? null : JSON.stringify(c.metadata);
    const rows = await timed(this.metrics, 'charge_usage', () =>
      this.db.prisma.$queryRaw<ChargeRow[]>`
        SELECT outcome, usage_id::text AS "usageId", transaction_id::text AS "transactionId", credits::text AS credits,
               balance::text AS balance, available::text AS available, correlation_id AS "correlationId", model, hold_id::text AS "holdId",
               (SELECT h.amount::text FROM holds h WHERE h.id = r.hold_id) AS "heldCredits"
        FROM billing_charge_usage(${c.userId}, ${c.requestId}, ${c.model}, ${c.family}, ${c.inputTokens}::bigint,
             ${c.outputTokens}::bigint, ${c.cachedInputTokens}::bigint, ${c.payloadHash}, ${c.correlationId}, ${metadata}::jsonb) r`,
    );
    return rows[0];
  }
}
