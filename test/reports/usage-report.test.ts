import request from 'supertest';
import Decimal from 'decimal.js';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { grant, reconcile } from '../helpers/wallets';

let t: TestApp;
const charged: Array<{ model: string; userId: string; credits: string }> = [];
beforeAll(async () => {
  t = await createTestApp();
  const calls: Array<[string, string, number, number, number]> = [
    ['ur-a', 'gpt-4o', 1000, 500, 0],
    ['ur-a', 'gpt-4o-mini', 12345, 678, 901],
    ['ur-b', 'gpt-4o-mini', 7, 3, 1],
    ['ur-b', 'o1', 999, 1, 0],
    ['ur-a', 'gpt-4o-2024-05-13', 1, 1, 1],
  ];
  await grant(t, 'ur-a', '100000');
  await grant(t, 'ur-b', '100000');
  for (const [i, [userId, model, inputTokens, outputTokens, cachedInputTokens]] of calls.entries()) {
    const res = await reconcile(t, {
      userId,
      requestId: `ur-${i}`,
      model,
      inputTokens,
      outputTokens,
      cachedInputTokens,
    });
    charged.push({ model, userId, credits: res.body.credits });
  }
});
afterAll(() => t.close());

const get = (query: string, accept = 'application/json') =>
  request(t.app)
    .get(`/v1/admin/reports/usage?${query}`)
    .set('Authorization', `Bearer ${t.admin}`)
    .set('Accept', accept);

describe('GET /v1/admin/reports/usage', () => {
  it('grouped by model, matches the sum of the individual charges to the last decimal', async () => {
    const res = await get('groupBy=model');
    expect(res.status).toBe(200);
    for (const row of res.body.data) {
      const expected = charged.filter((c) => c.model === row.group).reduce((a, c) => a.plus(c.credits), new Decimal(0));
      expect({ group: row.group, credits: row.credits }).toEqual({ group: row.group, credits: expected.toFixed() });
    }
    const total = charged.reduce((a, c) => a.plus(c.credits), new Decimal(0));
    expect(res.body.totals.credits).toBe(total.toFixed());
    expect(res.body.totals.requests).toBe(5);
    const mini = res.body.data.find((r: { group: string }) => r.group === 'gpt-4o-mini');
    expect(mini).toMatchObject({ requests: 2, inputTokens: '12352', outputTokens: '681', cachedInputTokens: '902' });
    // price is cost × markup 4
    expect(new Decimal(mini.usdAtPrice).eq(new Decimal(mini.usdAtCost).times(4))).toBe(true);
    expect(
      res.body.data
        .reduce((a: Decimal, r: { share: string }) => a.plus(r.share), new Decimal(0))
        .toDecimalPlaces(4)
        .toNumber(),
    ).toBe(1);
  });

  it('groups by user and by day', async () => {
    const byUser = await get('groupBy=user');
    expect(byUser.body.data.map((r: { group: string }) => r.group).sort()).toEqual(['ur-a', 'ur-b']);
    const byDay = await get('groupBy=day');
    expect(byDay.body.data).toHaveLength(1);
    expect(byDay.body.data[0].group).toBe(new Date().toISOString().slice(0, 10));
  });

  it('answers formula-safe CSV with Accept: text/csv', async () => {
    const res = await get('groupBy=model', 'text/csv');
    const [header, first] = res.text.split('\r\n');
    expect(header).toBe('group,requests,inputTokens,cachedInputTokens,outputTokens,credits,usdAtCost,usdAtPrice,share');
    expect(first.split(',')[0]).toMatch(/^(gpt|o1)/);
  });

  it('refuses an unknown groupBy with 400', async () => {
    const res = await get('groupBy=planet');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('groupBy');
  });
});
