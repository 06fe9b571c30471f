import { createTestApp, type TestApp } from '../helpers/test-app';
import { balanceOf, grant, reconcile } from '../helpers/wallets';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const call = (userId: string, requestId: string, extra: Record<string, unknown> = {}) => ({
  userId,
  requestId,
  model: 'gpt-4o',
  inputTokens: 1000,
  outputTokens: 500,
  ...extra,
});

describe('POST /v1/usage/reconcile', () => {
  it('charges the contract reference call (gpt-4o, 1,000 in + 500 out) exactly 50 credits', async () => {
    await grant(t, 'ref-user', '5000');
    const res = await reconcile(t, call('ref-user', 'req-1'), { 'X-Correlation-Id': 'corr-ref-1' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      requestId: 'req-1',
      userId: 'ref-user',
      model: 'gpt-4o',
      credits: '50',
      balance: '4950',
      correlationId: 'corr-ref-1',
    });
    expect(res.body.usageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.transactionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-correlation-id']).toBe('corr-ref-1');
    expect((await balanceOf(t, 'ref-user')).balance).toBe('4950');
  });

  it('when the same request arrives twice, it charges once and replays the first body', async () => {
    await grant(t, 'replay-user', '1000');
    const first = await reconcile(t, call('replay-user', 'req-r'));
    const second = await reconcile(t, call('replay-user', 'req-r'));
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body).toEqual(first.body);
    expect((await balanceOf(t, 'replay-user')).balance).toBe('950');
  });

  it('refuses a reused requestId with a different payload with 422 and charges nothing more', async () => {
    await grant(t, 'mismatch-user', '1000');
    await reconcile(t, call('mismatch-user', 'req-m'));
    const res = await reconcile(t, call('mismatch-user', 'req-m', { outputTokens: 501 }));
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.code).toBe('request_id_reused');
    expect((await balanceOf(t, 'mismatch-user')).balance).toBe('950');
  });

  it('answers 402 with required, available and shortfall when credits run out, recording nothing', async () => {
    await grant(t, 'poor-user', '30');
    const res = await reconcile(t, call('poor-user', 'req-p'));
    expect(res.status).toBe(402);
    expect(res.body).toMatchObject({ status: 402, requiredCredits: '50', availableCredits: '30', shortfall: '20' });
    expect(res.body.correlationId).toBe(res.headers['x-correlation-id']);
    const rows = await t.database.sql(`SELECT count(*)::int AS n FROM usages WHERE user_id = 'poor-user'`);
    expect(rows[0]).toEqual({ n: 0 });
    expect((await balanceOf(t, 'poor-user')).balance).toBe('30');
  });

  it('refuses a user never seen before with 402 and available "0"', async () => {
    const res = await reconcile(t, call('nobody', 'req-n'));
    expect(res.status).toBe(402);
    expect(res.body).toMatchObject({ requiredCredits: '50', availableCredits: '0', shortfall: '50' });
  });

  it('prices exactly to 18 decimals: one gpt-4o-mini input token is 0.0006 credits', async () => {
    await grant(t, 'mini-user', '1');
    const res = await reconcile(t, {
      userId: 'mini-user',
      requestId: 'one-token',
      model: 'gpt-4o-mini',
      inputTokens: 1,
      outputTokens: 0,
    });
    expect(res.status).toBe(201);
    expect(res.body.credits).toBe('0.0006');
    expect(res.body.balance).toBe('0.9994');
  });

  it('prices cached input at the cached rate, and as input where the card has none', async () => {
    await grant(t, 'cache-user', '1000');
    const cached = await reconcile(t, {
      userId: 'cache-user',
      requestId: 'c1',
      model: 'gpt-4o',
      inputTokens: 0,
      outputTokens: 0,
      cachedInputTokens: 1000,
    });
    expect(cached.body.credits).toBe('10'); // 1000 × $2.50/1M × 4 × 1000
    const turbo = await reconcile(t, {
      userId: 'cache-user',
      requestId: 'c2',
      model: 'gpt-4-turbo',
      inputTokens: 0,
      outputTokens: 0,
      cachedInputTokens: 1000,
    });
    expect(turbo.body.credits).toBe('40'); // no cached price: 1000 × $10/1M × 4 × 1000
  });

  it('resolves dated snapshot names to their family card', async () => {
    await grant(t, 'snap-user', '1000');
    const res = await reconcile(t, call('snap-user', 'snap-1', { model: 'gpt-4o-2024-05-13' }));
    expect(res.status).toBe(201);
    expect(res.body.credits).toBe('50');
    expect(res.body.model).toBe('gpt-4o-2024-05-13');
  });

  it('refuses an unknown model with 422 naming the known models', async () => {
    const res = await reconcile(t, call('x', 'u1', { model: 'gpt-9' }));
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('unknown_model');
    expect(res.body.knownModels).toEqual(expect.arrayContaining(['gpt-4o', 'gpt-4o-mini', 'o1']));
    expect(res.body.detail).toContain('gpt-4o-mini');
  });

  it('refuses malformed input with 400 naming each offending field', async () => {
    const res = await reconcile(t, { userId: '', requestId: 'x', model: 'gpt-4o', inputTokens: -1, outputTokens: 1.5 });
    expect(res.status).toBe(400);
    const fields = res.body.errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(['inputTokens', 'outputTokens', 'userId']);
  });

  it('refuses token counts above 10^9 and amounts given as strings', async () => {
    const res = await reconcile(t, call('x', 'big', { inputTokens: 1_000_000_001, outputTokens: '5' }));
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['inputTokens', 'outputTokens']);
  });

  it('requires the usage:write scope', async () => {
    const res = await reconcile({ ...t, gateway: t.token('some-user') }, call('some-user', 'r'));
    expect(res.status).toBe(403);
  });
});
