import type { Database } from '../../platform/db/database';
import type { TransactionClient } from '../../generated/prisma/internal/prismaNamespace';
import { formatCredits, money } from '../../platform/money';
import { businessKey } from '../ledger/business-keys';
import { recordEvent } from '../events/events.repository';
import type { WalletRepository } from '../wallet/wallet.repository';
import { TOPUP_COLUMNS, type TopupRow } from './topups.repository';

/** What Stripe said about an attempt's PaymentIntent, from its own answer or from a webhook. */
export type TopupOutcome =
  | { kind: 'succeeded'; paymentIntentId: string; amountCents: number }
  | { kind: 'processing'; paymentIntentId: string }
  | { kind: 'failed'; failureCode: string; paymentIntentId: string | null }
  | { kind: 'requires_action'; paymentIntentId: string | null; recoveryUrl: string | null };

export interface Applied {
  /** The attempt moved to this status now; null: nothing changed (already there, or a later state). */
  status: TopupRow['status'] | null;
  /** Posted now (absent when the credit had already been posted). */
  credited?: { credits: string; bonusCredits: string };
  paused?: 'too_many_failures' | 'authentication_required';
  /** Stripe took another amount than the attempt's price: nothing credited, finance must look. */
  mismatch?: boolean;
  note?: string;
}

/** States an outcome may still move an attempt out of; money arriving is credited from any state but one. */
const OPEN = ['pending', 'processing'];

/**
 * The one statement of what each outcome does to an attempt, the wallet, the settings and the
 * outbox, in one transaction: the worker's (record) or a Stripe event's (apply). The wallet is
 * locked first, as every debit locks it before its deferred trigger may start an attempt, so the
 * two never wait on each other in opposite orders; the attempt is locked next, so the worker and a
 * webhook that race on one PaymentIntent apply it once.
 */
export class TopupOutcomes {
  constructor(
    private readonly db: Database,
    private readonly wallets: WalletRepository,
    private readonly maxFailures: number,
  ) {}

  record(topupId: string, outcome: TopupOutcome, correlationId: string): Promise<Applied> {
    return this.db.prisma.$transaction((tx) => this.apply(tx, topupId, outcome, correlationId), {
      maxWait: 10_000,
      timeout: 20_000,
    });
  }

  async apply(tx: TransactionClient, topupId: string, outcome: TopupOutcome, correlationId: string): Promise<Applied> {
    const owner = await tx.$queryRaw<{ userId: string }[]>`
      SELECT user_id AS "userId" FROM topups WHERE id = ${topupId}::uuid`;
    if (!owner[0]) return { status: null, note: `no top-up ${topupId}` };
    await tx.$queryRaw`SELECT id FROM accounts WHERE user_id = ${owner[0].userId} FOR UPDATE`;
    const [t] = await tx.$queryRawUnsafe<TopupRow[]>(
      `SELECT ${TOPUP_COLUMNS} FROM topups WHERE id = $1::uuid FOR UPDATE`,
      topupId,
    );
    if (t.status === 'succeeded') return { status: null, note: 'top-up already succeeded' };
    if (outcome.kind === 'succeeded') return this.succeed(tx, t, outcome, correlationId);
    if (!OPEN.includes(t.status)) return { status: null, note: `top-up already ${t.status}` };
    if (outcome.kind === 'processing') {
      // Stripe's event settles it; if none has come in 15 minutes, the worker asks Stripe.
      await tx.$executeRaw`UPDATE topups SET status = 'processing', payment_intent_id = ${outcome.paymentIntentId},
        lease_until = NULL, next_attempt_at = now() + interval '15 minutes', updated_at = now()
        WHERE id = ${t.id}::uuid`;
      return { status: 'processing' };
    }
    if (outcome.kind === 'failed') return this.fail(tx, t, outcome);
    return this.requireAction(tx, t, outcome);
  }

