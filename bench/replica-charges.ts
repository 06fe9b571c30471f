/**
 * `ts-node --transpile-only bench/replica-charges.ts [rows] [rounds] [seconds]`: spread charges/s (wrk,
 * the bench's charge over 10,000 wallets) while nothing else runs, while CSV exports of `rows` postings
 * are served by the primary, and while the same exports are served by a streaming standby: one run,
 * one database, alternating rounds (none/primary/standby, then the reverse), exports back to back for
 * the whole of each window. Starts its own PostgreSQL 15 primary and hot standby
 * (scripts/lib/replica-cluster.ts) and three servers from dist/ (`npm run build` first): one takes the
 * charges, one exports from the primary, one has DATABASE_READ_URL and exports from the standby, so
 * the phases differ only in which PostgreSQL runs the export's SELECT. Prints charges/s, export rows/s
 * and the cores each part kept busy (both PostgreSQL servers, the servers, the machine); fails on a
 * non-2xx charge, a standby-phase export without X-Data-As-Of, or a ledger invariant broken after.
 */
import fs from 'node:fs';
import os from 'node:os';
import { makeKeyPair, signToken } from '../scripts/lib/jwt-keys';
import { startReplicaCluster } from '../scripts/lib/replica-cluster';
import { createDatabase } from '../src/platform/db/database';
import { seedLedgerRows, seedWallets } from './lib/bench-db';
import { machineBusyMs, serverTreeCpuMs } from './lib/cpu-usage';
import { ledgerViolations } from './lib/invariants';
import { startServer, type ServerHandle } from './lib/server-process';
import { runWrk } from './lib/wrk-load';

const args = process.argv.slice(2).map(Number);
const rows = args[0] || 1_000_000;
const rounds = args[1] || 3;
const seconds = args[2] || 20;
const WALLETS = 10_000;
const CONNECTIONS = 10;
type Phase = 'none' | 'primary' | 'standby';

/**
 * Exports back to back until stopped; the one in flight is aborted. Rows/s of each export that
 * completed inside the window (request to last byte), and rows/s over the whole window.
 */
