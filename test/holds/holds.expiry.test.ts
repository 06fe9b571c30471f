import { createTestApp, type TestApp } from '../helpers/test-app';
import { balanceOf, grant, reconcile } from '../helpers/wallets';
import { backdateExpiry, HUNDRED_CREDITS, holdRow, metricValue, placeHold, sleep } from '../helpers/holds';
import { HoldsRepository } from '../../src/modules/holds/holds.repository';
import { HoldsSweeper } from '../../src/modules/holds/holds.sweeper';

let t: TestApp;
let sweeper: HoldsSweeper;
beforeAll(async () => {
  t = await createTestApp();
  sweeper = new HoldsSweeper(new HoldsRepository(t.database.db), t.metrics);
});
afterAll(() => t.close());

const walletState = (userId: string) =>
  t.database.sql(
    `SELECT a.balance::text, (SELECT count(*)::int FROM postings p WHERE p.account_id = a.id) AS postings
     FROM accounts a WHERE a.user_id = $1`,
    [userId],
  );

describe('hold expiry', () => {
  it('a hold that expires stops counting with no job run', async () => {
    await grant(t, 'e-ttl', '150');
    const h = await placeHold(t, { userId: 'e-ttl', requestId: 'short', ...HUNDRED_CREDITS, ttlSeconds: 1 });
    expect(h.status).toBe(201);
    expect(await balanceOf(t, 'e-ttl')).toMatchObject({ held: '100', available: '50' });
    expect((await placeHold(t, { userId: 'e-ttl', requestId: 'second', ...HUNDRED_CREDITS })).status).toBe(402);

    await sleep(1200);
    expect(await balanceOf(t, 'e-ttl')).toMatchObject({ balance: '150', held: '0', available: '150' });
    expect(await holdRow(t, h.body.holdId)).toMatchObject({ status: 'active', ended_at: null }); // nothing ran
    expect((await placeHold(t, { userId: 'e-ttl', requestId: 'third', ...HUNDRED_CREDITS })).status).toBe(201);
  });

  it('a settle after expiry still charges the actual tokens', async () => {
    await grant(t, 'e-settle', '100');
    const h = await placeHold(t, { userId: 'e-settle', requestId: 'slow-stream', ...HUNDRED_CREDITS });
    await backdateExpiry(t, h.body.holdId);
    const settle = await reconcile(t, {
      userId: 'e-settle',
      requestId: 'slow-stream',
      model: 'gpt-4o',
      inputTokens: 1000,
      outputTokens: 500,
    });
    expect(settle.status).toBe(201);
    expect(settle.body).toMatchObject({ credits: '50', balance: '50' });
    expect(await holdRow(t, h.body.holdId)).toMatchObject({ status: 'settled' });
  });
});

