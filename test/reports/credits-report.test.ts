import request from 'supertest';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { grant, reconcile } from '../helpers/wallets';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  await grant(t, 'tb-1', '1000');
  await grant(t, 'tb-2', '20');
  await reconcile(t, { userId: 'tb-1', requestId: 'tb-call', model: 'gpt-4o', inputTokens: 1000, outputTokens: 500 });
});
afterAll(() => t.close());

const report = (accept = 'application/json') =>
  request(t.app).get('/v1/admin/reports/credits').set('Authorization', `Bearer ${t.admin}`).set('Accept', accept);

describe('GET /v1/admin/reports/credits (trial balance)', () => {
  it('totals the period per ledger type and system account, and every invariant holds', async () => {
    const res = await report();
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(true);
    expect(res.body.byType).toEqual([
      { type: 'adjustment', transactions: 2, walletAmount: '1020' },
      { type: 'usage', transactions: 1, walletAmount: '-50' },
    ]);
    expect(res.body.byAccount).toEqual(
      expect.arrayContaining([
        { account: 'usage_revenue', balance: '50', periodNet: '50' },
        { account: 'promotions', balance: '-1020', periodNet: '-1020' },
      ]),
    );
    expect(res.body.wallets).toEqual({ count: 2, total: '970', negative: 0 });
    expect(res.body.equation).toMatchObject({ walletsTotal: '970', adjustments: '1020', usage: '50', expected: '970' });
    expect(await t.metrics.registry.getSingleMetricAsString('billing_ledger_invariants_ok')).toMatch(
      /billing_ledger_invariants_ok 1/,
    );
  });

  it('when a posting is corrupted behind the service, fails and names the transaction and the wallet', async () => {
    const [tx] = await t.database.sql<{ id: string; account: string }>(
      `SELECT t.id::text, p.account_id::text AS account FROM ledger_transactions t JOIN postings p
       ON p.transaction_id = t.id
       JOIN accounts a ON a.id = p.account_id WHERE t.reference = 'tb-call' AND a.kind = 'wallet'`,
    );
    // Written straight in SQL with the ledger's triggers switched off, as a bad migration or manual fix might.
    const client = await t.database.db.pool.connect();
    try {
      await client.query(`SET session_replication_role = replica`);
      await client.query(
        `INSERT INTO postings (transaction_id, account_id, amount, balance_after) VALUES ($1, $2, -7, 943)`,
        [tx.id, tx.account],
      );
    } finally {
      await client.query(`SET session_replication_role = origin`);
      client.release();
    }
    const res = await report();
    expect(res.body.ok).toBe(false);
    const failed = Object.fromEntries(
      res.body.invariants.map((i: { name: string; ok: boolean; offending: unknown[] }) => [i.name, i]),
    );
    expect(failed.transactions_sum_to_zero.ok).toBe(false);
    expect(failed.transactions_sum_to_zero.offending).toEqual([{ transactionId: tx.id, type: 'usage', sum: '-7' }]);
    expect(failed.wallets_equal_postings.offending).toEqual([{ userId: 'tb-1', balance: '950', postings: '943' }]);
    expect(failed.wallets_total_equation.ok).toBe(false);
    expect(await t.metrics.registry.getSingleMetricAsString('billing_ledger_invariants_ok')).toMatch(
      /billing_ledger_invariants_ok 0/,
    );
  });

  it('answers CSV with Accept: text/csv', async () => {
    const res = await report('text/csv');
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.text.split('\r\n')[0]).toBe('section,name,transactions,amount,ok');
    expect(res.text).toContain('invariant,transactions_sum_to_zero,,,false');
  });

  it('is for billing:admin only and refuses a period that ends before it starts', async () => {
    expect(
      (
        await request(t.app)
          .get('/v1/admin/reports/credits')
          .set('Authorization', `Bearer ${t.token('tb-1')}`)
      ).status,
    ).toBe(403);
    const bad = await request(t.app)
      .get('/v1/admin/reports/credits?from=2026-02-02T00:00:00Z&to=2026-02-01T00:00:00Z')
      .set('Authorization', `Bearer ${t.admin}`);
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('from');
  });
});
