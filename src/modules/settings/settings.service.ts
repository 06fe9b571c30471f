import { conflict } from '../../platform/errors';
import { formatCredits } from '../../platform/money';
import type { SettingsRepository } from './settings.repository';
import type { SettingsBody } from './settings.schemas';

export class SettingsService {
  constructor(private readonly repo: SettingsRepository) {}

  async get(userId: string) {
    const row = await this.repo.find(userId);
    const threshold = row?.lowBalanceThresholdCredits;
    return {
      userId,
      // Auto top-up needs a saved card, which cannot be saved yet: it is off for everyone.
      autoTopUp: {
        enabled: false,
        thresholdCredits: null,
        packageId: null,
        monthlyLimitUsd: null,
        status: 'off' as const,
        pausedReason: null,
        spentThisMonthUsd: '0.00',
      },
      lowBalance: { thresholdCredits: threshold === null || threshold === undefined ? null : formatCredits(threshold) },
      paymentMethod: null,
    };
  }

  async update(userId: string, body: SettingsBody) {
    if (body.autoTopUp?.enabled)
      throw conflict('payment_method_required', 'Auto top-up needs a saved card; save one first');
    if (body.lowBalance) await this.repo.setLowBalanceThreshold(userId, body.lowBalance.thresholdCredits);
    return this.get(userId);
  }
}
