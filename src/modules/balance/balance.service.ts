import { formatCredits, money } from '../../platform/money';
import type { BalanceRepository } from './balance.repository';

export class BalanceService {
  constructor(private readonly repo: BalanceRepository) {}

  /** A user never seen before simply has nothing: balance "0". */
  async get(userId: string) {
    const row = await this.repo.find(userId);
    const balance = money(row?.balance ?? '0');
    const held = money(row?.held ?? '0');
    return {
      userId,
      balance: formatCredits(balance),
      held: formatCredits(held),
      available: formatCredits(balance.minus(held)),
      currency: 'credits' as const,
    };
  }
}
