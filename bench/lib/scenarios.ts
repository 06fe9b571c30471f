import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { countUsages } from './bench-db';
import { machineBusyMs, ownAndChildrenCpuMs } from './cpu-usage';
import { serverLoopDelay, type LoopDelay } from './loop-delay';
import { eachAnsweredCharged, exactlyAnswered, expectOnly, settledUsageCount } from './scenario-checks';
import type { LoadResult } from './tool-output';
import { runWrk, runWrkPaced, type PacedOptions } from './wrk-load';
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
  /** the load generator (wrk, this process's child) shares the same two cores */
  loadGenCpuMsPerRequest: number;
  /** everything the machine was busy with, per request: server, PostgreSQL and load generator */
  machineCpuMsPerRequest: number;
  /** requests wrk may have left unanswered at its deadline (they can still commit) */
  unanswered?: number;
  /** wrk charge runs: the requestId of every 201 */
  answeredIds?: string[];
  /** hold + settle: settles answered 201 */
  settled?: number;
  /** webhooks: distinct events sent */
  distinctSent?: number;
  /** paced runs: how late the server's event loop ran, in ms */
  serverLoopDelay?: LoopDelay;
  note?: string;
}

type WrkLoad = { wrkArgs: string[]; seconds?: number; answeredIds?: boolean };
type PacedLoad = { paced: Omit<PacedOptions, 'url' | 'connections' | 'seconds'>; seconds?: number };

/** Runs one load through wrk: closed loop (`wrkArgs`: requests.lua's mode and arguments) or paced. */
function run(
  load: WrkLoad | PacedLoad,
  common: { url: string; connections: number; seconds: number },
): Promise<LoadResult & { answeredIds?: string[]; settled?: number; distinctSent?: number }> {
  if ('paced' in load) return runWrkPaced({ ...common, ...load.paced });
  return runWrk({ ...common, args: load.wrkArgs, answeredIds: load.answeredIds });
}

/** Runs one load and measures the server, the load generator and the machine around it. */
async function measured(ctx: BenchContext, load: WrkLoad | PacedLoad): Promise<Measured> {
  ctx.server.resetPeak();
  const cpu = ctx.server.cpuMs();
  const own = ownAndChildrenCpuMs();
  const busy = machineBusyMs();
  const common = { url: ctx.server.url, connections: ctx.connections, seconds: load.seconds ?? ctx.seconds };
  const result = await run(load, common);
  const perRequest = (ms: number) => ms / result.requests;
  const unsent = result.unsent
    ? `${result.unsent} requests due were never sent (every connection busy at the deadline)`
    : undefined;
  return {
    ...result,
    peakRssMb: ctx.server.peak(),
    serverCpuMsPerRequest: perRequest(ctx.server.cpuMs() - cpu),
    loadGenCpuMsPerRequest: perRequest(ownAndChildrenCpuMs() - own),
    machineCpuMsPerRequest: perRequest(machineBusyMs() - busy),
    note: unsent,
  };
}

/**
 * A paced run with how late the server's event loop ran during it, in the note: a GC pause, a long
 * synchronous task or the VM not running the server all land in the p99.
 */
async function paced(ctx: BenchContext, load: PacedLoad): Promise<Measured> {
  await serverLoopDelay(ctx.server.url);
  const r = await measured(ctx, load);
  const server = await serverLoopDelay(ctx.server.url);
  const late = `server's event loop late by p99 ${server.p99.toFixed(1)} ms, max ${server.max.toFixed(1)} ms`;
  return { ...r, serverLoopDelay: server, note: [r.note, late].filter(Boolean).join('; ') };
}

