import type pg from 'pg';
import request from 'supertest';
import { LedgerClosingsRepository } from '../../src/modules/reports/ledger-closings.repository';
import { LedgerClosings } from '../../src/modules/reports/ledger-closings.service';
import { ReportsRepository } from '../../src/modules/reports/reports.repository';
import { ReportsService } from '../../src/modules/reports/reports.service';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { grant, reconcile } from '../helpers/wallets';

const DAY = 24 * 3600_000;
const today = new Date(Math.floor(Date.now() / DAY) * DAY);
const daysAgo = (n: number, hour = 1) => new Date(today.getTime() - n * DAY + hour * 3600_000);

let t: TestApp;

/** An admin grant dated in the past, written the way the ledger functions write one. */
async function grantOn(userId: string, amount: string, at: Date) {
  await t.database.sql(
    `WITH tx AS (INSERT INTO ledger_transactions (type, business_key, reference, created_at)
                 VALUES ('adjustment', gen_random_uuid()::text, $1, $3) RETURNING id),
          w AS (UPDATE accounts SET balance = balance + $2 WHERE user_id = $1 RETURNING id, balance)
     INSERT INTO postings (transaction_id, account_id, amount, balance_after, created_at)
     SELECT tx.id, w.id, $2, w.balance, $3 FROM tx, w
     UNION ALL SELECT tx.id, (SELECT id FROM accounts WHERE code = 'promotions'), -$2::numeric, NULL, $3 FROM tx`,
    [userId, amount, at],
  );
}

/** A posting added with the ledger's triggers switched off, as a bad migration or manual fix might. */
async function corrupt(reference: string, userId: string, amount: string) {
  const client = await t.database.db.pool.connect();
  try {
    await client.query(`SET session_replication_role = replica`);
    await client.query(
      `INSERT INTO postings (transaction_id, account_id, amount)
       SELECT t.id, a.id, $3 FROM ledger_transactions t, accounts a WHERE t.reference = $1 AND a.user_id = $2`,
      [reference, userId, amount],
    );
  } finally {
    await client.query(`SET session_replication_role = origin`);
    client.release();
  }
}

const report = (query = '') =>
  request(t.app).get(`/v1/admin/reports/credits${query}`).set('Authorization', `Bearer ${t.admin}`);
const invariant = (body: { invariants: Array<{ name: string; ok: boolean; offending: unknown[] }> }, name: string) =>
  body.invariants.find((i) => i.name === name) as { name: string; ok: boolean; offending: unknown[] };
const closings = () => new LedgerClosings(new LedgerClosingsRepository(t.database.db.pool));
const closeAt = new Date(today.getTime() + 2 * 3600_000);

beforeAll(async () => {
  t = await createTestApp();
  // The past first: posting ids follow insertion, as they do in production (see postings-floor.ts).
  await t.database.sql(`INSERT INTO accounts (kind, user_id) VALUES ('wallet', 'lc-old'), ('wallet', 'lc-quiet')`);
  await grantOn('lc-old', '40', daysAgo(3));
  await grantOn('lc-old', '60', daysAgo(2));
  await grantOn('lc-quiet', '5', daysAgo(2));
  await grant(t, 'lc-old', '100');
  await grant(t, 'lc-quiet', '30');
  await grant(t, 'lc-new', '500');
  const call = await reconcile(t, {
    userId: 'lc-new',
    requestId: 'lc-call',
    model: 'gpt-4o',
    inputTokens: 1000,
    outputTokens: 500,
  });
  expect(call.status).toBe(201);
});
afterAll(() => t.close());

describe('the trial balance reads one snapshot', () => {
  it('when a charge commits between its queries, the wallets-total equation still holds', async () => {
    // A pool whose connection lets a real charge commit after the report's third query.
    const pool = t.database.db.pool;
    let queries = 0;
    const between: Pick<pg.Pool, 'connect'> = {
      connect: (async () => {
        const client = await pool.connect();
        const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
        (client as unknown as { query: unknown }).query = async (...args: unknown[]) => {
          const result = await query(...args);
          if (++queries === 4) {
            const charge = await reconcile(t, {
              userId: 'lc-new',
              requestId: 'lc-between',
              model: 'gpt-4o',
              inputTokens: 2000,
              outputTokens: 100,
            });
            expect(charge.status).toBe(201);
          }
          return result;
        };
        return client;
      }) as pg.Pool['connect'],
    };
    const repo = new ReportsRepository({ pool: between as pg.Pool, prisma: t.database.db.prisma });
    const reports = new ReportsService({ run: async (work) => ({ value: await work(repo), asOf: null }) });
    const before = await report();
    const { value } = await reports.credits({ from: daysAgo(10), to: new Date(Date.now() + 60_000) });
    expect(queries).toBeGreaterThan(4);
    expect(value.ok).toBe(true);
    expect(value.wallets.total).toBe(before.body.wallets.total);
    const after = await report();
    expect(after.body.ok).toBe(true);
    expect(after.body.wallets.total).not.toBe(before.body.wallets.total);
  });
});