describe('the holds sweep (reporting only)', () => {
  it('notes each expired hold once, refreshes the gauges, and changes no balance or availability', async () => {
    await grant(t, 's-user', '1000');
    const live = await placeHold(t, { userId: 's-user', requestId: 'live', ...HUNDRED_CREDITS });
    const stranded = await placeHold(t, { userId: 's-user', requestId: 'stranded', ...HUNDRED_CREDITS });
    await backdateExpiry(t, stranded.body.holdId);
    const walletBefore = await walletState('s-user');
    const balanceBefore = await balanceOf(t, 's-user');
    const expiredBefore = await metricValue(t, 'billing_holds_total', { outcome: 'expired' });

    const first = await sweeper.runOnce();
    const second = await sweeper.runOnce();

    expect(Number(first.newlyExpired)).toBeGreaterThanOrEqual(1);
    expect(second.newlyExpired).toBe('0'); // once per hold, however often (or on however many replicas) it runs
    expect(await metricValue(t, 'billing_holds_total', { outcome: 'expired' })).toBe(
      expiredBefore + Number(first.newlyExpired),
    );
    const noted = await t.database.sql(
      `SELECT id, expiry_noted_at IS NOT NULL AS noted, status FROM holds WHERE id IN ($1, $2) ORDER BY id = $1`,
      [live.body.holdId, stranded.body.holdId],
    );
    expect(noted).toEqual([
      { id: stranded.body.holdId, noted: true, status: 'active' },
      { id: live.body.holdId, noted: false, status: 'active' },
    ]);
    expect(await walletState('s-user')).toEqual(walletBefore);
    expect(await balanceOf(t, 's-user')).toEqual(balanceBefore);

    const [active, held, leaked] = await t.database
      .sql<{ active: number; held: string; leaked: number }>(
        `SELECT count(*) FILTER (WHERE expires_at > now())::int AS active,
              COALESCE(sum(amount) FILTER (WHERE expires_at > now()), 0)::float8::text AS held,
              count(*) FILTER (WHERE expires_at <= now() AND expires_at > now() - interval '15 minutes')::int AS leaked
       FROM holds WHERE status = 'active'`,
      )
      .then((rows) => [rows[0].active, rows[0].held, rows[0].leaked]);
    expect(await metricValue(t, 'billing_holds_active')).toBe(active);
    expect(await metricValue(t, 'billing_holds_held_credits')).toBe(Number(held));
    expect(await metricValue(t, 'billing_holds_expired_unsettled')).toBe(leaked);
    expect(leaked).toBeGreaterThanOrEqual(1);
  });

  it('a late settle takes a stranded hold off the expired-unsettled gauge', async () => {
    await grant(t, 's-late', '500');
    const h = await placeHold(t, { userId: 's-late', requestId: 'late', ...HUNDRED_CREDITS });
    await backdateExpiry(t, h.body.holdId);
    const before = Number((await sweeper.runOnce()).expiredUnsettled);
    await reconcile(t, { userId: 's-late', requestId: 'late', model: 'gpt-4o', inputTokens: 100, outputTokens: 0 });
    expect(Number((await sweeper.runOnce()).expiredUnsettled)).toBe(before - 1);
  });

  it('the expired-unsettled gauge is the current state: an old leak stops counting, a recent one counts', async () => {
    await grant(t, 's-old', '500');
    const old = await placeHold(t, { userId: 's-old', requestId: 'long-ago', ...HUNDRED_CREDITS });
    const recent = await placeHold(t, { userId: 's-old', requestId: 'just-now', ...HUNDRED_CREDITS });
    await backdateExpiry(t, recent.body.holdId);
    const before = Number((await sweeper.runOnce()).expiredUnsettled);
    await t.database.sql(`UPDATE holds SET expires_at = now() - interval '2 hours' WHERE id = $1`, [old.body.holdId]);
    const after = Number((await sweeper.runOnce()).expiredUnsettled);
    // the two-hour-old leak was counted already when it was recent; now only the recent one is
    expect(after).toBe(before);
    await t.database.sql(`UPDATE holds SET expires_at = now() - interval '2 hours' WHERE id = $1`, [
      recent.body.holdId,
    ]);
    expect(Number((await sweeper.runOnce()).expiredUnsettled)).toBe(before - 1);
    expect(await metricValue(t, 'billing_holds_expired_unsettled')).toBe(before - 1);
  });

  it('a charge settling holds on two wallets in turn: a concurrent sweep waits instead of deadlocking', async () => {
    // b's wallet and hold first, so a sweep going through holds by wallet or by insertion locks b's before a's
    for (const u of ['dl-b', 'dl-a']) await grant(t, u, '500');
    const hb = await placeHold(t, { userId: 'dl-b', requestId: 'dl', ...HUNDRED_CREDITS });
    const ha = await placeHold(t, { userId: 'dl-a', requestId: 'dl', ...HUNDRED_CREDITS });
    for (const h of [ha, hb]) await backdateExpiry(t, h.body.holdId);

    const charge = await t.database.db.pool.connect();
    try {
      // As billing_charge_usage_batch does: both wallets in user_id order, then each hold in turn.
      await charge.query(`BEGIN`);
      await charge.query(`SET LOCAL lock_timeout = '20s'`);
      await charge.query(`SELECT 1 FROM accounts WHERE user_id IN ('dl-a', 'dl-b') ORDER BY user_id FOR UPDATE`);
      await charge.query(`UPDATE holds SET status = status WHERE id = $1`, [ha.body.holdId]);
      const sweep = sweeper.runOnce();
      const sweepOutcome = sweep.then(
        () => 'swept',
        (e: Error) => e.message,
      );
      const [{ pid }] = (await charge.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid`)).rows;
      await waitUntilAnotherWaits(t, pid);
      await charge.query(`UPDATE holds SET status = status WHERE id = $1`, [hb.body.holdId]);
      await charge.query(`COMMIT`);
      expect(await sweepOutcome).toBe('swept');
    } finally {
      await charge.query('ROLLBACK').catch(() => undefined);
      charge.release();
    }
    const noted = await t.database.sql<{ noted: boolean }>(
      `SELECT expiry_noted_at IS NOT NULL AS noted FROM holds WHERE id IN ($1, $2)`,
      [ha.body.holdId, hb.body.holdId],
    );
    expect(noted).toEqual([{ noted: true }, { noted: true }]);
  });
});

/**
 * Until a backend other than `pid` waits for a lock in this database (the sweep has reached a lock the charge holds).
 */
async function waitUntilAnotherWaits(app: TestApp, pid: number) {
  for (let i = 0; i < 200; i++) {
    const rows = await app.database.sql(
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1`,
      [pid],
    );
    if (rows.length > 0) return;
    await sleep(25);
  }
  throw new Error('the sweep never waited for a lock');
}
