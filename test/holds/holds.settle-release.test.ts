import { createTestApp, type TestApp } from '../helpers/test-app';
import { balanceOf, grant, reconcile } from '../helpers/wallets';
import {
  backdateExpiry,
  FORTY_CREDITS,
  HUNDRED_CREDITS,
  holdRow,
  metricValue,
  placeHold,
  releaseHold,
} from '../helpers/holds';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const hold = (userId: string, requestId: string, extra: Record<string, unknown> = {}) => ({
  userId,
  requestId,
  ...HUNDRED_CREDITS,
  ...extra,
});

describe('settling a hold through POST /v1/usage/reconcile', () => {
  it('charges the actual tokens, ends the hold and frees the rest of the reservation', async () => {
    await grant(t, 's-basic', '500');
    const h = await placeHold(t, hold('s-basic', 'call-1'));
    const settle = await reconcile(t, { userId: 's-basic', requestId: 'call-1', ...FORTY_CREDITS });
    expect(settle.status).toBe(201);
    expect(settle.body).toMatchObject({ credits: '40', balance: '460' });
    expect(await holdRow(t, h.body.holdId)).toMatchObject({ status: 'settled', usage_id: settle.body.usageId });
    expect(await balanceOf(t, 's-basic')).toMatchObject({ balance: '460', held: '0', available: '460' });
  });

  it('when the settle arrives twice, it charges once and replays', async () => {
    await grant(t, 's-twice', '500');
    await placeHold(t, hold('s-twice', 'call-2'));
    const first = await reconcile(t, { userId: 's-twice', requestId: 'call-2', ...FORTY_CREDITS });
    const second = await reconcile(t, { userId: 's-twice', requestId: 'call-2', ...FORTY_CREDITS });
    expect(second.status).toBe(200);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body).toEqual(first.body);
    expect(await balanceOf(t, 's-twice')).toMatchObject({ balance: '460', held: '0' });
    const usages = await t.database.sql(`SELECT count(*)::int AS n FROM usages WHERE user_id = 's-twice'`);
    expect(usages[0]).toEqual({ n: 1 });
  });

  it('a hold does not protect another requestId: a plain charge cannot spend reserved credits', async () => {
    await grant(t, 's-reserved', '150');
    await placeHold(t, hold('s-reserved', 'reserved'));
    const plain = await reconcile(t, {
      userId: 's-reserved',
      requestId: 'other',
      model: 'gpt-4o',
      inputTokens: 0,
      outputTokens: 1000,
    }); // 60
    expect(plain.status).toBe(402);
    expect(plain.body).toMatchObject({ requiredCredits: '60', availableCredits: '50', shortfall: '10' });
    expect(await balanceOf(t, 's-reserved')).toMatchObject({ balance: '150', held: '100', available: '50' });
  });

  it('charges an overage in full, taking the wallet negative; the next hold and charge are refused (402)', async () => {
    await grant(t, 's-over', '100');
    await placeHold(t, hold('s-over', 'big'));
    const overageBefore = await metricValue(t, 'billing_hold_settle_overage_credits_total');
    const settle = await reconcile(t, {
      userId: 's-over',
      requestId: 'big',
      model: 'gpt-4o',
      inputTokens: 2000,
      outputTokens: 2000,
    }); // 160
    expect(settle.status).toBe(201);
    expect(settle.body).toMatchObject({ credits: '160', balance: '-60' });
    expect(await balanceOf(t, 's-over')).toMatchObject({ balance: '-60', held: '0', available: '-60' });

    const next = await placeHold(t, hold('s-over', 'next', { maxInputTokens: 50, maxOutputTokens: 0 })); // 1 credit
    expect(next.status).toBe(402);
    expect(next.body).toMatchObject({ requiredCredits: '1', availableCredits: '-60', shortfall: '61' });
    const plain = await reconcile(t, {
      userId: 's-over',
      requestId: 'plain',
      model: 'gpt-4o',
      inputTokens: 50,
      outputTokens: 0,
    });
    expect(plain.status).toBe(402);

    expect((await metricValue(t, 'billing_hold_settle_overage_credits_total')) - overageBefore).toBe(60);

    await grant(t, 's-over', '61'); // topped up
    expect((await placeHold(t, hold('s-over', 'next2', { maxInputTokens: 50, maxOutputTokens: 0 }))).status).toBe(201);
  });

  it('settles an expired hold: the call happened, so it is charged in full', async () => {
    await grant(t, 's-expired', '100');
    const h = await placeHold(t, hold('s-expired', 'late'));
    await backdateExpiry(t, h.body.holdId);
    expect(await balanceOf(t, 's-expired')).toMatchObject({ held: '0', available: '100' });
    const settle = await reconcile(t, {
      userId: 's-expired',
      requestId: 'late',
      model: 'gpt-4o',
      inputTokens: 2000,
      outputTokens: 1500,
    }); // 130
    expect(settle.status).toBe(201);
    expect(settle.body).toMatchObject({ credits: '130', balance: '-30' });
    expect(await holdRow(t, h.body.holdId)).toMatchObject({ status: 'settled' });
  });
});

