import request from 'supertest';
import Decimal from 'decimal.js';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { grant, reconcile } from '../helpers/wallets';

let t: TestApp;
const BACKFILL = `INSERT INTO usage_daily (user_id, day, model, requests, input_tokens, output_tokens,
                  cached_input_tokens, credits)
  SELECT user_id, (created_at AT TIME ZONE 'UTC')::date, model, count(*), sum(input_tokens), sum(output_tokens),
         sum(cached_input_tokens), sum(credits) FROM usages GROUP BY 1, 2, 3`;
type Rollup = { user_id: string; day: string; model: string; requests: string; credits: string; input_tokens: string };
const rollup = (where = '') =>
  t.database.sql<Rollup>(
    `SELECT user_id, day::text, model, requests::text, trim_scale(credits)::text AS credits, input_tokens::text
   FROM usage_daily ${where} ORDER BY 1, 2, 3`,
  );
beforeAll(async () => {
  t = await createTestApp();
  await grant(t, 'chart-user', '100000');
  await grant(t, 'other-user', '100000');
  const calls = [
    { model: 'gpt-4o', inputTokens: 1000, outputTokens: 500, cachedInputTokens: 200 },
    { model: 'gpt-4o', inputTokens: 2000, outputTokens: 100 },
    { model: 'gpt-4o-mini', inputTokens: 300, outputTokens: 300 },
    { model: 'gpt-4o-mini', inputTokens: 0, outputTokens: 0 },
  ];
  for (const [i, c] of calls.entries()) {
    const res = await reconcile(t, { userId: 'chart-user', requestId: `call-${i}`, ...c });
    expect(res.status).toBe(201);
  }
  await reconcile(t, {
    userId: 'other-user',
    requestId: 'x',
    model: 'gpt-4o',
    inputTokens: 5000,
    outputTokens: 5000,
  }).expect(201);
  // Two of the calls were made on earlier days (usages are append-only history; back-dating is a test device).
  await t.database.sql(`UPDATE usages SET created_at = '2026-11-02T23:59:59Z' WHERE request_id = 'call-1'`);
  await t.database.sql(`UPDATE usages SET created_at = '2026-11-03T00:00:00Z' WHERE request_id = 'call-2'`);
  // The rollup is rebuilt the way the migration backfills it, so it follows the back-dated usages.
  await t.database.sql(`DELETE FROM usage_daily`);
  await t.database.sql(BACKFILL);
});
afterAll(() => t.close());

const summary = (token: string, query: Record<string, string> = {}) =>
  request(t.app).get('/v1/usage/summary').query(query).set('Authorization', `Bearer ${token}`);

/** The ledger's usage debits of a user in [from, to), for comparison. */
async function ledgerUsage(userId: string, from: string, to: string): Promise<string> {
  const [row] = await t.database.sql<{ sum: string }>(
    `SELECT COALESCE(-sum(p.amount), 0)::text AS sum FROM postings p JOIN accounts a ON a.id = p.account_id
     JOIN usages u ON u.transaction_id = p.transaction_id
     WHERE a.user_id = $1 AND u.created_at >= $2 AND u.created_at < $3`,
    [userId, from, to],
  );
  return new Decimal(row.sum).toFixed();
}

