import { insufficientCredits, unprocessable } from '../../platform/errors';
import { formatCredits, money } from '../../platform/money';
import { businessKey } from '../ledger/business-keys';
import type { WalletRepository } from '../wallet/wallet.repository';
import type { AdjustmentInput } from './adjustments.schemas';

export class AdjustmentsService {
  constructor(private readonly wallets: WalletRepository) {}

  async adjust(input: AdjustmentInput, admin: string, idempotencyKey: string, correlationId: string) {
    const amount = money(input.amount);
    const result = await this.wallets.post({
      userId: input.userId,
      type: 'adjustment',
      // The admin's Idempotency-Key makes the adjustment's identity: it posts once even if the
      // HTTP-level idempotency record were lost.
      businessKey: businessKey.adjustment(admin, idempotencyKey),
      counterAccount: 'promotions',
      amount: amount.toFixed(),
      allowNegative: input.allowNegative ?? false,
      correlationId,
      reference: input.reason,
      actor: admin,
      metadata: { reason: input.reason },
    });
    if (result.outcome === 'mismatch') {
      throw unprocessable('idempotency_key_reused', 'This Idempotency-Key already posted a different adjustment');
    }
    if (result.outcome === 'insufficient') {
      const required = amount.negated();
      const available = money(result.balance);
      throw insufficientCredits({ required, available });
    }
    return {
      transactionId: result.transactionId!,
      userId: input.userId,
      amount: formatCredits(result.amount),
      balance: formatCredits(result.balance),
      reason: result.reference ?? input.reason,
      createdAt: result.createdAt!.toISOString(),
    };
  }
}
