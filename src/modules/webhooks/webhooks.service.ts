import type { Logger } from 'pino';
import Stripe from 'stripe';
import {
  type AppError,
  databaseUnavailable,
  invalidSignature,
  malformedEvent,
  stripeNotConfigured,
  webhookProcessingFailed,
} from '../../platform/errors';
import { isDatabaseUnavailable } from '../../platform/db/db-faults';
import type { Metrics } from '../../platform/metrics';
import { stripeWebhooks } from '../../platform/stripe';
import type { EventRecord, Handled, WebhooksRepository } from './webhooks.repository';
import {
  HANDLED_TYPES,
  type ChargeObject,
  type DisputeObject,
  type Effects,
  type SessionObject,
} from './webhooks.events';
import { StripeLookupRefused, type PurchaseOfPaymentIntent } from './webhooks.payment-intents';
import type { CardsGateway } from '../cards/cards.gateway';
import type { TopupOutcomes } from '../topups/topups.outcomes';
import { saveSetupCard } from './webhooks.cards';
import { topupFailed, topupSucceeded } from './webhooks.topups';
import type { PaymentIntentObject } from './webhooks.events';
import { closeDispute, creditSession, endSession, openDispute, refundCharge, type RuleContext } from './webhooks.rules';
import { checkEvent, type CheckedEvent } from './webhooks.validation';

