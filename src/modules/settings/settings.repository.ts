import type pg from 'pg';
import type { Database } from '../../platform/db/database';
import { inTransaction } from '../../platform/db/transaction';

export interface SettingsRow {
  lowBalanceThresholdCredits: string | null;
  status: 'off' | 'active' | 'paused';
  pausedReason: string | null;
  thresholdCredits: string | null;
  packageId: string | null;
  monthlyLimitCents: string | null;
  paymentMethodId: string | null;
  brand: string | null;
  last4: string | null;
  expMonth: number | null;
  expYear: number | null;
  /** The month's attempts that did not fail (UTC calendar month), the sum the monthly limit applies to. */
  spentThisMonthCents: string;
}

export interface AutoTopUpChange {
  enabled: boolean;
  thresholdCredits: string | null;
  packageId: string | null;
  priceCents: number | null;
  credits: string | null;
  bonusCredits: string | null;
  monthlyLimitCents: number | null;
}

export class SettingsRepository {
  constructor(private readonly db: Database) {}

  async find(userId: string): Promise<SettingsRow | undefined> {
    const { rows } = await this.db.pool.query<SettingsRow>(
      `SELECT low_balance_threshold_credits::text AS "lowBalanceThresholdCredits", auto_topup_status AS status,
         auto_topup_paused_reason AS "pausedReason", auto_topup_threshold_credits::text AS "thresholdCredits",
         auto_topup_package_id AS "packageId", auto_topup_monthly_limit_cents::text AS "monthlyLimitCents",
         payment_method_id AS "paymentMethodId", card_brand AS brand, card_last4 AS last4,
         card_exp_month AS "expMonth", card_exp_year AS "expYear",
         (SELECT COALESCE(sum(t.price_cents), 0) FROM topups t WHERE t.user_id = s.user_id AND t.status <> 'failed'
            AND t.created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')::text
           AS "spentThisMonthCents"
       FROM billing_settings s WHERE s.user_id = $1`,
      [userId],
    );
    return rows[0];
  }

  /**
   * One statement, so the setting and the wallet's copy that the money functions read never
   * disagree. A changed threshold arms the notice; the same threshold again changes nothing.
   */
  async setLowBalanceThreshold(userId: string, threshold: string | null): Promise<void> {
    await this.db.pool.query(
      `WITH s AS (
         INSERT INTO billing_settings (user_id, low_balance_threshold_credits) VALUES ($1, $2::numeric)
         ON CONFLICT (user_id) DO UPDATE
           SET low_balance_threshold_credits = EXCLUDED.low_balance_threshold_credits, updated_at = now()
       )
       INSERT INTO accounts (kind, user_id, low_balance_threshold) VALUES ('wallet', $1, $2::numeric)
       ON CONFLICT (user_id) DO UPDATE SET low_balance_threshold = EXCLUDED.low_balance_threshold,
         low_balance_armed = accounts.low_balance_armed
           OR accounts.low_balance_threshold IS DISTINCT FROM EXCLUDED.low_balance_threshold`,
      [userId, threshold],
    );
  }

  /**
   * Under the wallet lock, as every debit takes it: the settings, the wallet's copy of the threshold
   * and the attempts change together. Enabling sets the copy, and the wallet's deferred trigger then
   * starts an attempt at commit if available is already below it. Disabling clears the copy and ends
   * the attempts Stripe has not seen. 'no_card': enabling needs a saved card (checked under the lock).
   */
  async changeAutoTopUp(userId: string, c: AutoTopUpChange): Promise<'changed' | 'no_card'> {
    return inTransaction(this.db.pool, 'BEGIN', async (client) => {
      await lockWallet(client, userId);
      const { rows } = await client.query<{ card: string | null }>(
        `INSERT INTO billing_settings (user_id) VALUES ($1)
         ON CONFLICT (user_id) DO UPDATE SET updated_at = now() RETURNING payment_method_id AS card`,
        [userId],
      );
      if (c.enabled && !rows[0].card) return 'no_card';
      await client.query(
        `UPDATE billing_settings SET auto_topup_status = CASE WHEN $2 THEN 'active' ELSE 'off' END,
           auto_topup_paused_reason = NULL,
           auto_topup_failures = CASE WHEN $2 THEN 0 ELSE auto_topup_failures END,
           auto_topup_threshold_credits = $3::numeric, auto_topup_package_id = $4, auto_topup_price_cents = $5,
           auto_topup_credits = $6::numeric, auto_topup_bonus_credits = $7::numeric,
           auto_topup_monthly_limit_cents = $8, updated_at = now()
         WHERE user_id = $1`,
        [
          userId,
          c.enabled,
          c.thresholdCredits,
          c.packageId,
          c.priceCents,
          c.credits,
          c.bonusCredits,
          c.monthlyLimitCents,
        ],
      );
      // An attempt that asked the user to authenticate ends when the user turns auto top-up on again.
      await client.query(
        `UPDATE topups SET status = 'failed', updated_at = now()
         WHERE user_id = $1 AND status = 'requires_action' AND $2`,
        [userId, c.enabled],
      );
      await client.query(
        `UPDATE topups SET status = 'failed', failure_code = 'canceled', ended_at = now(), updated_at = now()
         WHERE user_id = $1 AND status = 'pending' AND stripe_calls = 0 AND NOT $2`,
        [userId, c.enabled],
      );
      await client.query(`UPDATE accounts SET auto_topup_threshold = $2::numeric WHERE user_id = $1`, [
        userId,
        c.enabled ? c.thresholdCredits : null,
      ]);
      return 'changed';
    });
  }
}

async function lockWallet(client: pg.PoolClient, userId: string): Promise<void> {
  await client.query(`INSERT INTO accounts (kind, user_id) VALUES ('wallet', $1) ON CONFLICT (user_id) DO NOTHING`, [
    userId,
  ]);
  await client.query(`SELECT id FROM accounts WHERE user_id = $1 FOR UPDATE`, [userId]);
}
