import { seedWallets } from '../../bench/lib/bench-db';
import { runFloor } from '../../bench/lib/pgbench-floor';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

/** The floor every service figure is divided by: its counts must be those of the charges it made. */
describe('the pgbench floor', () => {
  let t: TestDatabase;
  let ids: { card: string; revenue: string };

  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 2 });
    await seedWallets(t.db.pool, 20, '1000000');
    [ids] = await t.sql<{ card: string; revenue: string }>(
      `SELECT (SELECT id FROM rate_cards WHERE model = 'gpt-4o-mini' ORDER BY effective_from DESC
       LIMIT 1)::text AS card,
              (SELECT id FROM accounts WHERE code = 'usage_revenue')::text AS revenue`,
    );
  });
  afterAll(() => t.drop());

  const floor = (rate?: number) =>
    runFloor({
      databaseUrl: t.url,
      clients: 2,
      seconds: 1,
      wallets: 20,
      rateCardId: ids.card,
      revenueAccountId: ids.revenue,
      rate,
    });

  it('when it runs closed-loop, every logged transaction is a charge and none is counted as an error', async () => {
    const before = (await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM usages`))[0].n;
    const f = await floor();
    const after = (await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM usages`))[0].n;
    expect(f.errors).toBe(0);
    expect(f.transactions).toBeGreaterThan(0);
    expect(after - before).toBe(f.transactions);
    expect(f.p99WithLag).toBeUndefined();
  });

  it('when paced, it gives the p99 with and without the schedule lag, the first never below the second', async () => {
    const f = await floor(50);
    expect(f.errors).toBe(0);
    expect(f.transactions).toBeGreaterThan(20);
    expect(f.p99WithLag).toBeGreaterThanOrEqual(f.p99);
  });
});
