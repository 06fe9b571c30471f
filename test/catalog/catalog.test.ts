import request from 'supertest';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { grant, reconcile } from '../helpers/wallets';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

describe('catalog', () => {
  it('lists the five packages of the contract with progressive bonuses', async () => {
    const res = await request(t.app).get('/v1/credit-packages');
    expect(res.status).toBe(200);
    expect(res.body.data.map((p: Record<string, string>) => [p.id, p.priceUsd, p.credits, p.bonusCredits, p.totalCredits])).toEqual([
      ['starter', '5.00', '5000', '0', '5000'],
      ['basic', '10.00', '10000', '500', '10500'],
      ['standard', '25.00', '25000', '2500', '27500'],
      ['pro', '50.00', '50000', '7500', '57500'],
      ['enterprise', '100.00', '100000', '20000', '120000'],
    ]);
  });

  it('lists the rate card in force per model as decimal strings, markup 4', async () => {
    const res = await request(t.app).get('/v1/rate-cards');
    const gpt4o = res.body.data.find((c: { model: string }) => c.model === 'gpt-4o');
    expect(gpt4o).toMatchObject({ inputUsdPer1M: '5', cachedInputUsdPer1M: '2.5', outputUsdPer1M: '15', markup: '4' });
    expect(res.body.data.find((c: { model: string }) => c.model === 'gpt-3.5-turbo').cachedInputUsdPer1M).toBeNull();
    expect(res.body.data).toHaveLength(9);
  });

  it('prices a usage by the card in force when it happened; past charges never change', async () => {
    await grant(t, 'card-user', '1000');
    const before = await reconcile(t, { userId: 'card-user', requestId: 'before', model: 'gpt-4o', inputTokens: 1000, outputTokens: 500 });
    await t.database.sql(
      `INSERT INTO rate_cards (model, input_usd_per_1m, cached_input_usd_per_1m, output_usd_per_1m, effective_from)
       VALUES ('gpt-4o', 2.5, 1.25, 10, now())`,
    );
    const after = await reconcile(t, { userId: 'card-user', requestId: 'after', model: 'gpt-4o', inputTokens: 1000, outputTokens: 500 });
    expect(before.body.credits).toBe('50');
    expect(after.body.credits).toBe('30');
    const rows = await t.database.sql<{ request_id: string; credits: string; input: string }>(
      `SELECT u.request_id, u.credits::text, c.input_usd_per_1m::text AS input FROM usages u JOIN rate_cards c ON c.id = u.rate_card_id ORDER BY u.created_at`,
    );
    expect(rows.map((r) => [r.request_id, r.input])).toEqual([
      ['before', '5.0000000000'],
      ['after', '2.5000000000'],
    ]);
    expect((await reconcile(t, { userId: 'card-user', requestId: 'before', model: 'gpt-4o', inputTokens: 1000, outputTokens: 500 })).body.credits).toBe('50');
  });
});
