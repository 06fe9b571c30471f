import type { Database } from '../../platform/db/database';

export interface TopupRow {
  id: string;
  userId: string;
  status: string;
  packageId: string;
  priceCents: number;
  credits: string;
  bonusCredits: string;
  customerId: string;
  paymentMethodId: string;
  paymentIntentId: string | null;
  failureCode: string | null;
  recoveryUrl: string | null;
  stripeCalls: number;
  createdAt: Date;
  /** The user's auto top-up status when the attempt was claimed (claims only). */
  autoTopUpStatus?: 'off' | 'active' | 'paused';
}

export const TOPUP_COLUMNS = `id::text, user_id AS "userId", status, package_id AS "packageId",
  price_cents AS "priceCents", credits::text, bonus_credits::text AS "bonusCredits", customer_id AS "customerId",
  payment_method_id AS "paymentMethodId", payment_intent_id AS "paymentIntentId", failure_code AS "failureCode",
  recovery_url AS "recoveryUrl", stripe_calls AS "stripeCalls", created_at AS "createdAt"`;

/** The attempts' queue: claims for the worker, retries, and the user's list. */
export class TopupsRepository {
  constructor(private readonly db: Database) {}

  /**
   * Claims due attempts for this worker: pending ones to send, and processing ones whose Stripe event
   * is overdue, to look up. SKIP LOCKED so replicas never wait on each other, and a lease so a replica
   * that dies mid-call gives the attempt back when the lease ends. The call to Stripe is counted
   * before it is made: an attempt with stripe_calls = 0 never reached Stripe.
   */
  async claimDue(limit: number, leaseSeconds: number): Promise<TopupRow[]> {
    const { rows } = await this.db.pool.query<TopupRow>(
      `UPDATE topups t SET lease_until = now() + make_interval(secs => $2), stripe_calls = t.stripe_calls + 1,
         updated_at = now()
       WHERE t.id IN (SELECT c.id FROM topups c
                      WHERE c.status IN ('pending', 'processing') AND c.next_attempt_at <= now()
                        AND (c.lease_until IS NULL OR c.lease_until < now())
                      ORDER BY c.next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING ${TOPUP_COLUMNS},
         (SELECT s.auto_topup_status FROM billing_settings s WHERE s.user_id = t.user_id) AS "autoTopUpStatus"`,
      [limit, leaseSeconds],
    );
    return rows;
  }

  /** Stripe could not be reached: the same attempt (same idempotency key) goes again after the pause. */
  async retryLater(id: string, delaySeconds: number): Promise<void> {
    await this.db.pool.query(
      `UPDATE topups SET lease_until = NULL, next_attempt_at = now() + make_interval(secs => $2), updated_at = now()
       WHERE id = $1::uuid AND status IN ('pending', 'processing')`,
      [id, delaySeconds],
    );
  }

  async list(userId: string, limit: number, before?: { createdAt: Date; id: string }): Promise<TopupRow[]> {
    const { rows } = await this.db.pool.query<TopupRow>(
      `SELECT ${TOPUP_COLUMNS} FROM topups
       WHERE user_id = $1 AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
       ORDER BY created_at DESC, id DESC LIMIT $2`,
      [userId, limit, before?.createdAt ?? null, before?.id ?? null],
    );
    return rows;
  }

  /** Attempts waiting for the worker (not yet claimed, or between retries) and users paused, cluster-wide. */
  async stats(): Promise<{ pending: number; paused: number }> {
    const { rows } = await this.db.pool.query<{ pending: number; paused: number }>(
      `SELECT (SELECT count(*) FROM topups WHERE status = 'pending')::int AS pending,
              (SELECT count(*) FROM billing_settings WHERE auto_topup_status = 'paused')::int AS paused`,
    );
    return rows[0];
  }
}
