import type pg from 'pg';
import { countUsages, walletUser } from './bench-db';
import { runLoad, type HttpRequest, type LoadOptions, type LoadResult } from './http-load';
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
  /** the load generator runs in this process: its CPU shares the same two cores */
  loadGenCpuMsPerRequest: number;
  note?: string;
}

const CHARGE = { model: 'gpt-4o-mini', inputTokens: 100, outputTokens: 50 }; // 0.18 credits, like the floor

const json = (token: string) => ({ 'content-type': 'application/json', authorization: `Bearer ${token}` });
const random = (n: number) => 1 + Math.floor(Math.random() * n);

async function measured(ctx: BenchContext, load: Omit<LoadOptions, 'url' | 'connections' | 'seconds'> & { seconds?: number }): Promise<Measured> {
  ctx.server.resetPeak();
  const cpu = ctx.server.cpuMs();
  const own = process.cpuUsage();
  const result = await runLoad({ ...load, url: ctx.server.url, connections: ctx.connections, seconds: load.seconds ?? ctx.seconds });
  const ownUsed = process.cpuUsage(own);
  const unsent = result.unsent ? `${result.unsent} requests due were never sent (every connection busy at the deadline)` : undefined;
  return {
    ...result,
    peakRssMb: ctx.server.peak(),
    serverCpuMsPerRequest: (ctx.server.cpuMs() - cpu) / result.requests,
    loadGenCpuMsPerRequest: (ownUsed.user + ownUsed.system) / 1000 / result.requests,
    note: unsent,
  };
}

/**
 * The generator waits for every answer, so with no errors each 201 must be exactly one row. A
 * request lost to a socket error or timeout (already a violation) may still have committed.
 */
function exactlyAnswered(ctx: BenchContext, scenario: string, r: LoadResult, answered: number, recorded: number, what: string) {
  const lost = Object.values(r.errorKinds ?? {}).reduce((n, k) => n + k, 0);
  if (recorded < answered || recorded > answered + lost) {
    ctx.violation(scenario, `${answered} answered 201 but ${recorded} ${what} were recorded${lost ? ` (${lost} requests without an answer)` : ''}`);
  }
}

function expectOnly(ctx: BenchContext, scenario: string, r: LoadResult, status: string) {
  const other = Object.entries(r.statuses).filter(([s]) => s !== status);
  if (other.length > 0 || r.errors > 0) {
    ctx.violation(scenario, `expected only ${status}, got ${JSON.stringify(r.statuses)} and ${r.errors} errors ${JSON.stringify(r.errorKinds ?? {})}`);
  }
}

const post = (path: string, token: string, body: unknown, then?: HttpRequest['then']): HttpRequest => ({
  method: 'POST',
  path,
  headers: json(token),
  body: JSON.stringify(body),
  then,
});

/** First charges; every 201 must be exactly one new usage row. */
export async function reconcile(ctx: BenchContext, scenario: string, o: { hot: boolean; seconds?: number; rate?: number }): Promise<Measured> {
  let seq = 0;
  const prefix = `${ctx.runId}-${scenario}-`;
  const before = await countUsages(ctx.pool);
  const r = await measured(ctx, {
    seconds: o.seconds,
    rate: o.rate,
    next: () => post('/v1/usage/reconcile', ctx.gatewayToken, { userId: walletUser(o.hot ? 1 : random(ctx.wallets)), requestId: `${prefix}${seq++}`, ...CHARGE }),
  });
  expectOnly(ctx, scenario, r, '201');
  exactlyAnswered(ctx, scenario, r, r.statuses['201'] ?? 0, (await countUsages(ctx.pool)) - before, 'usages');
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
  const r = await measured(ctx, {
    next: () => {
      const row = rows[i++ % rows.length];
      return post('/v1/usage/reconcile', ctx.gatewayToken, { userId: row.user_id, requestId: row.request_id, ...CHARGE });
    },
  });
  expectOnly(ctx, scenario, r, '200');
  const created = (await countUsages(ctx.pool)) - before;
  if (created !== 0) ctx.violation(scenario, `replays recorded ${created} new usages`);
  return r;
}

/** Balance reads, each by the wallet's own user token. */
export async function balance(ctx: BenchContext, scenario: string): Promise<Measured> {
  let i = 0;
  const r = await measured(ctx, {
    next: () => ({ method: 'GET', path: '/v1/balance', headers: { authorization: `Bearer ${ctx.userTokens[i++ % ctx.userTokens.length]}` } }),
  });
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
  const settle = (status: number) => {
    if (status === 201) settled++;
    return undefined;
  };
  const r = await measured(ctx, {
    next: () => {
      const userId = walletUser(random(ctx.wallets));
      const requestId = `${prefix}${seq++}`;
      const hold = { userId, requestId, model: CHARGE.model, maxInputTokens: 200, maxOutputTokens: 100 };
      // the settle goes out on the same connection as soon as the hold is answered (only if it was granted)
      return post('/v1/usage/holds', ctx.gatewayToken, hold, (status) =>
        status === 201 ? post('/v1/usage/reconcile', ctx.gatewayToken, { userId, requestId, ...CHARGE }, settle) : undefined,
      );
    },
  });
  expectOnly(ctx, scenario, r, '201');
  const created = (await countUsages(ctx.pool)) - before;
  const { rows } = await ctx.pool.query<{ n: string }>(`SELECT count(*) AS n FROM holds WHERE request_id LIKE $1 AND status = 'settled' AND usage_id IS NOT NULL`, [`${prefix}%`]);
  exactlyAnswered(ctx, scenario, r, settled, created, 'usages');
  exactlyAnswered(ctx, scenario, r, settled, Number(rows[0].n), 'settled holds');
  return { ...r, note: [r.note, 'hold + settle pairs; req/s counts both requests'].filter(Boolean).join('; ') };
}

/** Distinct signed checkout.session.completed events for purchases made in SQL: each pays its purchase once. */
export async function webhooks(ctx: BenchContext, scenario: string, purchaseCount: number): Promise<Measured> {
  const purchases = await seedPurchases(ctx.pool, purchaseCount, ctx.runId);
  let i = 0;
  const delivered = new Set<number>();
  const r = await measured(ctx, {
    next: () => {
      const n = i++;
      const index = n % purchases.length;
      const body = checkoutCompleted(purchases[index], n);
      return {
        method: 'POST',
        path: '/v1/webhooks/stripe',
        headers: { 'content-type': 'application/json', 'stripe-signature': stripeSignature(body, ctx.webhookSecret) },
        body,
        then: (status) => {
          if (status >= 200 && status < 300) delivered.add(index);
          return undefined;
        },
      };
    },
  });
  expectOnly(ctx, scenario, r, '200');
  const { rows } = await ctx.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM purchases WHERE checkout_session_id LIKE $1 AND status = 'paid'`,
    [`cs_test_bench_${ctx.runId}_%`],
  );
  exactlyAnswered(ctx, scenario, r, delivered.size, Number(rows[0].n), 'paid purchases');
  return r;
}