describe('POST /v1/usage/holds/{holdId}/release', () => {
  it('ends the hold with no charge and gives the credits back', async () => {
    await grant(t, 'r-basic', '200');
    const h = await placeHold(t, hold('r-basic', 'failed-call'));
    const res = await releaseHold(t, h.body.holdId);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      holdId: h.body.holdId,
      requestId: 'failed-call',
      userId: 'r-basic',
      status: 'released',
      heldCredits: '100',
      balance: '200',
      availableCredits: '200',
    });
    expect(res.body.endedAt).toEqual(expect.any(String));
    expect(await balanceOf(t, 'r-basic')).toMatchObject({ balance: '200', held: '0', available: '200' });
  });

  it('releasing twice answers 200 with the same state and changes nothing', async () => {
    await grant(t, 'r-twice', '200');
    const h = await placeHold(t, hold('r-twice', 'x'));
    const releasedBefore = await metricValue(t, 'billing_holds_total', { outcome: 'released' });
    const first = await releaseHold(t, h.body.holdId);
    const second = await releaseHold(t, h.body.holdId);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(await metricValue(t, 'billing_holds_total', { outcome: 'released' })).toBe(releasedBefore + 1);
  });

  it('releasing after a settle changes nothing: the hold stays settled and the charge stands', async () => {
    await grant(t, 'r-settled', '200');
    const h = await placeHold(t, hold('r-settled', 'done'));
    const settledBefore = await metricValue(t, 'billing_holds_total', { outcome: 'settled' });
    await reconcile(t, { userId: 'r-settled', requestId: 'done', ...FORTY_CREDITS });
    expect(await metricValue(t, 'billing_holds_total', { outcome: 'settled' })).toBe(settledBefore + 1);
    const before = await holdRow(t, h.body.holdId);
    const res = await releaseHold(t, h.body.holdId);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'settled', balance: '160', availableCredits: '160' });
    expect(await holdRow(t, h.body.holdId)).toEqual(before);
    expect(await balanceOf(t, 'r-settled')).toMatchObject({ balance: '160', held: '0' });
  });

  it('a settle after a release is a plain charge, refused when the credits are gone', async () => {
    await grant(t, 'r-then-settle', '100');
    const h = await placeHold(t, hold('r-then-settle', 'q'));
    await releaseHold(t, h.body.holdId);
    await placeHold(t, hold('r-then-settle', 'other')); // takes the 100 back
    const settle = await reconcile(t, { userId: 'r-then-settle', requestId: 'q', ...FORTY_CREDITS });
    expect(settle.status).toBe(402);
    expect(await holdRow(t, h.body.holdId)).toMatchObject({ status: 'released' });
  });

  it('answers 404 for an unknown or malformed holdId', async () => {
    expect((await releaseHold(t, '00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const malformed = await releaseHold(t, 'not-a-uuid');
    expect(malformed.status).toBe(404);
    expect(malformed.body.code).toBe('not_found');
  });
});