/** A file for requests.lua to read (one entry per line), removed with its directory by the caller. */
function listFile(name: string, entries: string[]): { file: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-wrk-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, entries.join('\n') + '\n');
  return { file, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * First charges of 0.18 credits (gpt-4o-mini, 100 + 50 tokens, like the floor); every 201 must be exactly
 * one new usage row. Closed loop (requests.lua), or paced at `rate` (paced.lua: open loop, latency from
 * each charge's due time).
 */
export async function reconcile(
  ctx: BenchContext,
  scenario: string,
  o: { hot: boolean; seconds?: number; rate?: number },
): Promise<Measured> {
  const prefix = `${ctx.runId}-${scenario}-`;
  const before = await countUsages(ctx.pool);
  const wallets = o.hot ? 1 : ctx.wallets;
  const r = o.rate
    ? await paced(ctx, {
        seconds: o.seconds,
        paced: { rate: o.rate, token: ctx.gatewayToken, requestIdPrefix: prefix, wallets },
      })
    : await measured(ctx, {
        seconds: o.seconds,
        answeredIds: true,
        wrkArgs: ['charge', ctx.gatewayToken, prefix, String(ctx.wallets), o.hot ? '1' : '0'],
      });
  expectOnly(ctx.violation, scenario, r, '201');
  exactlyAnswered(
    ctx.violation,
    scenario,
    r,
    r.statuses['201'] ?? 0,
    (await settledUsageCount(ctx.pool)) - before,
    'usages',
  );
  if (r.answeredIds) await eachAnsweredCharged(ctx.pool, ctx.violation, scenario, r.answeredIds);
  return r;
}

/** Replays of requests charged earlier: 200 + Idempotent-Replayed, and not one new usage. */
export async function replay(ctx: BenchContext, scenario: string, ofScenario: string): Promise<Measured> {
  const { rows } = await ctx.pool.query<{ user_id: string; request_id: string }>(
    `SELECT user_id, request_id FROM usages WHERE request_id LIKE $1 LIMIT 50000`,
    [`${ctx.runId}-${ofScenario}-%`],
  );
  if (rows.length === 0) throw new Error(`no charged requests of ${ofScenario} to replay`);
  const charged = listFile(
    'charged.txt',
    rows.map((row) => `${row.user_id} ${row.request_id}`),
  );
  const before = await countUsages(ctx.pool);
  try {
    const r = await measured(ctx, { wrkArgs: ['replay', ctx.gatewayToken, charged.file] });
    expectOnly(ctx.violation, scenario, r, '200');
    const created = (await countUsages(ctx.pool)) - before;
    if (created !== 0) ctx.violation(scenario, `replays recorded ${created} new usages`);
    return r;
  } finally {
    charged.remove();
  }
}

/** Balance reads, each by the wallet's own user token. */
export async function balance(ctx: BenchContext, scenario: string): Promise<Measured> {
  const tokens = listFile('tokens.txt', ctx.userTokens);
  try {
    const r = await measured(ctx, { wrkArgs: ['balance', tokens.file] });
    expectOnly(ctx.violation, scenario, r, '200');
    return r;
  } finally {
    tokens.remove();
  }
}

/** Status of a bare request: tells whether a route another issue is building exists in this build. */
export async function probe(
  ctx: BenchContext,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const res = await fetch(`${ctx.server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: '{}',
  });
  await res.arrayBuffer();
  return res.status;
}

/** Reserve then settle the same requestId on spread wallets: every settled hold is one usage. */
export async function holdAndSettle(ctx: BenchContext, scenario: string): Promise<Measured> {
  const prefix = `${ctx.runId}-${scenario}-`;
  const before = await countUsages(ctx.pool);
  const r = await measured(ctx, { wrkArgs: ['holds', ctx.gatewayToken, prefix, String(ctx.wallets)] });
  expectOnly(ctx.violation, scenario, r, '201');
  const settled = r.settled ?? 0;
  const created = (await settledUsageCount(ctx.pool)) - before;
  const { rows } = await ctx.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM holds WHERE request_id LIKE $1 AND status = 'settled' AND usage_id IS NOT NULL`,
    [`${prefix}%`],
  );
  exactlyAnswered(ctx.violation, scenario, r, settled, created, 'usages');
  exactlyAnswered(ctx.violation, scenario, r, settled, Number(rows[0].n), 'settled holds');
  return { ...r, note: [r.note, 'hold + settle pairs; req/s counts both requests'].filter(Boolean).join('; ') };
}

/**
 * Distinct checkout.session.completed events for purchases made in SQL, signed just before the run (the
 * signature's 300 s tolerance outlasts it): each delivered event pays its purchase once.
 */
export async function webhooks(ctx: BenchContext, scenario: string, purchaseCount: number): Promise<Measured> {
  const purchases = await seedPurchases(ctx.pool, purchaseCount, ctx.runId);
  const events = listFile(
    'events.txt',
    purchases.map((p, n) => {
      const body = checkoutCompleted(p, n);
      return `${stripeSignature(body, ctx.webhookSecret)} ${body}`;
    }),
  );
  try {
    const r = await measured(ctx, { wrkArgs: ['webhook', events.file] });
    expectOnly(ctx.violation, scenario, r, '200');
    const { rows } = await ctx.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM purchases WHERE checkout_session_id LIKE $1 AND status = 'paid'`,
      [`cs_test_bench_${ctx.runId}_%`],
    );
    // every event sent was answered 200, except at most one per connection still in flight at the deadline
    const delivered = Math.max(0, (r.distinctSent ?? 0) - (r.unanswered ?? 0));
    exactlyAnswered(ctx.violation, scenario, r, delivered, Number(rows[0].n), 'paid purchases');
    return r;
  } finally {
    events.remove();
  }
}
