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
    expect(
      res.body.data.map((p: Record<string, string>) => [p.id, p.priceUsd, p.credits, p.bonusCredits, p.totalCredits]),
    ).toEqual([
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
    const before = await reconcile(t, {
      userId: 'card-user',
      requestId: 'before',
      model: 'gpt-4o',
      inputTokens: 1000,
      outputTokens: 500,
    });
    await t.database.sql(
      `INSERT INTO rate_cards (model, input_usd_per_1m, cached_input_usd_per_1m, output_usd_per_1m, effective_from)
       VALUES ('gpt-4o', 2.5, 1.25, 10, now())`,
    );
    const after = await reconcile(t, {
      userId: 'card-user',
      requestId: 'after',
      model: 'gpt-4o',
      inputTokens: 1000,
      outputTokens: 500,
    });
    expect(before.body.credits).toBe('50');
    expect(after.body.credits).toBe('30');
    const rows = await t.database.sql<{ request_id: string; credits: string; input: string }>(
      `SELECT u.request_id, u.credits::text, c.input_usd_per_1m::text AS input FROM usages u JOIN rate_cards c
       ON c.id = u.rate_card_id ORDER BY u.created_at`,
    );
    expect(rows.map((r) => [r.request_id, r.input])).toEqual([
      ['before', '5.0000000000'],
      ['after', '2.5000000000'],
    ]);
    expect(
      (
        await reconcile(t, {
          userId: 'card-user',
          requestId: 'before',
          model: 'gpt-4o',
          inputTokens: 1000,
          outputTokens: 500,
        })
      ).body.credits,
    ).toBe('50');
  });
});

describe('model names a caller sends', () => {
  const debitedSeries = async () =>
    (await t.metrics.registry.getSingleMetricAsString('billing_credits_debited_total'))
      .split('\n')
      .filter((l) => l.startsWith('billing_credits_debited_total{'));

  it('a dated snapshot (leap day included) is priced and counted by its family, not the spelling sent', async () => {
    await grant(t, 'snap-user', '1000');
    const debited = async (family: string) =>
      Number((await debitedSeries()).find((l) => l.includes(`{model="${family}"}`))?.split(' ')[1] ?? 0);
    const before = await debited('gpt-4o');
    let charged = 0;
    for (const [i, model] of ['gpt-4o-2024-05-13', 'gpt-4o-2024-02-29', 'gpt-3.5-turbo-0125', 'gpt-4o'].entries()) {
      const res = await reconcile(t, {
        userId: 'snap-user',
        requestId: `snap-${i}`,
        model,
        inputTokens: 1000,
        outputTokens: 500,
      });
      expect([model, res.status, res.body.model]).toEqual([model, 201, model]);
      if (model.startsWith('gpt-4o')) charged += Number(res.body.credits);
    }
    const series = await debitedSeries();
    expect(series.every((l) => /^billing_credits_debited_total\{model="(gpt-4o|gpt-3\.5-turbo)"\} /.test(l))).toBe(
      true,
    );
    expect(await debited('gpt-4o')).toBe(before + charged);
  });

  const tomorrowPlusOne = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
  it.each([
    'gpt-4o-9999-99-99',
    'gpt-4o-2024-02-30',
    'gpt-4o-2023-02-29',
    'gpt-4o-2024-13-01',
    'gpt-4o-0000-01-01',
    `gpt-4o-${tomorrowPlusOne}`,
    'gpt-3.5-turbo-1399',
    'gpt-3.5-turbo-0230',
  ])('%s is no snapshot: 422 unknown_model, nothing charged, no new metric series', async (model) => {
    await grant(t, 'fake-snap', '1000');
    const before = await debitedSeries();
    const res = await reconcile(t, {
      userId: 'fake-snap',
      requestId: `fake-${model}`,
      model,
      inputTokens: 1000,
      outputTokens: 500,
    });
    expect([res.status, res.body.code]).toEqual([422, 'unknown_model']);
    expect(await debitedSeries()).toEqual(before);
    const [{ n }] = await t.database.sql<{ n: number }>(`SELECT count(*)::int AS n FROM usages WHERE model = $1`, [
      model,
    ]);
    expect(n).toBe(0);
  });
});
