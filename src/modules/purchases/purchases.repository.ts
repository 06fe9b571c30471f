import type { Database } from '../../platform/db/database';
import type { Purchase } from '../../generated/prisma/client';
import { isUuid } from '../../platform/uuid';

export type PurchaseRow = Purchase;

export interface NewPurchase {
  userId: string;
  packageId: string;
  priceCents: number;
  credits: string;
  bonusCredits: string;
  correlationId: string;
}

export class PurchasesRepository {
  constructor(private readonly db: Database) {}

  create(p: NewPurchase): Promise<PurchaseRow> {
    return this.db.prisma.purchase.create({ data: { ...p, currency: 'usd' } });
  }

  linkSession(id: string, sessionId: string, checkoutUrl: string | null): Promise<PurchaseRow> {
    return this.db.prisma.purchase.update({
      where: { id },
      data: { checkoutSessionId: sessionId, checkoutUrl, updatedAt: new Date() },
    });
  }

  /** Only a purchase still waiting for its session can fail here; a webhook may already have moved it. */
  async markFailed(id: string, reason: string): Promise<void> {
    await this.db.prisma.purchase.updateMany({
      where: { id, status: 'pending', checkoutSessionId: null },
      data: { status: 'failed', failureReason: reason, updatedAt: new Date() },
    });
  }

  async find(id: string): Promise<PurchaseRow | null> {
    if (!isUuid(id)) return null; // not a purchase id; never a database cast error
    return this.db.prisma.purchase.findUnique({ where: { id } });
  }
}
