import pg from 'pg';
import { migrate } from '../../src/platform/db/migrator';

/** A throwaway database on the machine's PostgreSQL: created, migrated, dropped at the end. */
export interface BenchDatabase {
  name: string;
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export async function createBenchDatabase(adminUrl: string, name: string): Promise<BenchDatabase> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await migrate(url.toString());
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  // pool.end() resolves before its clients' sockets close, so DROP ... WITH (FORCE) can terminate one
  // that is still idle in the pool; without a listener pg-pool rethrows that as an uncaught error
  pool.on('error', () => undefined);
  return {
    name,
    url: url.toString(),
    pool,
    async drop() {
      await pool.end().catch(() => undefined);
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

export const walletUser = (n: number) => `bench-${n}`;

/**
 * Funds wallets bench-1..bench-N in three set-based statements: each gets an adjustment
 * transaction (unique business_key per wallet) whose two postings sum to zero, so the deferred
 * zero-sum trigger and the balance-equals-postings invariant hold from the start.
 */
export async function seedWallets(pool: pg.Pool, count: number, credits: string): Promise<void> {
  await inTransaction(pool, async (c) => {
    await c.query(
      `INSERT INTO accounts (kind, user_id, balance) SELECT 'wallet', 'bench-' || g, $2::numeric
       FROM generate_series(1, $1::int) g`,
      [count, credits],
    );
    await c.query(
      `INSERT INTO ledger_transactions (id, type, business_key, reference, actor, correlation_id)
       SELECT md5('bench-seed:' || g)::uuid, 'adjustment', 'bench-seed:' || g, 'bench funding', 'bench', 'bench-seed'
              FROM generate_series(1, $1::int) g`,
      [count],
    );
    await c.query(
      `INSERT INTO postings (transaction_id, account_id, amount, balance_after)
       SELECT md5('bench-seed:' || g)::uuid, a.id, $2::numeric, $2::numeric FROM generate_series(1, $1::int) g
       JOIN accounts a ON a.user_id = 'bench-' || g
       UNION ALL
       SELECT md5('bench-seed:' || g)::uuid, (SELECT id FROM accounts WHERE code = 'promotions'), -$2::numeric, NULL
       FROM generate_series(1, $1::int) g`,
      [count, credits],
    );
  });
}

/**
 * Tops the wallet ledger up to `target` rows for the CSV export: 1,000 export wallets each get
 * +1 credit transactions (balanced against promotions), balances set from their postings.
 */
export async function seedLedgerRows(pool: pg.Pool, target: number): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM postings p JOIN accounts a ON a.id = p.account_id WHERE a.user_id IS NOT NULL`,
  );
  const missing = Math.max(0, target - Number(rows[0].n));
  await inTransaction(pool, async (c) => {
    // Two million postings through per-row FK and zero-sum triggers took minutes on a shared
    // 2-core machine; the rows are balanced by construction and ledgerViolations() re-checks every
    // invariant (zero sum, balances, references) right after the export. Unique indexes still apply.
    await c.query(`SET LOCAL session_replication_role = replica`);
    await c.query(
      `INSERT INTO accounts (kind, user_id) SELECT 'wallet', 'bench-export-' || k FROM generate_series(0, 999) k`,
    );
    await c.query(
      `INSERT INTO ledger_transactions (id, type, business_key, reference, actor, correlation_id)
       SELECT md5('bench-export:' || g)::uuid, 'adjustment', 'bench-export:' || g, 'bench export ' || g, 'bench',
              'bench-seed' FROM generate_series(1, $1::int) g`,
      [missing],
    );
    await c.query(
      `INSERT INTO postings (transaction_id, account_id, amount, balance_after)
       SELECT md5('bench-export:' || g)::uuid, a.id, 1, row_number() OVER (PARTITION BY a.id ORDER BY g)
       FROM generate_series(1, $1::int) g JOIN accounts a ON a.user_id = 'bench-export-' || (g % 1000)
       UNION ALL
       SELECT md5('bench-export:' || g)::uuid, (SELECT id FROM accounts WHERE code = 'promotions'), -1, NULL
       FROM generate_series(1, $1::int) g`,
      [missing],
    );
    await c.query(
      `UPDATE accounts a SET balance = s.total FROM (SELECT p.account_id, sum(p.amount) AS total FROM postings p
         JOIN accounts w ON w.id = p.account_id WHERE w.user_id LIKE 'bench-export-%' GROUP BY p.account_id) s
         WHERE a.id = s.account_id`,
    );
  });
  await pool.query('ANALYZE');
  return missing;
}

export async function idOf(pool: pg.Pool, sql: string): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(sql);
  if (!rows[0]) throw new Error(`bench setup: nothing found for ${sql}`);
  return String(rows[0].id);
}

export async function countUsages(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM usages');
  return Number(rows[0].n);
}

async function inTransaction(pool: pg.Pool, work: (c: pg.PoolClient) => Promise<void>): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await work(c);
    await c.query('COMMIT');
  } catch (error) {
    await c.query('ROLLBACK');
    throw error;
  } finally {
    c.release();
  }
}
