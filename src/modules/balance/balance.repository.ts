import type { Database } from '../../platform/db/database';

export interface BalanceRow {
  balance: string;
  held: string;
}

export class BalanceRepository {
  constructor(private readonly db: Database) {}

  async find(userId: string): Promise<BalanceRow | undefined> {
    const rows = await this.db.prisma.$queryRaw<BalanceRow[]>`
      SELECT balance::text AS balance, billing_active_holds(id, NULL)::text AS held FROM accounts WHERE user_id = ${userId}`;
    return rows[0];
  }
}
