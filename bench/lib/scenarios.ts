import type autocannon from 'autocannon';
import type pg from 'pg';
import { countUsages, walletUser } from './bench-db';
import { runLoad, type LoadResult } from './http-load';
import type { ServerHandle } from './server-process';
import { checkoutCompleted, seedPurchases, stripeSignature } from './stripe-events';

export interface BenchContext {
  server: ServerHandle;
  pool: pg.Pool;
  runId: string;
  connections: number;
  seconds: number;
  wallets: number;
  gatewayToken: string;
  userTokens: string[];
  webhookSecret: string;
  /** a broken promise of the scenario (wrong count, non-2xx): fails the run */
  violation(scenario: string, message: string): void;
}

export interface Measured extends LoadResult {
  peakRssMb: number;
  serverCpuMsPerRequest: number;
  /** autocannon runs in this process: its CPU shares the same two cores */
  loadGenCpuMsPerRequest: number;
  note?: string;
}

const CHARGE = { model: 'gpt-4o-mini', inputTokens: 100, outputTokens: 50 }; // 0.18 credits, like the floor

const json = (token: string) => ({ 'content-type': 'application/json', authorization: `Bearer ${token}` });
const random = (n: number) => 1 + Math.floor(Math.random() * n);

async function measured(ctx: BenchContext, run: () => Promise<LoadResult>): Promise<Measured> {
  ctx.server.resetPeak();
  const cpu = ctx.server.cpuMs();
  const own = process.cpuUsage();
  const result = await run();
  const ownUsed = process.cpuUsage(own);
  return {
    ...result,
    peakRssMb: ctx.server.peak(),
    serverCpuMsPerRequest: (ctx.server.cpuMs() - cpu) / result.requests,
    loadGenCpuMsPerRequest: (ownUsed.user + ownUsed.system) / 1000 / result.requests,
  };
}

/**
 * autocannon stops at the deadline without waiting for the requests still in flight; those may
 * commit unanswered, so up to one per connection may be recorded without a counted 201.
 */
function inFlightTolerance(ctx: BenchContext, scenario: string, answered: number, recorded: number, what: string) {
  if (recorded < answered || recorded > answered + ctx.connections) {
    ctx.violation(scenario, `${answered} answered 201 but ${recorded} ${what} were recorded`);
  }
}

function expectOnly(ctx: BenchContext, scenario: string, r: LoadResult, status: string) {
  const other = Object.entries(r.statuses).filter(([s]) => s !== status);
  if (other.length > 0 || r.errors > 0) ctx.violation(scenario, `expected only ${status}, got ${JSON.stringify(r.statuses)} and ${r.errors} errors`);
}

/** First charges; every 201 must be exactly one new usage row. */
export async function reconcile(ctx: BenchContext, scenario: string, o: { hot: boolean; seconds?: number; overallRate?: number }): Promise<Measured> {
  let seq = 0;
  const prefix = `${ctx.runId}-${scenario}-`;
  const before = await countUsages(ctx.pool);
  const request: autocannon.AutocannonRequest = {
    method: 'POST',
    path: '/v1/usage/reconcile',
    headers: json(ctx.gatewayToken),
    setupRequest: (req) => ({
      ...req,
      body: JSON.stringify({ userId: walletUser(o.hot ? 1 : random(ctx.wallets)), requestId: `${prefix}${seq++}`, ...CHARGE }),
    }),
  };
  const r = await measured(ctx, () =>
    runLoad({ url: ctx.server.url, connections: ctx.connections, seconds: o.seconds ?? ctx.seconds, overallRate: o.overallRate, requests: [request] }),
  );
  expectOnly(ctx, scenario, r, '201');
  inFlightTolerance(ctx, scenario, r.statuses['201'] ?? 0, (await countUsages(ctx.pool)) - before, 'usages');
  return r;
}

/** Replays of requests charged earlier: 200 + Idempotent-Replayed, and not one new usage. */
export async function replay(ctx: BenchContext, scenario: string, ofScenario: string): Promise<Measured> {
  const { rows } = await ctx.pool.query<{ user_id: string; request_id: string }>(
    `SELECT user_id, request_id FROM usages WHERE request_id LIKE $1 LIMIT 50000`,
    [`${ctx.runId}-${ofScenario}-%`],
  );
  if (rows.length === 0) throw new Error(`no charged requests of ${ofScenario} to replay`);
  let i = 0;
  const before = await countUsages(ctx.pool);
  const r = await measured(ctx, () =>
    runLoad({
      url: ctx.server.url,
      connections: ctx.connections,
      seconds: ctx.seconds,
      requests: [
        {
          method: 'POST',
          path: '/v1/usage/reconcile',
          headers: json(ctx.gatewayToken),
          setupRequest: (req) => {
            const row = rows[i++ % rows.length];
            return { ...req, body: JSON.stringify({ userId: row.user_id, requestId: row.request_id, ...CHARGE }) };
          },
        },
      ],
    }),
  );
  expectOnly(ctx, scenario, r, '200');
  const created = (await countUsages(ctx.pool)) - before;
  if (created !== 0) ctx.violation(scenario, `replays recorded ${created} new usages`);
  return r;
}