describe('GET /v1/usage/summary', () => {
  it('by day, it sums each UTC day of the caller and totals what the ledger charged in the same period', async () => {
    const res = await summary(t.token('chart-user'), { from: '2026-11-01', to: '2026-11-04' }).expect(200);
    expect(res.body.groupBy).toBe('day');
    expect(res.body.from).toBe('2026-11-01T00:00:00.000Z');
    expect(res.body.data.map((r: { key: string }) => r.key)).toEqual(['2026-11-02', '2026-11-03']);
    expect(res.body.data[0]).toMatchObject({ requests: 1, inputTokens: 2000, outputTokens: 100, cachedInputTokens: 0 });
    expect(res.body.totalCredits).toBe(await ledgerUsage('chart-user', '2026-11-01', '2026-11-04'));
  });

  it('by model over the default 30 days, it counts every call (zero-cost too) and matches the ledger', async () => {
    const res = await summary(t.token('chart-user'), { groupBy: 'model' }).expect(200);
    const byModel = Object.fromEntries(res.body.data.map((r: { key: string }) => [r.key, r]));
    expect(Object.keys(byModel)).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect(byModel['gpt-4o']).toMatchObject({
      requests: 1,
      inputTokens: 1000,
      outputTokens: 500,
      cachedInputTokens: 200,
    });
    expect(byModel['gpt-4o-mini'].requests).toBe(1);
    const total = res.body.data.reduce((s: Decimal, r: { credits: string }) => s.plus(r.credits), new Decimal(0));
    expect(res.body.totalCredits).toBe(total.toFixed());
    expect(res.body.totalCredits).toBe(await ledgerUsage('chart-user', res.body.from, res.body.to));
    expect(typeof byModel['gpt-4o'].credits).toBe('string');
  });

  it("never shows another user's usage, and reading another user needs billing:admin", async () => {
    const mine = await summary(t.token('nobody')).expect(200);
    expect(mine.body).toMatchObject({ userId: 'nobody', data: [], totalCredits: '0' });
    await summary(t.token('nobody'), { userId: 'chart-user' }).expect(403);
    const admin = await summary(t.admin, { userId: 'other-user', groupBy: 'model' }).expect(200);
    expect(admin.body.data).toHaveLength(1);
  });

  it('refuses a bad range or group with a 400 naming the field', async () => {
    const backwards = await summary(t.token('chart-user'), { from: '2026-11-04', to: '2026-11-01' }).expect(400);
    expect(backwards.body.errors[0].field).toBe('from');
    const wide = await summary(t.token('chart-user'), { from: '2020-01-01', to: '2026-01-01' }).expect(400);
    expect(wide.body.errors[0].field).toBe('to');
    const group = await summary(t.token('chart-user'), { groupBy: 'week' }).expect(400);
    expect(group.body.errors[0].field).toBe('groupBy');
    const date = await summary(t.token('chart-user'), { from: '2026-13-45' }).expect(400);
    expect(date.body.errors[0].field).toBe('from');
  });

  it('the rollup the charge functions keep equals the usages summed per user, UTC day and model', async () => {
    await grant(t, 'batch-a', '100000');
    await grant(t, 'batch-b', '100000');
    const item = (i: number, userId: string, model: string, input: number) => ({
      i,
      user_id: userId,
      request_id: `b-${i}`,
      model,
      family: model,
      input_tokens: input,
      output_tokens: 10,
      cached_tokens: 0,
      payload_hash: `h${i}`,
      correlation_id: `c${i}`,
      metadata: null,
    });
    // Set-based path (one item per wallet), then the per-item path (two items of one wallet, a replay).
    await t.database.sql(`SELECT * FROM billing_charge_usage_batch($1::jsonb)`, [
      JSON.stringify([item(0, 'batch-a', 'gpt-4o', 100), item(1, 'batch-b', 'gpt-4o-mini', 200)]),
    ]);
    await t.database.sql(`SELECT * FROM billing_charge_usage_batch($1::jsonb)`, [
      JSON.stringify([
        item(2, 'batch-a', 'gpt-4o', 300),
        item(3, 'batch-a', 'gpt-4o-mini', 400),
        item(0, 'batch-a', 'gpt-4o', 100),
      ]),
    ]);
    const kept = await rollup(`WHERE user_id LIKE 'batch-%'`);
    expect(kept.map((r) => [r.user_id, r.model, r.requests, r.input_tokens])).toEqual([
      ['batch-a', 'gpt-4o', '2', '400'],
      ['batch-a', 'gpt-4o-mini', '1', '400'],
      ['batch-b', 'gpt-4o-mini', '1', '200'],
    ]);
    const all = await rollup();
    await t.database.sql(`DELETE FROM usage_daily`);
    await t.database.sql(BACKFILL);
    expect(await rollup()).toEqual(all);
  });

  it('needs a token', async () => {
    await request(t.app).get('/v1/usage/summary').expect(401);
  });
});