function exportLoop(url: string, token: string) {
  const abort = new AbortController();
  const started = process.hrtime.bigint();
  const completed: number[] = [];
  let lines = 0;
  let exports = 0;
  let fromStandby = 0;
  const loop = (async () => {
    while (!abort.signal.aborted) {
      const begun = process.hrtime.bigint();
      let rows = -1; // the header row
      try {
        const res = await fetch(`${url}/v1/ledger/export.csv`, {
          headers: { authorization: `Bearer ${token}` },
          signal: abort.signal,
        });
        if (res.status !== 200 || !res.body) throw new Error(`export answered ${res.status}`);
        exports++;
        if (res.headers.get('x-data-as-of')) fromStandby++;
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) rows++;
        }
        completed.push(rows / (Number(process.hrtime.bigint() - begun) / 1e9));
      } catch (error) {
        if (!abort.signal.aborted) throw error;
      }
      lines += Math.max(0, rows);
    }
  })();
  return {
    async stop() {
      abort.abort();
      await loop;
      const s = Number(process.hrtime.bigint() - started) / 1e9;
      return { completed, windowRowsPerSecond: lines / s, exports, fromStandby };
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const cluster = await startReplicaCluster();
  // As read-replica.md advises for exports of millions of rows: without it, replay waits for the export
  // (max_standby_streaming_delay) and the lag limit sends the standby phase's next export to the primary.
  await cluster.sql('standby', 'ALTER SYSTEM SET hot_standby_feedback = on');
  await cluster.sql('standby', 'SELECT pg_reload_conf()');
  // The cluster keeps autovacuum off for the tests' idle standby; charges need it, as in production:
  // without it `usages` keeps the statistics of its empty seed and every charge scans the whole table.
  await cluster.sql('primary', 'ALTER SYSTEM SET autovacuum = on');
  await cluster.sql('primary', 'SELECT pg_reload_conf()');
  const db = createDatabase(cluster.primaryUrl, { min: 0, max: 4 });
  const servers: ServerHandle[] = [];
  try {
    console.log(`seeding ${WALLETS} funded wallets and ${rows} wallet postings on the primary`);
    await seedWallets(db.pool, WALLETS, '1000000');
    await seedLedgerRows(db.pool, rows);
    await cluster.caughtUp();
    const keys = makeKeyPair();
    const base = { databaseUrl: cluster.primaryUrl, publicKey: keys.publicKey, webhookSecret: 'whsec_unused' };
    // An aborted export logs a warning per phase; errors only.
    const quiet = { LEDGER_CHECK_INTERVAL_SECONDS: '0', LOG_LEVEL: 'error' };
    const start = async (poolMax: number, env: Record<string, string> = {}) => {
      const s = await startServer({ ...base, poolMax, env: { ...quiet, ...env } });
      servers.push(s);
      return s;
    };
    const charges = await start(CONNECTIONS);
    const exporters = {
      primary: await start(4),
      standby: await start(4, { DATABASE_READ_URL: cluster.standbyUrl, READ_REPLICA_MAX_LAG_SECONDS: '5' }),
    };
    // CPU per phase, in cores busy: where the export's cost lands (the postmaster pid heads postmaster.pid).
    const postmaster = async (side: 'primary' | 'standby') => {
      const [{ dir }] = await cluster.sql<{ dir: string }>(side, 'SELECT current_setting($1) AS dir', [
        'data_directory',
      ]);
      return Number(fs.readFileSync(`${dir}/postmaster.pid`, 'utf8').split('\n')[0]);
    };
    const pids = { primary: await postmaster('primary'), standby: await postmaster('standby') };
    const cpu = () => ({
      primaryPg: serverTreeCpuMs(pids.primary),
      standbyPg: serverTreeCpuMs(pids.standby),
      exporters: exporters.primary.cpuMs() + exporters.standby.cpuMs(),
      charges: charges.cpuMs(),
      machine: machineBusyMs(),
    });
    const gateway = signToken(keys, 'llm-gateway', { scope: 'usage:write', expiresIn: 7200 });
    const admin = signToken(keys, 'finance', { scope: 'billing:admin', expiresIn: 7200 });

    const phase = async (kind: Phase, label: string, secs: number) => {
      const cpu0 = cpu();
      const t0 = Date.now();
      const exporter = kind === 'none' ? undefined : exportLoop(exporters[kind].url, admin);
      const load = await runWrk({
        url: charges.url,
        connections: CONNECTIONS,
        seconds: secs,
        args: ['charge', gateway, `${label}-`, String(WALLETS), '0'],
      });
      const exported = await exporter?.stop();
      const cpu1 = cpu();
      const wall = Date.now() - t0;
      const cores = Object.fromEntries(
        Object.entries(cpu1).map(([k, v]) => [k, +((v - cpu0[k as keyof typeof cpu0]) / wall).toFixed(2)]),
      ) as Record<keyof typeof cpu1, number>;
      const load1m = os.loadavg()[0];
      if (load.errors) throw new Error(`${label}: ${load.errors} charges failed ${JSON.stringify(load.statuses)}`);
      if (kind === 'standby' && exported!.fromStandby !== exported!.exports)
        throw new Error(`${label}: ${exported!.exports - exported!.fromStandby} exports fell back to the primary`);
      await sleep(2000); // the aborted export's query ends before the next window
      return {
        chargesPerSecond: load.rps,
        p99: load.p99,
        completedExportsRowsPerSecond: exported?.completed,
        windowRowsPerSecond: exported?.windowRowsPerSecond,
        cores,
        load1m,
      };
    };

    console.log('warm-up: charges, one export window per side');
    await phase('none', 'warm-none', 5);
    await phase('primary', 'warm-primary', 10);
    await phase('standby', 'warm-standby', 10);
    await db.pool.query('ANALYZE'); // the warm-up's charges, so round 1 is planned like the rest
    const results: Record<Phase, Array<Awaited<ReturnType<typeof phase>>>> = { none: [], primary: [], standby: [] };
    for (let i = 0; i < rounds; i++) {
      const order: Phase[] = i % 2 === 0 ? ['none', 'primary', 'standby'] : ['standby', 'primary', 'none'];
      for (const kind of order) {
        const r = await phase(kind, `r${i}-${kind}`, seconds);
        results[kind].push(r);
        console.log(`round ${i + 1} ${kind}: ${JSON.stringify(r)}`);
      }
    }
    const violations = await ledgerViolations(db.pool);
    if (violations.length) throw new Error(`ledger invariants broken: ${violations.join('; ')}`);

    const none = median(results.none.map((r) => r.chargesPerSecond));
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    console.log(`\n${rounds} rounds of ${seconds} s, ${CONNECTIONS} connections, export of ${rows} rows`);
    console.log(
      '| export during the window | charges/s (median) | vs none | per round | export rows/s (exports) ' +
        '| p99 ms | load |',
    );
    console.log('| --- | ---: | ---: | --- | ---: | ---: | --- |');
    for (const kind of ['none', 'primary', 'standby'] as const) {
      const rs = results[kind];
      const cps = rs.map((r) => r.chargesPerSecond);
      const done = rs.flatMap((r) => r.completedExportsRowsPerSecond ?? []);
      const exp =
        kind === 'none' ? '–' : `${done.length ? median(done).toFixed(0) : 'none completed'} (${done.length})`;
      const cells = [median(cps).toFixed(0), (median(cps) / none).toFixed(2), fmt(cps), exp];
      cells.push(median(rs.map((r) => r.p99)).toFixed(1), rs.map((r) => r.load1m.toFixed(1)).join(', '));
      console.log(`| ${kind} | ${cells.join(' | ')} |`);
    }
    console.log(
      '\n| export during the window | cores busy (median): primary PostgreSQL | standby PostgreSQL ' +
        '| exporting servers | charging server | machine |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const kind of ['none', 'primary', 'standby'] as const) {
      const keys = ['primaryPg', 'standbyPg', 'exporters', 'charges', 'machine'] as const;
      const cells = keys.map((k) => median(results[kind].map((r) => r.cores[k])).toFixed(2));
      console.log(`| ${kind} | ${cells.join(' | ')} |`);
    }
  } finally {
    for (const s of servers) await s.stop().catch(() => undefined);
    await db.close();
    await cluster.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
