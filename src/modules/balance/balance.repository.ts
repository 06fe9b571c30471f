import type { Database } from '../../platform/db/database';

export interface BalanceRow {
  balance: string;
  held: string;
}

// Named: planned once per pooled connection (see usage.repository.ts for why not $queryRaw here).
const FIND = {
  name: 'balance_find_v1',
  text:
    'SELECT balance::text AS balance, billing_active_holds(id, NULL)::text AS held FROM accounts ' +
    'WHERE user_id = $1',
};

export class BalanceRepository {
  constructor(private readonly db: Database) {}

  async find(userId: string): Promise<BalanceRow | undefined> {
    const { rows } = await this.db.pool.query<BalanceRow>({ ...FIND, values: [userId] });
    return rows[0];
  }
}
