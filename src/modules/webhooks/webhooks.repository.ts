import type { Database } from '../../platform/db/database';
import { isUuid } from '../../platform/uuid';
import type { TransactionClient } from '../../generated/prisma/internal/prismaNamespace';
import type { PostCommand, PostResult, WalletRepository } from '../wallet/wallet.repository';
import { recordEvent } from '../events/events.repository';
import { saveCard } from '../cards/cards.repository';
import type { SavedCard } from '../cards/cards.gateway';
import type { TopupOutcome, TopupOutcomes } from '../topups/topups.outcomes';

export interface EventRecord {
  id: string;
  type: string;
  objectId: string | null;
  correlationId: string;
}

export interface Handled<T> {
  outcome: 'processed' | 'ignored';
  note?: string;
  effects: T;
}

/** A purchase as the webhook rules need it, locked for the rest of the transaction. */
export interface LockedPurchase {
  id: string;
  userId: string;
  packageId: string;
  status: string;
  priceCents: number;
  currency: string;
  credits: string;
  bonusCredits: string;
  checkoutSessionId: string | null;
  paymentIntentId: string | null;
  amountPaidCents: number | null;
  amountRefundedCents: number;
  amountDisputedCents: number;
  creditsRefunded: string;
  creditsDisputed: string;
  paidAt: Date | null;
}

export interface NamedPurchase {
  status: string;
  paymentIntentId: string | null;
  /** Failed because the paid session did not match its package: never credited, never will be. */
  amountMismatch: boolean;
}

export type PurchaseChanges = Partial<
  Pick<
    LockedPurchase,
    | 'status'
    | 'checkoutSessionId'
    | 'paymentIntentId'
    | 'amountPaidCents'
    | 'amountRefundedCents'
    | 'amountDisputedCents'
    | 'creditsRefunded'
    | 'creditsDisputed'
    | 'paidAt'
  >
> & {
  failureReason?: string | null;
};

const SELECT_PURCHASE = `SELECT id::text, user_id AS "userId", package_id AS "packageId", status,
  price_cents AS "priceCents", currency, credits::text, bonus_credits::text AS "bonusCredits",
  checkout_session_id AS "checkoutSessionId", payment_intent_id AS "paymentIntentId",
  amount_paid_cents AS "amountPaidCents", amount_refunded_cents AS "amountRefundedCents",
  amount_disputed_cents AS "amountDisputedCents", credits_refunded::text AS "creditsRefunded",
  credits_disputed::text AS "creditsDisputed", paid_at AS "paidAt" FROM purchases`;

/** What an event's rules may do inside its transaction: every write commits or rolls back with the event's record. */
export class WebhookTx {
  constructor(
    private readonly tx: TransactionClient,
    private readonly wallets: WalletRepository,
  ) {}

  /** The purchase of a Checkout Session: by session id, or by the purchase id in its metadata while still unlinked. */
  async lockPurchaseForSession(sessionId: string, purchaseId: string | undefined): Promise<LockedPurchase | null> {
    const bySession = await this.lock(`WHERE checkout_session_id = $1`, sessionId);
    if (bySession || !purchaseId || !isUuid(purchaseId)) return bySession;
    return this.lock(`WHERE id = $1::uuid AND checkout_session_id IS NULL`, purchaseId);
  }

  /**
   * The purchase a PaymentIntent's metadata names, locked: a credit of it committing meanwhile is
   * waited for and then seen, so a refund racing its own purchase's credit cannot slip past both.
   */
  async lockNamedPurchase(purchaseId: string): Promise<NamedPurchase | null> {
    if (!isUuid(purchaseId)) return null;
    const rows = await this.tx.$queryRawUnsafe<NamedPurchase[]>(
      `SELECT status, payment_intent_id AS "paymentIntentId",
         COALESCE(failure_reason LIKE 'amount_mismatch%', false) AS "amountMismatch"
       FROM purchases WHERE id = $1::uuid FOR UPDATE`,
      purchaseId,
    );
    return rows[0] ?? null;
  }

