/**
 * The scheduled ledger check's time against the ledger's size: generates N postings (N/2 two-leg
 * transactions, 50,000 a day, the newest now) straight in SQL, closes the books, then times the
 * scheduled (incremental) check and the full scan. Usage: ts-node bench/ledger-check.ts 1000000 [10000000 ...]
 * BENCH_DATABASE_URL names the server (default postgresql://postgres@127.0.0.1:5432/postgres).
 */
import os from 'node:os';
import pg from 'pg';
import { createPool } from '../src/platform/db/database';
import { migrate } from '../src/platform/db/migrator';
import { LedgerClosingsRepository } from '../src/modules/reports/ledger-closings.repository';
import { LedgerClosings } from '../src/modules/reports/ledger-closings.service';
import { TrialBalanceRepository } from '../src/modules/reports/trial-balance.repository';

const server = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const WALLETS = 100_000;
const PER_DAY = 50_000;

async function admin(sql: string) {
  const c = new pg.Client({ connectionString: server });
  await c.connect();
  await c.query(sql).finally(() => c.end());
}

async function generate(pool: pg.Pool, postings: number) {
  const txs = postings / 2;
  const c = await pool.connect();
  try {
    // Synthetic rows balanced by construction; the per-row ledger triggers are off for the load only.
    await c.query(`SET session_replication_role = replica`);
    await c.query(`INSERT INTO accounts (kind, user_id) SELECT 'wallet', 'w' || g FROM generate_series(1, $1) g`, [
      WALLETS,
    ]);
    await c.query(
      `INSERT INTO ledger_transactions (id, type, business_key, created_at)
       SELECT md5(g::text)::uuid, CASE WHEN g % 10 = 0 THEN 'adjustment' ELSE 'usage' END, 'b' || g,
              now() - ($1 - g) * (interval '1 day' / $2)
       FROM generate_series(1, $1) g`,
      [txs, PER_DAY],
    );
    await c.query(
      `WITH w AS (SELECT min(id) AS first FROM accounts WHERE kind = 'wallet'),
            s AS (SELECT (SELECT id FROM accounts WHERE code = 'usage_revenue') AS rev, (SELECT id FROM accounts
            WHERE code = 'promotions') AS promo)
       INSERT INTO postings (transaction_id, account_id, amount, created_at)
       SELECT md5(g::text)::uuid, CASE WHEN leg = 1 THEN w.first + g % $2 ELSE CASE WHEN g % 10 = 0 THEN s.promo
              ELSE s.rev END END,
              CASE WHEN g % 10 = 0 THEN 100 ELSE -1.5 END * CASE WHEN leg = 1 THEN 1 ELSE -1 END, t.created_at
       FROM generate_series(1, $1) g CROSS JOIN (VALUES (1), (2)) legs(leg) CROSS JOIN w CROSS JOIN s
       JOIN ledger_transactions t ON t.id = md5(g::text)::uuid
       ORDER BY g, leg`,
      [txs, WALLETS],
    );
    await c.query(
      `UPDATE accounts a SET balance = m.total FROM (SELECT account_id, sum(amount) AS total FROM postings
       GROUP BY account_id) m
       WHERE a.id = m.account_id AND a.kind = 'wallet'`,
    );
    await c.query(`SET session_replication_role = origin`);
    await c.query(`VACUUM ANALYZE`);
  } finally {
    c.release();
  }
}

const timed = async <T>(work: () => Promise<T>) => {
  const start = process.hrtime.bigint();
  const value = await work();
  return { value, ms: Number(process.hrtime.bigint() - start) / 1e6 };
};

async function run(postings: number) {
  const name = `ledger_check_bench_${postings}`;
  // BENCH_REUSE: measure a database a previous BENCH_KEEP run left, without generating again.
  const reuse = Boolean(process.env.BENCH_REUSE);
  if (!reuse) {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin(`CREATE DATABASE ${name}`);
  }
  const url = server.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
  await migrate(url);
  const pool = createPool(url, { min: 0, max: 2, applicationName: 'ledger-check-bench' });
  try {
    const gen = await timed(() => (reuse ? Promise.resolve() : generate(pool, postings)));
    const closings = new LedgerClosings(new LedgerClosingsRepository(pool));
    const bootstrap = await timed(() => closings.closeDuePeriods());
    const check = new TrialBalanceRepository({ pool, prisma: undefined as never });
    const hour = { from: new Date(Date.now() - 3600_000), to: new Date() };
    // Two shared cores: the 1-minute load average next to each timing says what else was running.
    const load = () => +os.loadavg()[0].toFixed(2);
    const loadAtCheck = load();
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push((await timed(() => check.read(hour, false))).ms);
    const incremental = await check.read(hour, false);
    const full = await timed(() => check.read(hour, true));
    const loadAfterFull = load();
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ledger_transactions WHERE created_at >= $1`, [
      incremental.since,
    ]);
    const ok =
      incremental.unbalanced.length +
        incremental.drift.length +
        full.value.unbalanced.length +
        full.value.drift.length ===
      0;
    console.log(
      JSON.stringify({
        postings,
        generateS: +(gen.ms / 1000).toFixed(1),
        periodsClosed: bootstrap.value.length,
        bootstrapS: +(bootstrap.ms / 1000).toFixed(1),
        checkedFrom: incremental.since,
        transactionsSinceClosing: rows[0].n,
        scheduledCheckMs: runs.map((ms) => Math.round(ms)),
        fullScanMs: Math.round(full.ms),
        loadAvg1m: { atCheck: loadAtCheck, afterFullScan: loadAfterFull },
        invariantsHold: ok,
      }),
    );
  } finally {
    await pool.end();
    if (!process.env.BENCH_KEEP) await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

(async () => {
  for (const n of process.argv.slice(2).map(Number)) await run(n);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
