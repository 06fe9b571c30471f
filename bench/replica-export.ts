/**
 * `ts-node --transpile-only bench/replica-export.ts [rows] [rounds]`: the CSV export from a streaming
 * standby next to the same export from the primary, in one run, and how fast the read router notices
 * a standby that stops replaying and one that catches up again. Starts its own PostgreSQL 15 primary
 * and hot standby (scripts/lib/replica-cluster.ts) and two servers from dist/ (`npm run build`
 * first): one with DATABASE_READ_URL, one without. Prints a table; asserts only that both exports
 * return every row and that the replica server's answers say where they came from.
 */
import { randomUUID } from 'node:crypto';
import { exportSelect } from '../src/modules/ledger/ledger.repository';
import { makeKeyPair, signToken } from '../scripts/lib/jwt-keys';
import { startReplicaCluster } from '../scripts/lib/replica-cluster';
import { createDatabase } from '../src/platform/db/database';
import { seedLedgerRows } from './lib/bench-db';
import { psqlExport } from './lib/export-compare';
import { startServer, type ServerHandle } from './lib/server-process';

const args = process.argv.slice(2).map(Number);
const rows = args[0] || 1_000_000;
const rounds = args[1] || 3;
const MAX_LAG = 5;

async function timedExport(url: string, token: string) {
  const started = process.hrtime.bigint();
  const res = await fetch(`${url}/v1/ledger/export.csv`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200 || !res.body) throw new Error(`export answered ${res.status}`);
  let lines = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { rows: lines - 1, seconds, rowsPerSecond: (lines - 1) / seconds, asOf: res.headers.get('x-data-as-of') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const cluster = await startReplicaCluster();
  const db = createDatabase(cluster.primaryUrl, { min: 0, max: 4 });
  const servers: ServerHandle[] = [];
  try {
    console.log(`seeding ${rows} wallet postings on the primary`);
    await seedLedgerRows(db.pool, rows);
    await cluster.caughtUp();
    const keys = makeKeyPair();
    const base = {
      databaseUrl: cluster.primaryUrl,
      publicKey: keys.publicKey,
      webhookSecret: 'whsec_unused',
      poolMax: 10,
    };
    const onReplica = await startServer({
      ...base,
      env: {
        DATABASE_READ_URL: cluster.standbyUrl,
        READ_REPLICA_MAX_LAG_SECONDS: String(MAX_LAG),
        LEDGER_CHECK_INTERVAL_SECONDS: '0',
      },
    });
    servers.push(onReplica);
    const onPrimary = await startServer({ ...base, env: { LEDGER_CHECK_INTERVAL_SECONDS: '0' } });
    servers.push(onPrimary);
    const admin = signToken(keys, 'finance', { scope: 'billing:admin', expiresIn: 7200 });

    const psql = {
      primary: await psqlExport(cluster.primaryUrl, exportSelect(undefined, {})),
      standby: await psqlExport(cluster.standbyUrl, exportSelect(undefined, {})),
    };
    const results: Record<'replica' | 'primary', number[]> = { replica: [], primary: [] };
    for (let i = 0; i < rounds; i++) {
      // ABBA so a warming cache or a neighbour's burst does not favour one side
      const order = i % 2 === 0 ? (['replica', 'primary'] as const) : (['primary', 'replica'] as const);
      for (const side of order) {
        const run = await timedExport((side === 'replica' ? onReplica : onPrimary).url, admin);
        if (run.rows < rows) throw new Error(`${side} export returned ${run.rows} rows, expected ${rows}+`);
        if ((run.asOf !== null) !== (side === 'replica')) throw new Error(`${side} export: X-Data-As-Of ${run.asOf}`);
        results[side].push(run.rowsPerSecond);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(`\n| export of ${rows} rows | median rows/s | rounds |\n| --- | --- | --- |`);
    console.log(
      `| service, DATABASE_READ_URL (standby) | ${median(results.replica).toFixed(0)} | ` +
        `${results.replica.map((r) => r.toFixed(0)).join(', ')} |`,
    );
    console.log(
      `| service, primary only | ${median(results.primary).toFixed(0)} | ` +
        `${results.primary.map((r) => r.toFixed(0)).join(', ')} |`,
    );
    console.log(`| psql \\copy on the standby | ${psql.standby.rowsPerSecond.toFixed(0)} | 1 |`);
    console.log(`| psql \\copy on the primary | ${psql.primary.rowsPerSecond.toFixed(0)} | 1 |`);

    // Lag detection: replay paused, one write on the primary, poll history through the replica server.
    const history = async () =>
      (
        await fetch(`${onReplica.url}/v1/ledger?userId=bench-lag&limit=1`, {
          headers: { authorization: `Bearer ${admin}` },
        })
      ).headers.get('x-data-as-of');
    // Idle (the last commit was the seeding, long before): the standby must stay in use.
    const idleAsOf = await history();
    const idleAge = idleAsOf ? ((Date.now() - Date.parse(idleAsOf)) / 1000).toFixed(1) : '';
    console.log(
      `\nidle primary: ${
        idleAsOf ? `served by the standby, X-Data-As-Of ${idleAge} s old (limit ${MAX_LAG} s)` : 'FELL BACK'
      }`,
    );
    await cluster.sql('standby', 'SELECT pg_wal_replay_pause()');
    const wrote = Date.now();
    const adj = await fetch(`${onPrimary.url}/v1/admin/credits/adjustments`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${admin}`,
        'content-type': 'application/json',
        'idempotency-key': randomUUID(),
      },
      body: JSON.stringify({ userId: 'bench-lag', amount: '1', reason: 'lag probe' }),
    });
    if (adj.status !== 201) throw new Error(`adjustment answered ${adj.status}`);
    while ((await history()) !== null) await sleep(100);
    const noticed = (Date.now() - wrote) / 1000;
    await cluster.sql('standby', 'SELECT pg_wal_replay_resume()');
    const resumed = Date.now();
    while ((await history()) === null) await sleep(100);
    const back = (Date.now() - resumed) / 1000;
    console.log(
      `replay paused, one write: reads moved to the primary after ${noticed.toFixed(2)} s (limit ${MAX_LAG} s); ` +
        `replay resumed: back on the standby after ${back.toFixed(2)} s`,
    );
    const metrics = await (await fetch(`${onReplica.url}/metrics`)).text();
    console.log(
      metrics
        .split('\n')
        .filter((l) => /^billing_(read_fallback|routed_reads)_total/.test(l))
        .join('\n'),
    );
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
