/**
 * `npm run bench [-- --quick] [-- --no-build] [-- --profile]`: the production build under HTTP load next to
 * pgbench's floor for the same charge, on a fresh database; prints a table, writes bench/results/<stamp>.json,
 * exits non-zero when a ledger invariant or a scenario's count fails (never on speed).
 */
import { execSync } from 'node:child_process';
import path from 'node:path';
import { exportSelect } from '../src/modules/ledger/ledger.repository';
import { makeKeyPair, signToken } from '../scripts/lib/jwt-keys';
import { createBenchDatabase, idOf, seedLedgerRows, seedWallets, walletUser } from './lib/bench-db';
import { httpExport, psqlExport } from './lib/export-compare';
import { machineBusyMs } from './lib/cpu-usage';
import { ledgerViolations } from './lib/invariants';
import { runFloor, type FloorResult } from './lib/pgbench-floor';
import { machine, markdownTable, targetsTable, writeResults, type ScenarioRow, type TargetCheck } from './lib/report';
import * as s from './lib/scenarios';
import { ROOT, startServer } from './lib/server-process';

const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const settings = quick
  ? { seconds: 2, warmup: 1, wallets: 500, exportRows: 50_000, purchases: 5_000 }
  : { seconds: 15, warmup: 3, wallets: 10_000, exportRows: 1_000_000, purchases: 40_000 };
if (process.env.BENCH_SECONDS) settings.seconds = Number(process.env.BENCH_SECONDS);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
const log = (line: string) => process.stdout.write(`[bench] ${line}\n`);

