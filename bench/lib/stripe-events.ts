import { createHmac, randomUUID } from 'node:crypto';
import type pg from 'pg';

/** Stripe-Signature as Stripe computes it: HMAC-SHA256 of "<t>.<raw body>" with the endpoint secret. */
export function stripeSignature(payload: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${payload}`).digest('hex');
  return `t=${timestamp},v1=${v1}`;
}

export interface BenchPurchase {
  purchaseId: string;
  userId: string;
  sessionId: string;
}

/** Pending starter purchases written straight into SQL (no Stripe API on this machine). */
export async function seedPurchases(pool: pg.Pool, count: number, runId: string): Promise<BenchPurchase[]> {
  const purchases = Array.from({ length: count }, (_, i) => ({
    purchaseId: randomUUID(),
    userId: `bench-${(i % 1000) + 1}`,
    sessionId: `cs_test_bench_${runId}_${i}`,
  }));
  await pool.query(
    `INSERT INTO purchases (id, user_id, package_id, status, price_cents, credits, bonus_credits, checkout_session_id)
     SELECT p.id::uuid, p.user_id, 'starter', 'pending', 500, 5000, 0, p.session_id
     FROM jsonb_to_recordset($1::jsonb) AS p(id text, user_id text, session_id text)`,
    [JSON.stringify(purchases.map((p) => ({ id: p.purchaseId, user_id: p.userId, session_id: p.sessionId })))],
  );
  return purchases;
}

/** A distinct paid checkout.session.completed event for one purchase (starter: $5, USD). */
export function checkoutCompleted(p: BenchPurchase, n: number): string {
  return JSON.stringify({
    id: `evt_bench_${p.sessionId}_${n}`,
    object: 'event',
    type: 'checkout.session.completed',
    api_version: '2025-01-27.acacia',
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    data: {
      object: {
        id: p.sessionId,
        object: 'checkout.session',
        mode: 'payment',
        status: 'complete',
        payment_status: 'paid',
        amount_total: 500,
        currency: 'usd',
        client_reference_id: p.userId,
        payment_intent: `pi_bench_${p.sessionId}`,
        metadata: { purchaseId: p.purchaseId, userId: p.userId, packageId: 'starter' },
      },
    },
  });
}