/** Stripe signs with a timestamp; older deliveries are refused so a captured one cannot be replayed. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export type Outcome = 'processed' | 'duplicate' | 'ignored' | 'rejected' | 'failed';

export interface Delivery {
  raw: Buffer;
  signature: string | undefined;
  correlationId: string;
  log: Logger;
}

const KNOWN = new Set<string>(HANDLED_TYPES);

export class WebhooksService {
  constructor(
    private readonly repo: WebhooksRepository,
    private readonly secret: string | undefined,
    private readonly metrics: Metrics,
    private readonly stripeSide: {
      paymentIntents?: PurchaseOfPaymentIntent;
      cards?: CardsGateway;
      topups: TopupOutcomes;
    },
  ) {}

  async receive(d: Delivery): Promise<{ received: true; eventId: string; outcome: Outcome }> {
    if (!this.secret) {
      d.log.error('STRIPE_WEBHOOK_SECRET is not set; webhook refused');
      throw stripeNotConfigured('Stripe webhooks are not configured on this server.');
    }
    const event = this.check(this.verify(d), d);
    const record: EventRecord = {
      id: event.id,
      type: event.type,
      objectId: event.objectId,
      correlationId: d.correlationId,
    };
    const typeLabel = KNOWN.has(event.type) ? event.type : 'other';
    const log = d.log.child({ eventId: event.id, eventType: event.type });
    let result: Handled<Effects> | 'duplicate';
    try {
      result = await this.repo.process(record, (tx) =>
        this.apply(
          {
            tx,
            eventId: event.id,
            correlationId: d.correlationId,
            purchaseOfPaymentIntent: this.stripeSide.paymentIntents,
            cards: this.stripeSide.cards,
            topups: this.stripeSide.topups,
          },
          event.type,
          event.object,
        ),
      );
    } catch (error) {
      if (error instanceof StripeLookupRefused) return this.lookupRefused(record, error, typeLabel, log);
      const message = error instanceof Error ? error.message : String(error);
      await this.repo
        .recordFailure(record, message.slice(0, 1000))
        .catch((e) => log.error({ err: e }, 'could not record webhook failure'));
      this.metrics.webhookEvents.inc({ type: typeLabel, outcome: 'failed' });
      log.error({ err: error, outcome: 'failed' }, 'stripe webhook failed; Stripe will retry');
      // Either way Stripe retries; a database fault says so as 503 like every other route.
      if (isDatabaseUnavailable(error)) throw databaseUnavailable({ cause: error });
      throw webhookProcessingFailed(error);
    }
    const outcome: Outcome = result === 'duplicate' ? 'duplicate' : result.outcome;
    this.metrics.webhookEvents.inc({ type: typeLabel, outcome });
    if (result !== 'duplicate') this.count(result.effects, log);
    log.info({ outcome, note: result === 'duplicate' ? undefined : result.note }, 'stripe webhook');
    return { received: true, eventId: event.id, outcome };
  }

  /**
   * Stripe refused our own lookup (401/403): retrying for three days cannot help, and the event may
   * be a take-back of credits. It is recorded as failed (so a resend from Stripe's dashboard, once
   * the key is fixed, claims it again), counted for the alert, and acknowledged so Stripe stops.
   * If even the record cannot be written, Stripe is asked to retry instead.
   */
  private async lookupRefused(record: EventRecord, error: StripeLookupRefused, typeLabel: string, log: Logger) {
    await this.repo.recordFailure(record, error.message);
    this.metrics.webhookEvents.inc({ type: typeLabel, outcome: 'failed' });
    this.metrics.webhookLookupsRefused.inc({ status: String(error.statusCode) });
    log.error(
      {
        alert: 'stripe_lookup_refused',
        outcome: 'failed',
        paymentIntentId: error.paymentIntentId,
        status: error.statusCode,
      },
      error.message,
    );
    return { received: true as const, eventId: record.id, outcome: 'failed' as const };
  }

  /** The parsed body once its signature holds; a signed body that is not JSON is malformed, not forged. */
  private verify(d: Delivery): unknown {
    try {
      if (!d.signature) throw new Error('missing Stripe-Signature header');
      return stripeWebhooks.constructEvent(d.raw, d.signature, this.secret!, SIGNATURE_TOLERANCE_SECONDS);
    } catch (error) {
      if (d.signature && !(error instanceof Stripe.errors.StripeSignatureVerificationError))
        throw this.malformed(d, 'body');
      this.metrics.authFailures.inc({ reason: 'webhook_signature' });
      this.metrics.webhookEvents.inc({ type: 'unknown', outcome: 'rejected' });
      d.log.warn({ outcome: 'rejected', reason: (error as Error).message }, 'stripe webhook signature rejected');
      throw invalidSignature('The Stripe-Signature header is missing, stale or does not match the body.');
    }
  }

  /** Nothing of a malformed event is stored or applied; the 400 makes it visible in Stripe's dashboard. */
  private check(event: unknown, d: Delivery): CheckedEvent {
    const checked = checkEvent(event);
    if ('invalid' in checked) throw this.malformed(d, checked.invalid);
    return checked;
  }

  private malformed(d: Delivery, field: string): AppError {
    this.metrics.webhookEvents.inc({ type: 'unknown', outcome: 'rejected' });
    d.log.warn({ outcome: 'rejected', field }, 'signed stripe webhook is not a well-formed event');
    return malformedEvent(field);
  }

  private apply(c: RuleContext, type: string, object: unknown): Promise<Handled<Effects>> {
    switch (type) {
      case 'checkout.session.completed': {
        const s = object as SessionObject;
        if (s.mode === 'setup') return saveSetupCard(c, s);
        if (s.payment_status !== 'paid') return this.unpaid(c, s);
        return creditSession(c, s);
      }
      case 'checkout.session.async_payment_succeeded':
        return creditSession(c, object as SessionObject);
      case 'checkout.session.async_payment_failed':
        return endSession(c, object as SessionObject, 'failed');
      case 'checkout.session.expired':
        return endSession(c, object as SessionObject, 'expired');
      case 'charge.refunded':
        return refundCharge(c, object as ChargeObject);
      case 'charge.dispute.created':
        return openDispute(c, object as DisputeObject);
      case 'charge.dispute.closed':
        return closeDispute(c, object as DisputeObject);
      case 'payment_intent.succeeded':
        return topupSucceeded(c, object as PaymentIntentObject);
      case 'payment_intent.payment_failed':
        return topupFailed(c, object as PaymentIntentObject);
      default:
        return Promise.resolve({ outcome: 'ignored', note: 'event type not handled', effects: {} });
    }
  }

  /** A completed session still waiting for a delayed payment method: async_payment_* will follow. */
  private async unpaid(_c: RuleContext, s: SessionObject): Promise<Handled<Effects>> {
    return {
      outcome: 'processed',
      note: `session completed with payment_status ${s.payment_status ?? 'unknown'}; awaiting payment`,
      effects: {},
    };
  }

  private count(e: Effects, log: Logger) {
    // Prometheus counters are floats: observability only, the ledger holds the exact amounts.
    if (e.purchased) this.metrics.creditsPurchased.inc(Number(e.purchased));
    if (e.bonus) this.metrics.creditsBonus.inc(Number(e.bonus));
    if (e.refunded) this.metrics.creditsRefunded.inc(Number(e.refunded));
    if (e.disputed) this.metrics.creditsDisputed.inc(Number(e.disputed));
    if (e.mismatch) {
      this.metrics.purchaseAmountMismatches.inc();
      log.error(
        { alert: 'purchase_amount_mismatch' },
        'paid Checkout Session does not match its package; not credited',
      );
    }
  }
}
