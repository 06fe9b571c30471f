import { createTestApp, type TestApp } from '../helpers/test-app';
import { balanceOf, grant, reconcile } from '../helpers/wallets';
import { FORTY_CREDITS, HUNDRED_CREDITS, placeHold, releaseHold } from '../helpers/holds';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

describe('holds under concurrency', () => {
  it('100 concurrent holds of 100 on 5,000 credits: 50 succeed; settling each at 40 frees the rest', async () => {
    await grant(t, 'c-wallet', '5000');
    const attempts = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        placeHold(t, { userId: 'c-wallet', requestId: `stream-${i}`, ...HUNDRED_CREDITS }),
      ),
    );
    const held = attempts.filter((r) => r.status === 201);
    const refused = attempts.filter((r) => r.status === 402);
    expect(held).toHaveLength(50);
    expect(refused).toHaveLength(50);
    for (const r of refused)
      expect(r.body).toMatchObject({ requiredCredits: '100', availableCredits: '0', shortfall: '100' });
    // Each successful hold saw a distinct availability: they were serialised, none reserved twice.
    const availabilities = held.map((r) => Number(r.body.availableCredits)).sort((a, b) => a - b);
    expect(availabilities).toEqual(Array.from({ length: 50 }, (_, i) => i * 100));
    expect(await balanceOf(t, 'c-wallet')).toMatchObject({ balance: '5000', held: '5000', available: '0' });

    const settles = await Promise.all(
      held.map((r) => reconcile(t, { userId: 'c-wallet', requestId: r.body.requestId, ...FORTY_CREDITS })),
    );
    expect(settles.every((s) => s.status === 201 && s.body.credits === '40')).toBe(true);
    // 5,000 − 50 × 40
    expect(await balanceOf(t, 'c-wallet')).toMatchObject({ balance: '3000', held: '0', available: '3000' });
  });

  it('a concurrent plain charge cannot spend credits that a hold reserves', async () => {
    await grant(t, 'c-mixed', '1000');
    // 10 holds and 10 plain charges of 100 credits each race for 1,000 credits.
    const calls = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0
          ? placeHold(t, { userId: 'c-mixed', requestId: `h-${i}`, ...HUNDRED_CREDITS })
          : reconcile(t, {
              userId: 'c-mixed',
              requestId: `u-${i}`,
              model: 'gpt-4o',
              inputTokens: 2000,
              outputTokens: 1000,
            }),
      ),
    );
    const ok = calls.filter((r) => r.status === 201);
    expect(ok).toHaveLength(10);
    expect(calls.filter((r) => r.status === 402)).toHaveLength(10);
    const holds = ok.filter((r) => r.body.holdId).length;
    const charges = ok.length - holds;
    const after = await balanceOf(t, 'c-mixed');
    expect(after).toMatchObject({ balance: String(1000 - 100 * charges), held: String(100 * holds), available: '0' });
    const negative = await t.database.sql(
      `SELECT count(*)::int AS n FROM usages WHERE user_id = 'c-mixed' AND balance_after < 0`,
    );
    expect(negative[0]).toEqual({ n: 0 });
  });

  it('the same hold sent 20 times at once reserves once; one is 201, the rest replay it', async () => {
    await grant(t, 'c-dup', '1000');
    const calls = await Promise.all(
      Array.from({ length: 20 }, () => placeHold(t, { userId: 'c-dup', requestId: 'same', ...HUNDRED_CREDITS })),
    );
    expect(calls.filter((r) => r.status === 201)).toHaveLength(1);
    expect(calls.filter((r) => r.status === 200)).toHaveLength(19);
    expect(new Set(calls.map((r) => r.body.holdId)).size).toBe(1);
    expect(await balanceOf(t, 'c-dup')).toMatchObject({ held: '100', available: '900' });
  });

  it('a settle racing a release of the same hold: the charge and the hold end agree, whichever wins', async () => {
    await grant(t, 'c-race', '2000');
    const holds = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        placeHold(t, { userId: 'c-race', requestId: `race-${i}`, ...HUNDRED_CREDITS }),
      ),
    );
    await Promise.all(
      holds.flatMap((h) => [
        releaseHold(t, h.body.holdId),
        reconcile(t, { userId: 'c-race', requestId: h.body.requestId, ...FORTY_CREDITS }),
      ]),
    );
    const rows = await t.database.sql<{ status: string; charged: boolean }>(
      `SELECT h.status, COALESCE(u.hold_id = h.id, false) AS charged FROM holds h
       LEFT JOIN usages u ON u.user_id = h.user_id AND u.request_id = h.request_id WHERE h.user_id = 'c-race'`,
    );
    expect(rows).toHaveLength(10);
    // settled ⇔ the usage points at the hold; a released hold's later charge was a plain one.
    for (const r of rows) expect(r.charged).toBe(r.status === 'settled');
    const usages = await t.database.sql(`SELECT count(*)::int AS n FROM usages WHERE user_id = 'c-race'`);
    expect(usages[0]).toEqual({ n: 10 }); // enough credits: every call is charged exactly once
    expect(await balanceOf(t, 'c-race')).toMatchObject({ balance: '1600', held: '0', available: '1600' });
  });
});