  /** Credits once per PaymentIntent (business keys), links a purchase so refunds and disputes find it. */
  private async succeed(
    tx: TransactionClient,
    t: TopupRow,
    o: Extract<TopupOutcome, { kind: 'succeeded' }>,
    correlationId: string,
  ): Promise<Applied> {
    if (o.amountCents !== t.priceCents) {
      // Ended, so it neither blocks the next attempt nor is sent again; the payment is for finance to resolve.
      await tx.$executeRaw`UPDATE topups SET status = 'failed', failure_code = 'amount_mismatch',
        payment_intent_id = ${o.paymentIntentId}, lease_until = NULL, ended_at = now(), updated_at = now()
        WHERE id = ${t.id}::uuid`;
      const note = `amount_mismatch: Stripe took ${o.amountCents} cents for a ${t.priceCents} cent top-up`;
      return { status: 'failed', mismatch: true, note };
    }
    const pi = o.paymentIntentId;
    const base = { userId: t.userId, correlationId, reference: pi, allowNegative: false };
    const metadata = { topupId: t.id, paymentIntentId: pi };
    const credit = await this.wallets.post(
      {
        ...base,
        type: 'purchase',
        businessKey: businessKey.stripeTopup(pi),
        counterAccount: 'stripe_clearing',
        amount: t.credits,
        metadata,
      },
      tx,
    );
    let balance = credit.balance;
    if (money(t.bonusCredits).gt(0)) {
      const bonus = await this.wallets.post(
        {
          ...base,
          type: 'bonus',
          businessKey: businessKey.stripeTopupBonus(pi),
          counterAccount: 'bonus_expense',
          amount: t.bonusCredits,
          metadata,
        },
        tx,
      );
      balance = bonus.balance;
    }
    await tx.$executeRaw`
      INSERT INTO purchases (user_id, package_id, status, price_cents, currency, credits, bonus_credits,
        payment_intent_id, amount_paid_cents, correlation_id, paid_at, topup_id)
      VALUES (${t.userId}, ${t.packageId}, 'paid', ${t.priceCents}, 'usd', ${t.credits}::numeric,
        ${t.bonusCredits}::numeric, ${pi}, ${o.amountCents}, ${correlationId}, now(), ${t.id}::uuid)
      ON CONFLICT DO NOTHING`;
    await tx.$executeRaw`UPDATE topups SET status = 'succeeded', payment_intent_id = ${pi}, failure_code = NULL,
      lease_until = NULL, ended_at = now(), updated_at = now() WHERE id = ${t.id}::uuid`;
    await tx.$executeRaw`UPDATE billing_settings SET auto_topup_failures = 0 WHERE user_id = ${t.userId}`;
    const total = formatCredits(money(t.credits).plus(t.bonusCredits));
    if (credit.outcome === 'posted') {
      const data = { topupId: t.id, packageId: t.packageId, credits: total, balance: formatCredits(balance) };
      await recordEvent(tx, 'topup.succeeded', t.userId, data);
    }
    const credited = { credits: t.credits, bonusCredits: t.bonusCredits };
    return { status: 'succeeded', credited: credit.outcome === 'posted' ? credited : undefined };
  }

  private async fail(
    tx: TransactionClient,
    t: TopupRow,
    o: Extract<TopupOutcome, { kind: 'failed' }>,
  ): Promise<Applied> {
    await tx.$executeRaw`UPDATE topups SET status = 'failed', failure_code = ${o.failureCode},
      payment_intent_id = COALESCE(${o.paymentIntentId}, payment_intent_id), lease_until = NULL, ended_at = now(),
      updated_at = now() WHERE id = ${t.id}::uuid`;
    const [s] = await tx.$queryRaw<{ failures: number; status: string }[]>`
      UPDATE billing_settings SET auto_topup_failures = auto_topup_failures + 1, updated_at = now()
      WHERE user_id = ${t.userId} RETURNING auto_topup_failures AS failures, auto_topup_status AS status`;
    const failures = s?.failures ?? 1;
    await recordEvent(tx, 'topup.failed', t.userId, {
      topupId: t.id,
      failureCode: o.failureCode,
      consecutiveFailures: failures,
    });
    const pause = s?.status === 'active' && failures >= this.maxFailures;
    if (pause) await this.pause(tx, t.userId, 'too_many_failures');
    return { status: 'failed', paused: pause ? ('too_many_failures' as const) : undefined };
  }

  /** SCA: final for this attempt; the user pays the recovery Checkout Session on session instead. */
  private async requireAction(
    tx: TransactionClient,
    t: TopupRow,
    o: Extract<TopupOutcome, { kind: 'requires_action' }>,
  ): Promise<Applied> {
    await tx.$executeRaw`UPDATE topups SET status = 'requires_action', failure_code = 'authentication_required',
      recovery_url = ${o.recoveryUrl}, payment_intent_id = COALESCE(${o.paymentIntentId}, payment_intent_id),
      lease_until = NULL, ended_at = now(), updated_at = now() WHERE id = ${t.id}::uuid`;
    await recordEvent(tx, 'topup.requires_action', t.userId, { topupId: t.id, recoveryUrl: o.recoveryUrl });
    await this.pause(tx, t.userId, 'authentication_required');
    return { status: 'requires_action', paused: 'authentication_required' };
  }

  /** Paused: no attempt starts (the wallet's copy of the threshold is cleared) until the user enables it again. */
  private async pause(tx: TransactionClient, userId: string, reason: 'too_many_failures' | 'authentication_required') {
    const paused = await tx.$executeRaw`UPDATE billing_settings SET auto_topup_status = 'paused',
      auto_topup_paused_reason = ${reason}, updated_at = now()
      WHERE user_id = ${userId} AND auto_topup_status = 'active'`;
    await tx.$executeRaw`UPDATE accounts SET auto_topup_threshold = NULL WHERE user_id = ${userId}`;
    if (paused > 0) await recordEvent(tx, 'autotopup.paused', userId, { reason });
  }
}
