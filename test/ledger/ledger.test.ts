import request from 'supertest';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { grant, reconcile } from '../helpers/wallets';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  await grant(t, 'led-user', '1000');
  for (let i = 0; i < 5; i++) {
    await reconcile(
      t,
      { userId: 'led-user', requestId: `led-${i}`, model: 'gpt-4o', inputTokens: 1000, outputTokens: 500 },
      { 'X-Correlation-Id': `corr-led-${i}` },
    );
  }
  await grant(t, 'other-user', '10');
});
afterAll(() => t.close());

const get = (path: string, token: string) => request(t.app).get(path).set('Authorization', `Bearer ${token}`);

describe('GET /v1/ledger', () => {
  it('lists the caller entries newest first with balanceAfter, following the cursor to the end', async () => {
    const user = t.token('led-user');
    const first = await get('/v1/ledger?limit=4', user);
    expect(first.status).toBe(200);
    expect(first.body.data.map((e: { balanceAfter: string }) => e.balanceAfter)).toEqual(['750', '800', '850', '900']);
    expect(first.body.data[0]).toMatchObject({
      type: 'usage',
      amount: '-50',
      correlationId: 'corr-led-4',
      reference: 'led-4',
    });
    const second = await get(`/v1/ledger?limit=4&cursor=${first.body.nextCursor}`, user);
    expect(second.body.data.map((e: { type: string; amount: string }) => [e.type, e.amount])).toEqual([
      ['usage', '-50'],
      ['adjustment', '1000'],
    ]);
    expect(second.body.nextCursor).toBeNull();
  });

  it('never shows another user entries, and refuses ?userId= of another without billing:admin', async () => {
    const other = await get('/v1/ledger', t.token('other-user'));
    expect(other.body.data).toHaveLength(1);
    expect((await get('/v1/ledger?userId=led-user', t.token('other-user'))).status).toBe(403);
    expect((await get('/v1/ledger?userId=led-user&limit=1', t.admin)).body.data[0].reference).toBe('led-4');
  });

  it('refuses a forged cursor and a bad limit with 400 naming the field', async () => {
    const bad = await get('/v1/ledger?cursor=!!', t.token('led-user'));
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('cursor');
    expect((await get('/v1/ledger?limit=0', t.token('led-user'))).body.errors[0].field).toBe('limit');
  });
});

describe('GET /v1/ledger/export.csv', () => {
  it('streams RFC 4180 CSV with the contract columns, correlation ids, and an attachment disposition', async () => {
    const res = await get('/v1/ledger/export.csv', t.token('led-user'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename=".+\.csv"$/);
    const lines = res.text.trim().split('\n');
    expect(lines[0]).toBe('created_at,transaction_id,user_id,type,amount,balance_after,correlation_id,reference');
    expect(lines).toHaveLength(7);
    const usage = lines.find((l) => l.includes('corr-led-0'))!.split(',');
    expect(usage.slice(2)).toEqual(['led-user', 'usage', '-50', '950', 'corr-led-0', 'led-0']);
    expect(usage[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('neutralises cells a spreadsheet would run as formulas, quotes commas and quotes, keeps numbers', async () => {
    const grantRes = await request(t.app)
      .post('/v1/admin/credits/adjustments')
      .set('Authorization', `Bearer ${t.admin}`)
      .set('Idempotency-Key', 'formula-2')
      .set('X-Correlation-Id', '-corr')
      .send({ userId: '@evil', amount: '12.5', reason: '=HYPERLINK("http://x","a, b")' });
    expect(grantRes.status).toBe(201);
    const res = await get('/v1/ledger/export.csv?userId=@evil', t.admin);
    const row = res.text.trim().split('\n')[1];
    expect(row).toContain(`,'@evil,adjustment,12.5,12.5,'-corr,"'=HYPERLINK(""http://x"",""a, b"")"`);
  });

  it('exports every wallet for billing:admin without userId, and only the caller wallet otherwise', async () => {
    const all = await get('/v1/ledger/export.csv', t.admin);
    const users = new Set(
      all.text
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(',')[2]),
    );
    expect(users).toEqual(new Set(['led-user', 'other-user', "'@evil"]));
    expect((await get('/v1/ledger/export.csv?userId=led-user', t.token('other-user'))).status).toBe(403);
  });

  it('filters by period with from and to', async () => {
    const later = new Date(Date.now() + 60_000).toISOString();
    const res = await get(`/v1/ledger/export.csv?from=${encodeURIComponent(later)}`, t.token('led-user'));
    expect(res.text.trim().split('\n')).toHaveLength(1);
    expect((await get('/v1/ledger/export.csv?from=yesterday', t.token('led-user'))).status).toBe(400);
  });
});
