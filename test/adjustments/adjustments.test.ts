import request from 'supertest';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { balanceOf } from '../helpers/wallets';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const adjust = (body: Record<string, unknown>, key?: string, token = t.admin) => {
  const req = request(t.app).post('/v1/admin/credits/adjustments').set('Authorization', `Bearer ${token}`);
  if (key) req.set('Idempotency-Key', key);
  return req.send(body);
};

describe('POST /v1/admin/credits/adjustments', () => {
  it('grants credits as an adjustment recording the admin and the reason', async () => {
    const res = await adjust({ userId: 'adj-1', amount: '250.5', reason: 'promo' }, 'k-1');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ userId: 'adj-1', amount: '250.5', balance: '250.5', reason: 'promo' });
    const [tx] = await t.database.sql(`SELECT type, actor, reference FROM ledger_transactions WHERE id = $1`, [
      res.body.transactionId,
    ]);
    expect(tx).toEqual({ type: 'adjustment', actor: 'finance-admin', reference: 'promo' });
  });

  it('when the same key arrives twice, it posts once and replays the first response', async () => {
    const first = await adjust({ userId: 'adj-2', amount: '100', reason: 'x' }, 'k-2');
    const again = await adjust({ userId: 'adj-2', amount: '100', reason: 'x' }, 'k-2');
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    expect((await balanceOf(t, 'adj-2')).balance).toBe('100');
  });

  it('when concurrent requests share a key, exactly one posts', async () => {
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => adjust({ userId: 'adj-c', amount: '7', reason: 'x' }, 'k-c')),
    );
    expect(responses.every((r) => [201, 409].includes(r.status))).toBe(true);
    expect((await balanceOf(t, 'adj-c')).balance).toBe('7');
  });

  it('refuses the same key with another payload with 422', async () => {
    await adjust({ userId: 'adj-3', amount: '1', reason: 'x' }, 'k-3');
    const res = await adjust({ userId: 'adj-3', amount: '2', reason: 'x' }, 'k-3');
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('idempotency_key_reused');
  });

  it('requires an Idempotency-Key', async () => {
    const res = await adjust({ userId: 'adj-4', amount: '1', reason: 'x' });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe('Idempotency-Key');
  });

  it('refuses a take-back below zero with 402 unless allowNegative', async () => {
    await adjust({ userId: 'adj-5', amount: '10', reason: 'grant' }, 'k-5a');
    const refused = await adjust({ userId: 'adj-5', amount: '-15', reason: 'correction' }, 'k-5b');
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ requiredCredits: '15', availableCredits: '10', shortfall: '5' });
    const allowed = await adjust({ userId: 'adj-5', amount: '-15', reason: 'correction', allowNegative: true }, 'k-5c');
    expect(allowed.status).toBe(201);
    expect(allowed.body.balance).toBe('-5');
  });

  it.each([
    [{ userId: 'u', amount: 5, reason: 'x' }, 'amount'],
    [{ userId: 'u', amount: '1e3', reason: 'x' }, 'amount'],
    [{ userId: 'u', amount: '0.0000000000000000001', reason: 'x' }, 'amount'],
    [{ userId: 'u', amount: '0', reason: 'x' }, 'amount'],
    [{ userId: 'u', amount: '1', reason: '' }, 'reason'],
    [{ amount: '1', reason: 'x' }, 'userId'],
  ])('refuses %j with 400 naming %s and changes nothing', async (body, field) => {
    const res = await adjust(body, `bad-${field}-${JSON.stringify(body).length}`);
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('is for billing:admin only', async () => {
    expect((await adjust({ userId: 'u', amount: '1', reason: 'x' }, 'k-6', t.token('u'))).status).toBe(403);
    expect((await adjust({ userId: 'u', amount: '1', reason: 'x' }, 'k-7', t.gateway)).status).toBe(403);
  });
});
