import type { Metrics } from '../../src/platform/metrics';
import type { StripeTestApp } from './stripe';

/** The ledger rows a purchase caused, oldest first (business keys name the purchase or its Stripe objects). */
export async function ledgerOf(t: StripeTestApp, userId: string) {
  return t.database.sql<{
    type: string;
    amount: string;
    business_key: string;
    reference: string;
    correlation_id: string;
  }>(
    `SELECT t.type, p.amount::text AS amount, t.business_key, t.reference, t.correlation_id
     FROM ledger_transactions t JOIN postings p ON p.transaction_id = t.id JOIN accounts a ON a.id = p.account_id
     WHERE a.user_id = $1 ORDER BY p.id`,
    [userId],
  );
}

export async function purchaseRow(t: StripeTestApp, purchaseId: string) {
  const rows = await t.database.sql<Record<string, unknown>>(
    `SELECT status, payment_intent_id, amount_refunded_cents, credits_refunded::text, credits_disputed::text,
            failure_reason FROM purchases WHERE id = $1`,
    [purchaseId],
  );
  return rows[0];
}

export async function eventRow(t: StripeTestApp, eventId: string) {
  const rows = await t.database.sql<{ outcome: string; error: string | null; attempts: number }>(
    `SELECT outcome, error, attempts FROM stripe_events WHERE id = $1`,
    [eventId],
  );
  return rows[0];
}

/** A counter's value for the labels given (0 when never incremented). */
export async function counterValue(
  counter: Metrics[keyof Metrics],
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = await (
    counter as { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> }
  ).get();
  return metric.values
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((s, v) => s + v.value, 0);
}

/** What a webhook delivery can leave behind: recorded events, ledger transactions, purchases no longer pending. */
export async function storedCounts(t: StripeTestApp) {
  const [events] = await t.database.sql<{ n: number }>(`SELECT count(*)::int AS n FROM stripe_events`);
  const [ledger] = await t.database.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ledger_transactions`);
  const [paid] = await t.database.sql<{ n: number }>(
    `SELECT count(*)::int AS n FROM purchases WHERE status <> 'pending'`,
  );
  return { events: events.n, ledger: ledger.n, paid: paid.n };
}