async function main() {
  if (!args.has('--no-build')) {
    log('npm run build');
    execSync('npm run build', { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const db = await createBenchDatabase(adminUrl, `billing_bench_${stamp.replace('-', '_').toLowerCase()}`);
  const violations: string[] = [];
  const rows: ScenarioRow[] = [];
  const floors: Record<string, FloorResult> = {};
  let exportResult: Record<string, unknown> | undefined;
  const notes: string[] = [];
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    log(`database ${db.name}: seeding ${settings.wallets} funded wallets`);
    await seedWallets(db.pool, settings.wallets, '1000000');
    const keys = makeKeyPair();
    const webhookSecret = `whsec_bench_${stamp}`;
    server = await startServer({
      databaseUrl: db.url,
      publicKey: keys.publicKey,
      webhookSecret,
      poolMax: Number(process.env.BENCH_POOL_MAX ?? connections),
      cpuProfileDir: args.has('--profile') ? path.join(ROOT, 'bench', 'results', `profile-${stamp}`) : undefined,
    });
    const ctx: s.BenchContext = {
      server,
      pool: db.pool,
      runId: stamp,
      connections,
      seconds: settings.seconds,
      wallets: settings.wallets,
      gatewayToken: signToken(keys, 'llm-gateway', { scope: 'usage:write', expiresIn: 7200 }),
      userTokens: Array.from({ length: 100 }, (_, i) => signToken(keys, walletUser(i + 1), { expiresIn: 7200 })),
      webhookSecret,
      violation: (scenario, message) => violations.push(`${scenario}: ${message}`),
    };
    const checked = async (scenario: string) => {
      for (const v of await ledgerViolations(db.pool)) violations.push(`after ${scenario}: ${v}`);
    };
    const floorArgs = {
      databaseUrl: db.url,
      clients: connections,
      seconds: settings.seconds,
      rateCardId: await idOf(
        db.pool,
        `SELECT id FROM rate_cards WHERE model = 'gpt-4o-mini' ORDER BY effective_from DESC LIMIT 1`,
      ),
      revenueAccountId: await idOf(db.pool, `SELECT id FROM accounts WHERE code = 'usage_revenue'`),
    };
    const row = (scenario: string, m: s.Measured, floor?: string): ScenarioRow => {
      const f = floor ? floors[floor] : undefined;
      const r: ScenarioRow = {
        scenario,
        requests: m.requests,
        rps: m.rps,
        p50: m.p50,
        p95: m.p95,
        p99: m.p99,
        errors: m.errors,
        peakRssMb: m.peakRssMb,
        serverCpuMsPerRequest: m.serverCpuMsPerRequest,
        loadGenCpuMsPerRequest: m.loadGenCpuMsPerRequest,
        machineCpuMsPerRequest: m.machineCpuMsPerRequest,
        note: m.note,
      };
      if (f) Object.assign(r, { floor, rpsVsFloor: m.rps / f.tps, p99VsFloor: m.p99 / f.p99 });
      rows.push(r);
      log(
        `${scenario}: ${m.rps.toFixed(0)} req/s, p99 ${m.p99.toFixed(2)} ms, ${m.errors} errors, ` +
          `server ${m.serverCpuMsPerRequest.toFixed(2)} CPU ms/req`,
      );
      return r;
    };

    // each floor runs right before its service scenario, so both see the same machine
    const floor = async (name: string, wallets: number, rate?: number) => {
      const busy = machineBusyMs();
      const f = await runFloor({ ...floorArgs, wallets, rate });
      floors[name] = f;
      const machineCpuMsPerRequest = (machineBusyMs() - busy) / f.transactions;
      rows.push({
        scenario: `${name} (pgbench)`,
        requests: f.transactions,
        rps: f.tps,
        p50: f.p50,
        p95: f.p95,
        p99: f.p99,
        errors: f.errors,
        peakRssMb: NaN,
        machineCpuMsPerRequest,
      });
      log(`${name}: ${f.tps.toFixed(0)} tps, p99 ${f.p99.toFixed(2)} ms`);
      await checked(name);
    };

    await s.reconcile(ctx, 'warmup', { hot: false, seconds: settings.warmup });
    await floor('floor spread', settings.wallets);
    const spread = row('reconcile spread', await s.reconcile(ctx, 'spread', { hot: false }), 'floor spread');
    await checked('reconcile spread');
    await floor('floor hot', 1);
    row('reconcile hot wallet', await s.reconcile(ctx, 'hot', { hot: true }), 'floor hot');
    await checked('reconcile hot wallet');
    const replay = row('replay of charged requests', await s.replay(ctx, 'replay', 'spread'), 'floor spread');
    await checked('replay');
    const halfRate = Math.max(1, Math.floor(spread.rps / 2));
    // PostgreSQL's own commit tail at the same paced rate: how much of the service's p99 is the disk's
    await floor(`floor spread at ${halfRate} tx/s`, settings.wallets, halfRate);
    const half = row(
      `reconcile spread at ${halfRate} req/s (half peak)`,
      await s.reconcile(ctx, 'half', { hot: false, rate: halfRate }),
      `floor spread at ${halfRate} tx/s`,
    );
    await checked('reconcile half rate');
    row('GET /v1/balance', await s.balance(ctx, 'balance'), 'floor spread');

    const holds = await s.probe(ctx, 'POST', '/v1/usage/holds', { authorization: `Bearer ${ctx.gatewayToken}` });
    if (holds === 404) notes.push('hold-and-settle skipped: POST /v1/usage/holds is not in this build (404)');
    else {
      row('hold + settle', await s.holdAndSettle(ctx, 'holds'), 'floor spread');
      await checked('hold + settle');
    }
    const webhook = await s.probe(ctx, 'POST', '/v1/webhooks/stripe');
    if (webhook === 404) notes.push('webhook skipped: POST /v1/webhooks/stripe is not in this build (404)');
    else if (webhook !== 400) violations.push(`webhook probe: an unsigned event answered ${webhook}, expected 400`);
    else {
      row('POST /v1/webhooks/stripe', await s.webhooks(ctx, 'webhook', settings.purchases), 'floor spread');
      await checked('webhook');
    }

    log(`seeding the ledger to ${settings.exportRows} wallet rows`);
    await seedLedgerRows(db.pool, settings.exportRows);
    const select = exportSelect(undefined, {});
    const psqlFirst = await psqlExport(db.url, select); // also warms the cache for both
    const rssBefore = server.resetPeak();
    const http = await httpExport(server.url, signToken(keys, 'finance', { scope: 'billing:admin', expiresIn: 7200 }));
    const rssGrowth = server.peak() - rssBefore;
    const psqlSecond = await psqlExport(db.url, select);
    const psql = psqlFirst.rowsPerSecond > psqlSecond.rowsPerSecond ? psqlFirst : psqlSecond;
    if (http.rows !== psql.rows) violations.push(`export: the service sent ${http.rows} rows, psql ${psql.rows}`);
    exportResult = {
      rows: http.rows,
      httpSeconds: http.seconds,
      httpRowsPerSecond: http.rowsPerSecond,
      psqlRowsPerSecond: psql.rowsPerSecond,
      ratio: http.rowsPerSecond / psql.rowsPerSecond,
      rssGrowthMb: rssGrowth,
      bytes: http.bytes,
    };
    rows.push({
      scenario: `GET /v1/ledger/export.csv (${http.rows} rows, ${(http.rowsPerSecond / 1000).toFixed(0)}k rows/s)`,
      requests: 1,
      rps: NaN,
      p50: http.seconds * 1000,
      p95: http.seconds * 1000,
      p99: http.seconds * 1000,
      errors: 0,
      peakRssMb: server.peak(),
      floor: 'psql \\copy',
      rpsVsFloor: http.rowsPerSecond / psql.rowsPerSecond,
      note: `psql ${(psql.rowsPerSecond / 1000).toFixed(0)}k rows/s; RSS growth ${rssGrowth.toFixed(1)} MB`,
    });
    log(
      `export: ${http.rows} rows at ${http.rowsPerSecond.toFixed(0)} rows/s vs psql ` +
        `${psql.rowsPerSecond.toFixed(0)}; RSS +${rssGrowth.toFixed(1)} MB`,
    );
    await checked('export');

    const peakUnderLoad = Math.max(
      ...rows
        .filter((r) => !r.scenario.startsWith('floor') && !r.scenario.startsWith('GET /v1/ledger'))
        .map((r) => r.peakRssMb),
    );
    const hot = rows.find((r) => r.scenario === 'reconcile hot wallet')!;
    const targets: TargetCheck[] = [
      {
        target: 'reconcile, spread',
        goal: '≥ 0.70 × floor tps',
        measured: `${spread.rpsVsFloor!.toFixed(2)} ×`,
        met: spread.rpsVsFloor! >= 0.7,
      },
      {
        target: 'reconcile, hot wallet',
        goal: '≥ 0.60 × hot floor tps',
        measured: `${hot.rpsVsFloor!.toFixed(2)} ×`,
        met: hot.rpsVsFloor! >= 0.6,
      },
      {
        target: 'reconcile p99 at half the peak rate',
        goal: '< 20 ms',
        measured:
          `${half.p99.toFixed(2)} ms (floor at that rate: ${floors[half.floor!].p99.toFixed(2)} ms, ` +
          `${floors[half.floor!].p99WithLag?.toFixed(2)} ms with pgbench's schedule lag)`,
        met: half.p99 < 20,
      },
      {
        target: 'replay vs first charge',
        goal: '≥ 1.00 ×',
        measured: `${(replay.rps / spread.rps).toFixed(2)} ×`,
        met: replay.rps >= spread.rps,
      },
      {
        target: 'CSV export rows/s',
        goal: '≥ 0.50 × psql',
        measured: `${(exportResult.ratio as number).toFixed(2)} ×`,
        met: (exportResult.ratio as number) >= 0.5,
      },
      {
        target: 'CSV export RSS growth',
        goal: '< 100 MB',
        measured: `${rssGrowth.toFixed(1)} MB`,
        met: rssGrowth < 100,
      },
      {
        target: 'server RSS under sustained load',
        goal: '< 250 MB',
        measured: `${peakUnderLoad.toFixed(0)} MB`,
        met: peakUnderLoad < 250,
      },
    ];
    const table = markdownTable(rows);
    // A quick run is too short and too small to say anything about speed: it checks the harness only.
    const goals = quick
      ? 'quick run: checks the harness (every scenario ran, the ledger invariants held after each); ' +
        'it measures nothing against the targets, which need a full `npm run bench`.'
      : targetsTable(targets);
    for (const r of rows) if (r.note) notes.push(`${r.scenario}: ${r.note}`);
    process.stdout.write(`\n${table}\n\n${goals}\n\n${notes.map((n) => `note: ${n}\n`).join('')}`);
    const file = writeResults(stamp, {
      stamp,
      quick,
      connections,
      settings,
      machine: { ...machine(), postgres: (await db.pool.query('SHOW server_version')).rows[0].server_version },
      rows,
      floors,
      export: exportResult,
      targets,
      notes,
      violations,
      table,
      goals,
    });
    log(`results: ${path.relative(ROOT, file)}`);
  } finally {
    await server?.stop().catch((e) => violations.push(`server stop: ${(e as Error).message}`));
    await db.drop();
  }
  if (violations.length > 0) {
    process.stderr.write(
      `\nFAILED: ${violations.length} violation(s)\n${violations.map((v) => `  - ${v}`).join('\n')}\n`,
    );
    process.exit(1);
  }
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
