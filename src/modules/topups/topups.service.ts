import type { Logger } from '../../platform/logger';
import type { Metrics } from '../../platform/metrics';
import type { PurchasesService } from '../purchases/purchases.service';
import { StripeUnreachable, type Answered, type TopupsGateway } from './topups.gateway';
import type { TopupOutcome, TopupOutcomes } from './topups.outcomes';
import type { TopupRow, TopupsRepository } from './topups.repository';

/** Stripe keeps an idempotency key 24 hours: an attempt Stripe never answered is given up before that. */
const GIVE_UP_AFTER_MS = 23 * 3600_000;
/** 5 s, 10 s, 20 s … up to 10 minutes between calls for one attempt. */
export const retryDelaySeconds = (calls: number) => Math.min(600, 5 * 2 ** Math.max(0, calls - 1));

/** Sends claimed attempts to Stripe and records what Stripe said. */
export class TopupAttempts {
  constructor(
    private readonly repo: TopupsRepository,
    private readonly gateway: TopupsGateway,
    private readonly outcomes: TopupOutcomes,
    private readonly purchases: PurchasesService,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  async run(t: TopupRow): Promise<void> {
    const log = this.logger.child({ topupId: t.id, userId: t.userId });
    const correlationId = `topup:${t.id}`;
    let outcome: TopupOutcome;
    try {
      const answer = await this.answer(t);
      outcome =
        answer.kind === 'requires_action'
          ? { ...answer, recoveryUrl: await this.recoveryUrl(t, correlationId, log) }
          : answer;
    } catch (error) {
      if (!(error instanceof StripeUnreachable)) throw error;
      if (Date.now() - t.createdAt.getTime() < GIVE_UP_AFTER_MS) {
        this.metrics.topups.attempts.inc({ outcome: 'retry' });
        log.warn({ err: error, stripeCalls: t.stripeCalls }, 'auto top-up: Stripe unreachable, will retry');
        await this.repo.retryLater(t.id, retryDelaySeconds(t.stripeCalls));
        return;
      }
      outcome = { kind: 'failed', failureCode: 'stripe_unavailable', paymentIntentId: null };
    }
    const applied = await this.outcomes.record(t.id, outcome, correlationId);
    this.metrics.topups.attempts.inc({ outcome: outcome.kind });
    if (applied.mismatch) log.error({ alert: 'topup_amount_mismatch', note: applied.note }, 'auto top-up not credited');
    log.info(
      { outcome: outcome.kind, status: applied.status, paused: applied.paused, note: applied.note },
      'auto top-up',
    );
  }

  /**
   * A pending attempt is sent, unless the user turned auto top-up off after an earlier call that Stripe
   * may or may not have seen: then Stripe is only asked what it holds, so "off" never creates a charge.
   * A processing attempt whose event is overdue is looked up too.
   */
  private async answer(t: TopupRow): Promise<Answered> {
    const lookOnly = t.status === 'processing' || (t.autoTopUpStatus !== 'active' && t.stripeCalls > 1);
    if (!lookOnly) return this.gateway.charge(t);
    const found = await this.gateway.lookup(t);
    if (found) return found;
    if (t.status === 'processing') return { kind: 'processing', paymentIntentId: t.paymentIntentId! };
    return { kind: 'failed', failureCode: 'canceled', paymentIntentId: null };
  }

  /**
   * A Checkout Session for the same package, paid on session: what the user does when the bank asks.
   * Best effort: Stripe's answer is final whether or not the link can be made, so without one the
   * attempt still ends requires_action and pauses (the user can buy from the purchase page).
   */
  private async recoveryUrl(t: TopupRow, correlationId: string, log: Logger): Promise<string | null> {
    try {
      const purchase = await this.purchases.start(t.userId, t.packageId, correlationId);
      return purchase.checkoutUrl;
    } catch (error) {
      log.warn({ err: error }, 'auto top-up: the recovery Checkout Session could not be made');
      return null;
    }
  }
}
