import { randomBytes } from 'node:crypto';
import { stripeWebhooks } from '../../src/platform/stripe';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { sleep } from '../helpers/holds';
import { makeKeyPair, signToken } from '../helpers/keys';
import { ledgerViolations, NO_VIOLATIONS } from '../helpers/ledger-invariants';
import { replicaEnv, startServer, type ServerProcess } from '../helpers/server-process';
import { AUDIENCE, ISSUER } from '../helpers/test-app';
import { StripeDouble } from '../stripe-double/stripe-double.server';

// The built server, as replicas run it, against the Stripe double over HTTP; each runs the worker.
const keys = makeKeyPair();
const token = (sub: string, scope?: string) => signToken(keys, sub, { issuer: ISSUER, audience: AUDIENCE, scope });
const webhookSecret = `whsec_${randomBytes(24).toString('base64url')}`;
const double = new StripeDouble();
let database: TestDatabase;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  await double.start();
});
afterAll(async () => {
  for (const s of servers) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  await double.stop();
  await database.drop();
});

async function replica(): Promise<ServerProcess> {
  const s = await startServer(
    replicaEnv(database.url, keys.publicKey, {
      STRIPE_SECRET_KEY: double.secretKey,
      STRIPE_WEBHOOK_SECRET: webhookSecret,
      STRIPE_API_BASE_URL: double.url,
      AUTO_TOPUP_LEASE_SECONDS: '3',
    }),
  );
  servers.push(s);
  return s;
}

const call = (s: ServerProcess, path: string, auth: string, body?: object, method = 'POST') =>
  fetch(`${s.baseUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${auth}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function deliver(s: ServerProcess, event: unknown) {
  const payload = JSON.stringify(event);
  const header = stripeWebhooks.generateTestHeaderString({ payload, secret: webhookSecret });
  const res = await fetch(`${s.baseUrl}/v1/webhooks/stripe`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Stripe-Signature': header },
    body: payload,
  });
  expect(res.status).toBe(200);
}

/** A saved card, `credits` in the wallet and auto top-up at 1,000 credits with the starter package. */
async function enroll(s: ServerProcess, userId: string, credits: string) {
  const setup = (await (await call(s, '/v1/billing/payment-method', token(userId))).json()) as {
    stripeCheckoutSessionId: string;
  };
  await deliver(s, double.completeSetupSession(setup.stripeCheckoutSessionId));
  await database.sql(
    `SELECT billing_post_wallet($1, 'adjustment', $2, 'promotions', $3::numeric, false, NULL, NULL, 'test', NULL)`,
    [userId, `fund:${userId}`, credits],
  );
  const put = await call(
    s,
    '/v1/billing/settings',
    token(userId),
    {
      autoTopUp: { enabled: true, thresholdCredits: '1000', packageId: 'starter', monthlyLimitUsd: '50' },
    },
    'PUT',
  );
  expect(put.status).toBe(200);
  const [{ customer }] = await database.sql<{ customer: string }>(
    `SELECT stripe_customer_id AS customer FROM billing_settings WHERE user_id = $1`,
    [userId],
  );
  return customer;
}

const topupsOf = (userId: string) =>
  database.sql<{ status: string; payment_intent_id: string | null }>(
    `SELECT status, payment_intent_id FROM topups WHERE user_id = $1`,
    [userId],
  );
const creditsOf = (userId: string) =>
  database.sql<{ key: string }>(
    `SELECT t.business_key AS key FROM ledger_transactions t JOIN postings p ON p.transaction_id = t.id
     JOIN accounts a ON a.id = p.account_id WHERE a.user_id = $1 AND t.business_key LIKE 'stripe:topup%'`,
    [userId],
  );

async function until(check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (await check()) return;
  throw new Error('condition never held');
}

const charge = (s: ServerProcess, userId: string, requestId: string) =>
  call(s, '/v1/usage/reconcile', token('llm-gateway', 'usage:write'), {
    userId,
    requestId,
    model: 'gpt-4o',
    inputTokens: 1000,
    outputTokens: 500,
  });

describe('auto top-up on two server processes', () => {
  it('50 concurrent charges through both: one attempt, one PaymentIntent, one credit', async () => {
    const [a, b] = [await replica(), await replica()];
    const customer = await enroll(a, 'twin', '3000');
    const charges = await Promise.all(Array.from({ length: 50 }, (_, i) => charge(i % 2 ? a : b, 'twin', `c-${i}`)));
    expect(charges.every((r) => r.status === 201)).toBe(true); // 50 × 50 credits: 3,000 → 500, below 1,000
    await until(async () => (await topupsOf('twin')).some((t) => t.status === 'succeeded'));
    await sleep(1500); // both workers poll again: nothing more may happen
    expect((await topupsOf('twin')).map((t) => t.status)).toEqual(['succeeded']);
    expect(double.paymentIntentsFor(customer)).toHaveLength(1);
    expect((await creditsOf('twin')).map((c) => c.key)).toEqual([
      `stripe:topup:${double.paymentIntentsFor(customer)[0].id}`,
    ]);
    const [{ balance }] = await database.sql<{ balance: string }>(
      `SELECT trim_scale(balance)::text AS balance FROM accounts WHERE user_id = 'twin'`,
    );
    expect(balance).toBe('5500');
    expect(await ledgerViolations(database)).toEqual(NO_VIOLATIONS);
  }, 180_000);

  it('a replica SIGKILLed after Stripe made the PaymentIntent, before recording it: credited once', async () => {
    for (const s of servers.splice(0)) await s.stop();
    const a = await replica();
    const customer = await enroll(a, 'phoenix', '1020');
    const held = double.holdNext(/^\/v1\/payment_intents$/);
    expect((await charge(a, 'phoenix', 'p-1')).status).toBe(201);
    await held.reached; // the worker's call is at Stripe
    a.child.kill('SIGKILL');
    await new Promise((r) => a.child.once('exit', r));
    held.release(); // Stripe makes the PaymentIntent; its answer goes nowhere
    await until(async () => double.paymentIntentsFor(customer).length === 1, 10_000);
    expect((await topupsOf('phoenix')).map((t) => t.status)).toEqual(['pending']);
    await replica(); // its worker takes the attempt over once the dead one's lease ends
    await until(async () => (await topupsOf('phoenix')).some((t) => t.status === 'succeeded'));
    expect(double.paymentIntentsFor(customer)).toHaveLength(1);
    expect(await creditsOf('phoenix')).toHaveLength(1);
    expect(await ledgerViolations(database)).toEqual(NO_VIOLATIONS);
  }, 180_000);
});