/** Balance reads, each by the wallet's own user token. */
export async function balance(ctx: BenchContext, scenario: string): Promise<Measured> {
  let i = 0;
  const r = await measured(ctx, () =>
    runLoad({
      url: ctx.server.url,
      connections: ctx.connections,
      seconds: ctx.seconds,
      requests: [{ method: 'GET', path: '/v1/balance', setupRequest: (req) => ({ ...req, headers: { authorization: `Bearer ${ctx.userTokens[i++ % ctx.userTokens.length]}` } }) }],
    }),
  );
  expectOnly(ctx, scenario, r, '200');
  return r;
}

/** Status of a bare request: tells whether a route another issue is building exists in this build. */
export async function probe(ctx: BenchContext, method: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${ctx.server.url}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
  await res.arrayBuffer();
  return res.status;
}

/** Reserve then settle the same requestId on spread wallets: every settled hold is one usage. */
export async function holdAndSettle(ctx: BenchContext, scenario: string): Promise<Measured> {
  let seq = 0;
  let settled = 0;
  const prefix = `${ctx.runId}-${scenario}-`;
  const before = await countUsages(ctx.pool);
  const r = await measured(ctx, () =>
    runLoad({
      url: ctx.server.url,
      connections: ctx.connections,
      seconds: ctx.seconds,
      requests: [
        {
          method: 'POST',
          path: '/v1/usage/holds',
          headers: json(ctx.gatewayToken),
          setupRequest: (req, context) => {
            context.userId = walletUser(random(ctx.wallets));
            context.requestId = `${prefix}${seq++}`;
            return { ...req, body: JSON.stringify({ userId: context.userId, requestId: context.requestId, model: CHARGE.model, maxInputTokens: 200, maxOutputTokens: 100 }) };
          },
        },
        {
          method: 'POST',
          path: '/v1/usage/reconcile',
          headers: json(ctx.gatewayToken),
          setupRequest: (req, context) => ({ ...req, body: JSON.stringify({ userId: context.userId, requestId: context.requestId, ...CHARGE }) }),
          onResponse: (status) => {
            if (status === 201) settled++;
          },
        },
      ],
    }),
  );
  expectOnly(ctx, scenario, r, '201');
  const created = (await countUsages(ctx.pool)) - before;
  const { rows } = await ctx.pool.query<{ n: string }>(`SELECT count(*) AS n FROM holds WHERE request_id LIKE $1 AND status = 'settled' AND usage_id IS NOT NULL`, [`${prefix}%`]);
  inFlightTolerance(ctx, scenario, settled, created, 'usages');
  inFlightTolerance(ctx, scenario, settled, Number(rows[0].n), 'settled holds');
  return { ...r, note: 'hold + settle pairs; req/s counts both requests' };
}

/** Distinct signed checkout.session.completed events for purchases made in SQL: each pays its purchase once. */
export async function webhooks(ctx: BenchContext, scenario: string, purchaseCount: number): Promise<Measured> {
  const purchases = await seedPurchases(ctx.pool, purchaseCount, ctx.runId);
  let i = 0;
  const delivered = new Set<number>();
  const r = await measured(ctx, () =>
    runLoad({
      url: ctx.server.url,
      connections: ctx.connections,
      seconds: ctx.seconds,
      requests: [
        {
          method: 'POST',
          path: '/v1/webhooks/stripe',
          setupRequest: (req, context) => {
            const n = i++;
            context.index = n % purchases.length;
            const body = checkoutCompleted(purchases[n % purchases.length], n);
            return { ...req, body, headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(body, ctx.webhookSecret) } };
          },
          onResponse: (status, _body, context) => {
            if (status >= 200 && status < 300) delivered.add(context.index as number);
          },
        },
      ],
    }),
  );
  expectOnly(ctx, scenario, r, '200');
  const { rows } = await ctx.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM purchases WHERE checkout_session_id LIKE $1 AND status = 'paid'`,
    [`cs_test_bench_${ctx.runId}_%`],
  );
  inFlightTolerance(ctx, scenario, delivered.size, Number(rows[0].n), 'paid purchases');
  return r;
}
