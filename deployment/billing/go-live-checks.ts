/**
 * The go-live script's HTTP checks (`go-live-commands.sh smoke` and `webhook`), typed with the service's own
 * schemas. Run by the script as `node -r ts-node/register/transpile-only go-live-checks.ts smoke|webhook`;
 * configuration comes from its environment (BASE_URL, RUN_ID, DRY_RUN, the tokens, SMOKE_STRIPE,
 * STRIPE_WEBHOOK_SECRET). Prints one `ok`/`FAIL` line per check and exits 1 if any failed.
 */
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import Decimal from 'decimal.js';
import type { z } from 'zod';
import type { BalanceSchema } from '../../src/modules/balance/balance.schemas';
import type { LedgerEntry } from '../../src/modules/ledger/ledger.schemas';
import type { PurchaseSchema, StartedPurchaseSchema } from '../../src/modules/purchases/purchases.schemas';
import type { UsageCharge } from '../../src/modules/usage/usage.schemas';
import { signToken } from '../../scripts/lib/jwt-keys';

type Balance = z.infer<typeof BalanceSchema>;
type Charge = z.infer<typeof UsageCharge> & { requiredCredits?: string };
type Entry = z.infer<typeof LedgerEntry>;
type Started = z.infer<typeof StartedPurchaseSchema>;
type Purchase = z.infer<typeof PurchaseSchema>;

const env = process.env;
const DRY = env.DRY_RUN === '1';
const BASE = (env.BASE_URL ?? '').replace(/\/$/, '');
const RUN = env.RUN_ID ?? `${Date.now()}`;
const MODEL = 'gpt-4o';
const EXPECTED = '50';
const color = !env.NO_COLOR && (process.stdout.isTTY || !!env.FORCE_COLOR);
const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
let failures = 0;

const step = (s: string) => console.log(`\n${paint('1;34', `==> ${s}`)}`);
const ok = (s: string) => console.log(`${paint('32', '  ok')}   ${s}`);
const fail = (s: string) => {
  failures++;
  console.log(`${paint('31', '  FAIL')} ${s}`);
};
const norm = (v?: string) => (v ? new Decimal(v).toFixed() : '');

interface Answer<T> {
  status: string;
  body: T;
  text: string;
  headers: Headers;
}