  lockPurchaseForPaymentIntent(paymentIntentId: string): Promise<LockedPurchase | null> {
    return this.lock(`WHERE payment_intent_id = $1`, paymentIntentId);
  }

  async updatePurchase(id: string, c: PurchaseChanges): Promise<void> {
    await this.tx.purchase.update({ where: { id }, data: { ...c, updatedAt: new Date() } });
  }

  post(cmd: PostCommand): Promise<PostResult> {
    return this.wallets.post(cmd, this.tx);
  }

  /** An auto top-up's outcome, applied with this Stripe event's record (topups.outcomes.ts has the rules). */
  applyTopup(outcomes: TopupOutcomes, topupId: string, outcome: TopupOutcome, correlationId: string) {
    return outcomes.apply(this.tx, topupId, outcome, correlationId);
  }

  /** An auto top-up attempt's status, locked: a credit of it committing meanwhile is waited for. */
  async lockTopupStatus(topupId: string): Promise<string | null> {
    if (!isUuid(topupId)) return null;
    const rows = await this.tx.$queryRaw<{ status: string }[]>`
      SELECT status FROM topups WHERE id = ${topupId}::uuid FOR UPDATE`;
    return rows[0]?.status ?? null;
  }

  saveCard(userId: string, customerId: string, card: SavedCard): Promise<boolean> {
    return saveCard(this.tx, userId, customerId, card);
  }

  /** An outbound event, committed or rolled back with the rest of this Stripe event's effects. */
  emit(type: string, userId: string, data: Record<string, unknown>): Promise<void> {
    return recordEvent(this.tx, type, userId, data);
  }

  private async lock(where: string, value: string): Promise<LockedPurchase | null> {
    const rows = await this.tx.$queryRawUnsafe<LockedPurchase[]>(`${SELECT_PURCHASE} ${where} FOR UPDATE`, value);
    return rows[0] ?? null;
  }
}

export class WebhooksRepository {
  constructor(
    private readonly db: Database,
    private readonly wallets: WalletRepository,
  ) {}

  /**
   * Claims the event id and runs its rules in ONE transaction. A delivery that finds the id
   * already processed (or waits for a concurrent copy to commit) gets 'duplicate' and changes
   * nothing; an id recorded as failed is claimed again, so Stripe's retry does the work.
   */
  async process<T>(e: EventRecord, rules: (tx: WebhookTx) => Promise<Handled<T>>): Promise<Handled<T> | 'duplicate'> {
    return this.db.prisma.$transaction(
      async (tx) => {
        const claimed = await tx.$queryRaw<{ id: string }[]>`
          INSERT INTO stripe_events (id, type, outcome, object_id, correlation_id)
          VALUES (${e.id}, ${e.type}, 'processed', ${e.objectId}, ${e.correlationId})
          ON CONFLICT (id) DO UPDATE SET outcome = 'processed', error = NULL, attempts = stripe_events.attempts + 1,
            correlation_id = EXCLUDED.correlation_id
          WHERE stripe_events.outcome = 'failed'
          RETURNING id`;
        if (claimed.length === 0) return 'duplicate' as const;
        const handled = await rules(new WebhookTx(tx, this.wallets));
        await tx.$executeRaw`
          UPDATE stripe_events SET outcome = ${handled.outcome}, error = ${handled.note ?? null}, processed_at = now()
          WHERE id = ${e.id}`;
        return handled;
      },
      { maxWait: 10_000, timeout: 20_000 },
    );
  }

  /** After a rollback: the failure is remembered, and the id stays claimable for the retry. */
  async recordFailure(e: EventRecord, error: string): Promise<void> {
    await this.db.prisma.$executeRaw`
      INSERT INTO stripe_events (id, type, outcome, object_id, correlation_id, error)
      VALUES (${e.id}, ${e.type}, 'failed', ${e.objectId}, ${e.correlationId}, ${error})
      ON CONFLICT (id) DO UPDATE SET error = EXCLUDED.error, correlation_id = EXCLUDED.correlation_id
      WHERE stripe_events.outcome = 'failed'`;
  }
}
