import type { Database } from '../../platform/db/database';
import { timed, type Metrics } from '../../platform/metrics';

export type LedgerType = 'purchase' | 'bonus' | 'refund' | 'dispute' | 'dispute_reversal' | 'adjustment';
export type SystemAccount = 'stripe_clearing' | 'bonus_expense' | 'promotions' | 'refunds' | 'disputes';

export interface PostCommand {
  userId: string;
  type: LedgerType;
  /** The business fact this posting records; it posts once, ever. */
  businessKey: string;
  counterAccount: SystemAccount;
  /** Signed from the wallet's side: positive credits the wallet. */
  amount: string;
  allowNegative: boolean;
  correlationId: string | null;
  reference: string | null;
  actor?: string | null;
  metadata?: unknown;
}

export interface PostResult {
  /** mismatch: the business key already posted a different movement (another wallet, amount or type). */
  outcome: 'posted' | 'replay' | 'mismatch' | 'insufficient';
  transactionId: string | null;
  amount: string;
  balance: string;
  correlationId: string | null;
  reference: string | null;
  createdAt: Date | null;
}

/** Minimal surface of Prisma's client or its interactive-transaction client. */
type RawRunner = Pick<Database['prisma'], '$queryRaw'>;

/**
 * Movements between one wallet and one system account, in one round trip (billing_post_wallet).
 * Shared by adjustments, purchases, refunds and disputes; pass a transaction client to make a
 * posting atomic with other writes (a webhook event's record).
 */
export class WalletRepository {
  constructor(
    private readonly db: Database,
    private readonly metrics?: Metrics,
  ) {}

  async post(c: PostCommand, runner: RawRunner = this.db.prisma): Promise<PostResult> {
    const metadata = c.metadata === undefined ? null : JSON.stringify(c.metadata);
    const rows = await timed(
      this.metrics,
      'post_wallet',
      () =>
        runner.$queryRaw<PostResult[]>`
        SELECT outcome, transaction_id::text AS "transactionId", amount::text AS amount, balance::text AS balance,
               correlation_id AS "correlationId", reference, created_at AS "createdAt"
        FROM billing_post_wallet(${c.userId}, ${c.type}, ${c.businessKey}, ${c.counterAccount}, ${c.amount}::numeric,
             ${c.allowNegative}, ${c.correlationId}, ${c.reference}, ${c.actor ?? null}, ${metadata}::jsonb)`,
    );
    return rows[0];
  }
}