async function http<T = Record<string, unknown>>(
  method: string,
  path: string,
  token = '',
  body?: string,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  const shown = [
    `curl -sS -X ${method} ${BASE}${path}`,
    token ? `-H 'Authorization: Bearer ***'` : '',
    body ? `--data-binary ${JSON.stringify(body)}` : '',
    ...Object.entries(headers).map(([k, v]) => `-H '${k}: ${k.toLowerCase().includes('signature') ? '***' : v}'`),
  ]
    .filter(Boolean)
    .join(' ');
  console.log(paint('2', `  $ ${shown}`));
  if (DRY) return { status: 'dry-run', body: {} as T, text: '{}', headers: new Headers() };
  try {
    const res = await fetch(`${BASE}${path}`, {
      method,
      body,
      signal: AbortSignal.timeout(20_000),
      headers: {
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(body ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
    });
    const text = await res.text();
    let parsed: unknown = {};
    try {
      parsed = JSON.parse(text);
    } catch {
      /* CSV, or not JSON */
    }
    return { status: String(res.status), body: parsed as T, text, headers: res.headers };
  } catch (error) {
    return { status: 'curl-error', body: {} as T, text: (error as Error).message, headers: new Headers() };
  }
}

function expect(label: string, a: Answer<unknown>, ...want: number[]): boolean {
  if (DRY) return (ok(`${label} (dry run)`), true);
  if (want.map(String).includes(a.status)) return (ok(`${label}: ${a.status}`), true);
  fail(`${label}: got ${a.status}, want ${want.join(' ')}: ${a.text.slice(0, 300)}`);
  return false;
}

function check(label: string, actual: string | undefined, wanted: string) {
  if (DRY) return;
  if (actual === wanted) ok(`${label} = ${actual}`);
  else fail(`${label}: got '${actual ?? ''}', want '${wanted}'`);
}

const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');
export const stripeSignature = (payload: string, secret: string) => {
  const t = Math.floor(Date.now() / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${payload}`).digest('hex')}`;
};

export function tokens() {
  const keyFile = env.JWT_SIGNING_KEY_FILE;
  const mint = (sub: string, scope?: string) => {
    const key = fs.readFileSync(keyFile!, 'utf8');
    return signToken({ privateKey: key, publicKey: '' }, sub, {
      scope,
      issuer: env.JWT_ISSUER || undefined,
      audience: env.JWT_AUDIENCE || undefined,
      expiresIn: 900,
      key,
    });
  };
  const t = {
    user: env.USER_TOKEN || (keyFile ? mint(env.SMOKE_USER_ID || 'smoke-user') : DRY ? 'USER_TOKEN' : ''),
    gateway: env.GATEWAY_TOKEN || (keyFile ? mint('llm-gateway', 'usage:write') : DRY ? 'GATEWAY_TOKEN' : ''),
    admin: env.ADMIN_TOKEN || (keyFile ? mint('go-live-smoke', 'billing:admin') : DRY ? 'ADMIN_TOKEN' : ''),
  };
  if (!t.user || !t.gateway || !t.admin) {
    console.error('ERROR smoke needs USER_TOKEN, GATEWAY_TOKEN and ADMIN_TOKEN (or JWT_SIGNING_KEY_FILE)');
    process.exit(1);
  }
  return t;
}

export const usage = (userId: string, requestId: string, inputTokens: number, outputTokens: number) =>
  JSON.stringify({ userId, requestId, model: MODEL, inputTokens, outputTokens });

async function smoke() {
  step(`Smoke test against ${BASE} (run ${RUN})`);
  const t = tokens();
  const corr = `smoke-${RUN}`;

  step('Health endpoints');
  expect('GET /healthz', await http('GET', '/healthz', '', undefined, { 'X-Correlation-Id': `${corr}-healthz` }), 200);
  expect('GET /readyz', await http('GET', '/readyz', '', undefined, { 'X-Correlation-Id': `${corr}-readyz` }), 200);

  step('Authentication: a valid JWT accepted, forged ones refused');
  const me = await http<Balance>('GET', '/v1/balance', t.user, undefined, { 'X-Correlation-Id': `${corr}-auth` });
  expect('valid token on GET /v1/balance', me, 200);
  const userId = DRY ? 'smoke-user' : me.body.userId;
  if (!userId) return fail('no userId in the balance response');
  ok(`smoke user ${userId}, balance ${DRY ? '0' : me.body.balance}`);
  const [head, claims, signature] = t.user.split('.');
  // alg "none" with the real claims, and the real signature over claims naming another user.
  const forged = `${b64url('{"alg":"none","typ":"JWT"}')}.${claims}.`;
  const tampered = `${head}.${b64url(JSON.stringify({ sub: 'finance-admin', scope: 'billing:admin', exp: Math.floor(Date.now() / 1000) + 600 }))}.${signature}`;
  expect('alg=none token refused', await http('GET', '/v1/balance', forged), 401);
  const refused = await http('GET', '/v1/balance', tampered);
  expect('token with altered claims refused', refused, 401);
  if (!DRY) {
    if (refused.headers.get('www-authenticate')) ok('401 carries WWW-Authenticate');
    else fail('401 without WWW-Authenticate');
  }

  if (env.SMOKE_STRIPE === '1') {
    await fundByPurchase(t.user, userId, corr);
  } else {
    step(`Funding: admin adjustment of ${EXPECTED} credits (SMOKE_STRIPE=1 funds through a Stripe test purchase)`);
    const grant = await http(
      'POST',
      '/v1/admin/credits/adjustments',
      t.admin,
      JSON.stringify({ userId, amount: EXPECTED, reason: `go-live smoke ${RUN}` }),
      { 'Idempotency-Key': `${corr}-grant`, 'X-Correlation-Id': `${corr}-grant` },
    );
    expect('POST /v1/admin/credits/adjustments', grant, 201);
  }
  const funded = (await http<Balance>('GET', '/v1/balance', t.user)).body.balance;
  if (!DRY) ok(`balance after funding: ${funded}`);

  step(`Usage: 1,000 input + 500 output tokens of ${MODEL} cost ${EXPECTED} credits`);
  const call = usage(userId, `${corr}-call`, 1000, 500);
  const first = await http<Charge>('POST', '/v1/usage/reconcile', t.gateway, call, {
    'X-Correlation-Id': `${corr}-usage`,
  });
  expect('POST /v1/usage/reconcile', first, 201);
  check('credits charged', norm(first.body.credits), EXPECTED);
  check('correlationId of the charge', first.body.correlationId ?? undefined, `${corr}-usage`);
  if (!DRY && funded)
    check('balance after the charge', norm(first.body.balance), new Decimal(funded).minus(EXPECTED).toFixed());

  step('Idempotent replay of the same call');
  const replay = await http<Charge>('POST', '/v1/usage/reconcile', t.gateway, call, {
    'X-Correlation-Id': `${corr}-replay`,
  });
  expect('replayed POST /v1/usage/reconcile', replay, 200);
  check('Idempotent-Replayed header', replay.headers.get('idempotent-replayed') ?? '', 'true');
  check('replayed transactionId', replay.body.transactionId ?? '', first.body.transactionId ?? '');
  const after = (await http<Balance>('GET', '/v1/balance', t.user)).body.balance;
  check('balance unchanged by the replay', norm(after), norm(first.body.balance));

  step('CSV export carries correlation ids');
  const csv = await http('GET', '/v1/ledger/export.csv', t.user, undefined, { 'X-Correlation-Id': `${corr}-export` });
  expect('GET /v1/ledger/export.csv', csv, 200);
  if (!DRY) {
    const type = csv.headers.get('content-type') ?? '';
    if (type.startsWith('text/csv')) ok(`Content-Type ${type}`);
    else fail(`Content-Type ${type}`);
    const lines = csv.text.split('\n');
    if (lines[0].includes('correlation_id')) ok('header row names correlation_id');
    else fail('no correlation_id column');
    if (lines.some((l) => l.includes(`${corr}-call`) && l.includes(`${corr}-usage`)))
      ok(`the charge's row carries correlation id ${corr}-usage`);
    else fail(`no row with request ${corr}-call and correlation id ${corr}-usage`);
  }

  step('Insufficient credits: 402 naming requiredCredits');
  const big = await http<Charge>(
    'POST',
    '/v1/usage/reconcile',
    t.gateway,
    usage(userId, `${corr}-too-big`, 0, 1_000_000_000),
    { 'X-Correlation-Id': `${corr}-402` },
  );
  expect('oversized call refused', big, 402);
  if (!DRY) {
    if (big.body.requiredCredits) ok(`requiredCredits = ${big.body.requiredCredits}`);
    else fail(`402 without requiredCredits: ${big.text}`);
    check(
      'balance unchanged by the refusal',
      norm((await http<Balance>('GET', '/v1/balance', t.user)).body.balance),
      norm(after),
    );
  }
}

// SMOKE_STRIPE=1, Stripe TEST mode only. Proves the service's own path: POST /v1/credits/purchase creates a
// real test-mode Checkout Session, then the checkout.session.completed event Stripe would send (built and
// signed HERE with STRIPE_WEBHOOK_SECRET, since nobody can pay a Checkout page without a browser) credits the
// package once, with a `purchase` ledger entry carrying the webhook's correlation id. It does NOT prove
// Stripe's own Checkout payment or Stripe delivering the event.
async function fundByPurchase(userToken: string, userId: string, corr: string) {
  const webhookCorr = `${corr}-purchase-webhook`;
  step('Funding: $5 starter purchase in Stripe test mode, paid by a webhook event this script signs');
  const secret = env.STRIPE_WEBHOOK_SECRET || (DRY ? 'whsec_dry_run' : '');
  if (!secret) return fail('SMOKE_STRIPE=1 needs STRIPE_WEBHOOK_SECRET');
  const before = (await http<Balance>('GET', '/v1/balance', userToken)).body.balance;
  const started = await http<Started>('POST', '/v1/credits/purchase', userToken, '{"packageId":"starter"}', {
    'Idempotency-Key': `${corr}-purchase`,
    'X-Correlation-Id': `${corr}-purchase`,
  });
  if (!expect('POST /v1/credits/purchase', started, 201)) return;
  const p = DRY
    ? {
        purchaseId: '<purchaseId>',
        stripeCheckoutSessionId: '<stripeCheckoutSessionId>',
        totalCredits: '5000',
        priceUsd: '5',
      }
    : started.body;
  if (!p.purchaseId || !p.stripeCheckoutSessionId)
    return fail(`purchase response without purchaseId or stripeCheckoutSessionId: ${started.text}`);
  // A self-signed "paid" event for a live session would credit money never received.
  if (p.stripeCheckoutSessionId.startsWith('cs_live_'))
    return fail(`Checkout Session ${p.stripeCheckoutSessionId} is live mode: SMOKE_STRIPE=1 is for test mode only`);
  check('starter package credits', norm(p.totalCredits), '5000');
  const cents = new Decimal(p.priceUsd).times(100).toFixed(0);
  check('amount_total of the starter package (cents)', cents, '500');
  ok(`purchase ${p.purchaseId}, Checkout Session ${p.stripeCheckoutSessionId}`);
  const event = JSON.stringify({
    id: `evt_smoke_${RUN}`,
    object: 'event',
    type: 'checkout.session.completed',
    livemode: false,
    created: Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: p.stripeCheckoutSessionId,
        object: 'checkout.session',
        mode: 'payment',
        livemode: false,
        payment_status: 'paid',
        status: 'complete',
        amount_total: Number(cents),
        currency: 'usd',
        payment_intent: `pi_smoke_${RUN.replace(/[^A-Za-z0-9]/g, '_')}`,
        client_reference_id: userId,
        metadata: { purchaseId: p.purchaseId, userId, packageId: 'starter' },
      },
    },
  });
  const delivered = await http<{ outcome?: string }>('POST', '/v1/webhooks/stripe', '', event, {
    'Stripe-Signature': stripeSignature(event, secret),
    'X-Correlation-Id': webhookCorr,
  });
  if (!expect('signed checkout.session.completed', delivered, 200)) return;
  check('webhook outcome', delivered.body.outcome, 'processed');
  const purchase = await http<Purchase>('GET', `/v1/credits/purchases/${p.purchaseId}`, userToken);
  expect('GET /v1/credits/purchases/{id}', purchase, 200);
  check('purchase status', purchase.body.status, 'paid');
  const now = (await http<Balance>('GET', '/v1/balance', userToken)).body.balance;
  if (!DRY && before)
    check('credits added by the purchase', new Decimal(now).minus(before).toFixed(), norm(p.totalCredits));
  const ledger = await http<{ data?: Entry[] }>('GET', '/v1/ledger?limit=50', userToken);
  expect('GET /v1/ledger', ledger, 200);
  if (!DRY) {
    const entry = ledger.body.data?.find((e) => e.type === 'purchase' && e.reference === p.stripeCheckoutSessionId);
    if (!entry) return fail(`no purchase entry for ${p.stripeCheckoutSessionId} in the ledger`);
    check('purchase ledger entry amount', norm(entry.amount), norm(p.totalCredits));
    check('purchase ledger entry correlationId', entry.correlationId ?? '', webhookCorr);
  }
}

async function webhook() {
  step(`Webhook: a signed test event delivered to ${BASE}/v1/webhooks/stripe`);
  const secret = env.STRIPE_WEBHOOK_SECRET || (DRY ? 'whsec_dry_run' : '');
  if (!secret) return fail('no STRIPE_WEBHOOK_SECRET');
  // An event type the service ignores (200, nothing moves): safe in live mode.
  const event = JSON.stringify({
    id: `evt_golive_${RUN}`,
    object: 'event',
    type: 'scholarlink.go_live.ping',
    livemode: false,
    created: Math.floor(Date.now() / 1000),
    data: { object: { id: `golive_${RUN}`, object: 'ping' } },
  });
  const send = (signature: string) =>
    http('POST', '/v1/webhooks/stripe', '', event, {
      'Stripe-Signature': signature,
      'X-Correlation-Id': `smoke-${RUN}-webhook`,
    });
  expect('signed test event acknowledged', await send(stripeSignature(event, secret)), 200);
  expect('same event redelivered: acknowledged, no second effect', await send(stripeSignature(event, secret)), 200);
  expect(
    'event with a bad signature refused',
    await send(`t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}`),
    400,
  );
}

if (require.main === module) {
  const command = process.argv[2];
  const run = command === 'smoke' ? smoke : command === 'webhook' ? webhook : undefined;
  if (!run || !BASE) {
    console.error('usage: BASE_URL=… go-live-checks.ts smoke|webhook');
    process.exit(2);
  }
  run().then(
    () => process.exit(failures === 0 ? 0 : 1),
    (error: Error) => {
      console.error(`ERROR ${error.message}`);
      process.exit(1);
    },
  );
}
