import type { Database } from '../../platform/db/database';

export interface SettingsRow {
  lowBalanceThresholdCredits: string | null;
}

export class SettingsRepository {
  constructor(private readonly db: Database) {}

  async find(userId: string): Promise<SettingsRow | undefined> {
    const { rows } = await this.db.pool.query<SettingsRow>(
      `SELECT low_balance_threshold_credits::text AS "lowBalanceThresholdCredits" FROM billing_settings WHERE user_id = $1`,
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
         ON CONFLICT (user_id) DO UPDATE SET low_balance_threshold_credits = EXCLUDED.low_balance_threshold_credits, updated_at = now()
       )
       INSERT INTO accounts (kind, user_id, low_balance_threshold) VALUES ('wallet', $1, $2::numeric)
       ON CONFLICT (user_id) DO UPDATE SET low_balance_threshold = EXCLUDED.low_balance_threshold,
         low_balance_armed = accounts.low_balance_armed OR accounts.low_balance_threshold IS DISTINCT FROM EXCLUDED.low_balance_threshold`,
      [userId, threshold],
    );
  }
}
