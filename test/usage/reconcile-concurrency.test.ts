import type { Server } from 'node:http';
import request from 'supertest';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { balanceOf, grant } from '../helpers/wallets';

let t: TestApp;
let server: Server;
beforeAll(async () => {
  t = await createTestApp();
  server = t.app.listen(0, '127.0.0.1');
});
afterAll(async () => {
  server.close();
  await t.close();
});

const charge = (userId: string, requestId: string) =>
  request(server)
    .post('/v1/usage/reconcile')
    .set('Authorization', `Bearer ${t.gateway}`)
    .send({ userId, requestId, model: 'gpt-4o', inputTokens: 1000, outputTokens: 500 });

describe('reconcile under concurrency', () => {
  it('when 40 copies of one request arrive at once, it charges once and every copy answers that charge', async () => {
    await grant(t, 'dup-user', '5000');
    const responses = await Promise.all(Array.from({ length: 40 }, () => charge('dup-user', 'same-call')));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(39);
    expect(new Set(responses.map((r) => r.body.usageId)).size).toBe(1);
    expect((await balanceOf(t, 'dup-user')).balance).toBe('4950');
    const [row] = await t.database.sql<{ usages: number; txs: number }>(
      `SELECT (SELECT count(*)::int FROM usages WHERE user_id = 'dup-user') AS usages,
              (SELECT count(*)::int FROM ledger_transactions WHERE type = 'usage' AND reference = 'same-call') AS txs`,
    );
    expect(row).toEqual({ usages: 1, txs: 1 });
  });

  it('when 150 different 50-credit charges race on 5,000 credits, exactly 100 pass; the balance ends 0', async () => {
    await grant(t, 'race-user', '5000');
    const responses = await Promise.all(Array.from({ length: 150 }, (_, i) => charge('race-user', `race-${i}`)));
    const byStatus = (s: number) => responses.filter((r) => r.status === s).length;
    expect(byStatus(201)).toBe(100);
    expect(byStatus(402)).toBe(50);
    expect((await balanceOf(t, 'race-user')).balance).toBe('0');
    const [neg] = await t.database.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM postings WHERE balance_after < 0`,
    );
    expect(neg.n).toBe(0);
  });
});