describe('closing the books per UTC day', () => {
  it('closes each day past the margin; closing again, even from two processes at once, changes nothing', async () => {
    const [a, b] = await Promise.all([closings().closeDuePeriods(closeAt), closings().closeDuePeriods(closeAt)]);
    const ends = [...a, ...b].map((d) => d.toISOString()).sort();
    expect(ends).toEqual([daysAgo(2, 0), daysAgo(1, 0), today].map((d) => d.toISOString()));
    expect(await closings().closeDuePeriods(closeAt)).toEqual([]);
    const periods = await t.database.sql<{ end: Date; transactions: string }>(
      `SELECT period_end AS end, transactions::text FROM ledger_closing_periods ORDER BY period_end`,
    );
    expect(periods.map((p) => p.transactions)).toEqual(['1', '2', '0']);
    const old = await t.database.sql<{ end: Date; balance: string }>(
      `SELECT c.period_end AS end, c.balance::text FROM ledger_closing_balances c JOIN accounts a ON a.id = c.account_id
       WHERE a.user_id = 'lc-old' ORDER BY c.period_end`,
    );
    expect(old.map((r) => Number(r.balance))).toEqual([40, 100]);
  });

  it('does not close a day before the margin has passed', async () => {
    expect(await closings().closeDuePeriods(new Date(today.getTime() + 24 * 3600_000 + 30 * 60_000))).toEqual([]);
  });

  it('keeps the closings append-only in the database', async () => {
    for (const table of ['ledger_closing_periods', 'ledger_closing_balances', 'ledger_closing_wallet_totals']) {
      await expect(t.database.sql(`UPDATE ${table} SET period_end = period_end`)).rejects.toThrow(/append-only/);
      await expect(t.database.sql(`DELETE FROM ${table}`)).rejects.toThrow(/append-only/);
      await expect(t.database.sql(`TRUNCATE ${table} CASCADE`)).rejects.toThrow(/append-only/);
    }
  });

  it('checks from the newest closing by default, and the whole ledger with full=true, same answer', async () => {
    const incremental = await report();
    expect(incremental.status).toBe(200);
    expect(incremental.body).toMatchObject({ ok: true, checkedFrom: today.toISOString() });
    const full = await report('?full=true');
    expect(full.body).toMatchObject({ ok: true, checkedFrom: null });
    expect(incremental.body.equation).toEqual(full.body.equation);
    expect(incremental.body.byAccount).toEqual(full.body.byAccount);
    expect(incremental.body.equation).toMatchObject({ adjustments: '735' });
    expect((await report('?full=yes')).status).toBe(400);
  });
});

describe('what the checks catch', () => {
  it('a posting corrupted inside a closed period is left to the full scan, which catches it', async () => {
    await corrupt('lc-old', 'lc-old', '-7');
    expect((await report()).body.ok).toBe(true);
    const full = await report('?full=true');
    expect(full.body.ok).toBe(false);
    expect(invariant(full.body, 'transactions_sum_to_zero').offending).toHaveLength(2);
    expect(invariant(full.body, 'wallets_equal_postings').offending).toEqual([
      { userId: 'lc-old', balance: '200', postings: '186' },
    ]);
  });

  it('a posting corrupted since the last closing fails the scheduled check, naming transaction, wallet', async () => {
    await corrupt('lc-call', 'lc-new', '-3');
    const res = await report();
    expect(res.body.ok).toBe(false);
    expect(invariant(res.body, 'transactions_sum_to_zero').offending).toEqual([
      expect.objectContaining({ type: 'usage', sum: '-3' }),
    ]);
    expect(invariant(res.body, 'wallets_equal_postings').offending).toEqual([
      expect.objectContaining({ userId: 'lc-new' }),
    ]);
    expect(invariant(res.body, 'wallets_total_equation').ok).toBe(false);
  });

  it('a cached balance changed behind the ledger fails the scheduled check, even on a quiet wallet', async () => {
    await t.database.sql(`UPDATE accounts SET balance = balance + 1 WHERE user_id = 'lc-quiet'`);
    const drift = invariant((await report()).body, 'wallets_equal_postings').offending;
    expect(drift).toContainEqual({ userId: 'lc-quiet', balance: '36', postings: '35' });
  });
});
