import { createTestApp, type TestApp } from '../helpers/test-app';
import { balanceOf, grant, reconcile } from '../helpers/wallets';
import { FORTY_CREDITS, HUNDRED_CREDITS, metricValue, placeHold, releaseHold } from '../helpers/holds';

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

describe('POST /v1/usage/holds', () => {
  it('reserves the maximum tokens priced from the card and returns the hold', async () => {
    await grant(t, 'h-basic', '500');
    const res = await placeHold(t, hold('h-basic', 'stream-1'), { 'X-Correlation-Id': 'corr-hold-1' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      requestId: 'stream-1',
      userId: 'h-basic',
      heldCredits: '100',
      availableCredits: '400',
    });
    expect(res.body.holdId).toMatch(/^[0-9a-f-]{36}$/);
    const ttl = Date.parse(res.body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(500_000); // default 600 s
    expect(ttl).toBeLessThanOrEqual(600_000);
    const rows = await t.database.sql(`SELECT correlation_id, status FROM holds WHERE id = $1`, [res.body.holdId]);
    expect(rows[0]).toEqual({ correlation_id: 'corr-hold-1', status: 'active' });
  });

  it('moves no money: GET /v1/balance shows the hold as held, balance unchanged, and no posting exists', async () => {
    await grant(t, 'h-bal', '300');
    await placeHold(t, hold('h-bal', 'b-1'));
    await placeHold(t, hold('h-bal', 'b-2', { maxInputTokens: 0, maxOutputTokens: 500 })); // 30 credits
    expect(await balanceOf(t, 'h-bal')).toMatchObject({ balance: '300', held: '130', available: '170' });
    const postings = await t.database.sql(
      `SELECT count(*)::int AS n FROM postings p JOIN accounts a ON a.id = p.account_id WHERE a.user_id = 'h-bal'`,
    );
    expect(postings[0]).toEqual({ n: 1 }); // the grant only
  });

  it('honours ttlSeconds', async () => {
    await grant(t, 'h-ttl', '500');
    const res = await placeHold(t, hold('h-ttl', 'ttl-1', { ttlSeconds: 3600 }));
    expect(Date.parse(res.body.expiresAt) - Date.now()).toBeGreaterThan(3_500_000);
  });

  it('refuses a hold larger than the available credits with the 402 problem, reserving nothing', async () => {
    await grant(t, 'h-poor', '130');
    const refusedBefore = await metricValue(t, 'billing_insufficient_funds_total', { operation: 'hold' });
    expect((await placeHold(t, hold('h-poor', 'p-1'))).status).toBe(201);
    const res = await placeHold(t, hold('h-poor', 'p-2'));
    expect(res.status).toBe(402);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({
      status: 402,
      code: 'insufficient_credits',
      requiredCredits: '100',
      availableCredits: '30',
      shortfall: '70',
    });
    expect(res.body.correlationId).toBe(res.headers['x-correlation-id']);
    const rows = await t.database.sql(`SELECT count(*)::int AS n FROM holds WHERE user_id = 'h-poor'`);
    expect(rows[0]).toEqual({ n: 1 });
    expect(await metricValue(t, 'billing_insufficient_funds_total', { operation: 'hold' })).toBe(refusedBefore + 1);
  });

  it('refuses a user never seen before with 402 and available "0"', async () => {
    const res = await placeHold(t, hold('h-nobody', 'n-1'));
    expect(res.status).toBe(402);
    expect(res.body).toMatchObject({ requiredCredits: '100', availableCredits: '0', shortfall: '100' });
  });

  it('when the same hold arrives twice, it reserves once and replays the first body, Idempotent-Replayed', async () => {
    await grant(t, 'h-replay', '500');
    const first = await placeHold(t, hold('h-replay', 'r-1'));
    const second = await placeHold(t, hold('h-replay', 'r-1'));
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(second.body).toEqual(first.body);
    expect(await balanceOf(t, 'h-replay')).toMatchObject({ held: '100', available: '400' });
  });

  it('treats an omitted ttlSeconds and the default 600 as the same payload', async () => {
    await grant(t, 'h-default', '500');
    const first = await placeHold(t, hold('h-default', 'd-1'));
    const second = await placeHold(t, hold('h-default', 'd-1', { ttlSeconds: 600 }));
    expect(second.status).toBe(200);
    expect(second.body.holdId).toBe(first.body.holdId);
  });

  it('refuses a reused requestId with a different payload with 422 and reserves nothing more', async () => {
    await grant(t, 'h-mismatch', '500');
    await placeHold(t, hold('h-mismatch', 'm-1'));
    const res = await placeHold(t, hold('h-mismatch', 'm-1', { maxOutputTokens: 1001 }));
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('request_id_reused');
    expect(await balanceOf(t, 'h-mismatch')).toMatchObject({ held: '100', available: '400' });
  });

  it('refuses a hold for a requestId already charged as a plain usage with 409 request_already_charged', async () => {
    await grant(t, 'h-charged', '500');
    expect((await reconcile(t, { userId: 'h-charged', requestId: 'c-1', ...FORTY_CREDITS })).status).toBe(201);
    const res = await placeHold(t, hold('h-charged', 'c-1'));
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('request_already_charged');
    expect(await balanceOf(t, 'h-charged')).toMatchObject({ balance: '460', held: '0', available: '460' });
  });

  it('refuses an unknown model with 422 naming the known models, and resolves dated snapshots', async () => {
    const unknown = await placeHold(t, hold('h-model', 'u-1', { model: 'gpt-9' }));
    expect(unknown.status).toBe(422);
    expect(unknown.body.code).toBe('unknown_model');
    expect(unknown.body.knownModels).toEqual(expect.arrayContaining(['gpt-4o', 'o1']));
    await grant(t, 'h-model', '500');
    const snapshot = await placeHold(t, hold('h-model', 'u-2', { model: 'gpt-4o-2024-05-13' }));
    expect(snapshot.status).toBe(201);
    expect(snapshot.body.heldCredits).toBe('100');
  });

  it('refuses malformed input with 400 naming each offending field', async () => {
    const res = await placeHold(t, {
      userId: '',
      requestId: 'x',
      model: 'gpt-4o',
      maxInputTokens: -1,
      maxOutputTokens: '5',
      ttlSeconds: 3601,
    });
    expect(res.status).toBe(400);
    const fields = res.body.errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(['maxInputTokens', 'maxOutputTokens', 'ttlSeconds', 'userId']);
    const zero = await placeHold(t, hold('h-x', 'y', { ttlSeconds: 0 }));
    expect(zero.status).toBe(400);
  });

  it('validates model as POST /v1/usage/reconcile does: a control character is a 400 naming model', async () => {
    const model = 'gpt-4o\u0007';
    const held = await placeHold(t, hold('h-model', 'ctl', { model }));
    const charged = await reconcile(t, { userId: 'h-model', requestId: 'ctl', model, inputTokens: 1, outputTokens: 1 });
    for (const res of [held, charged]) {
      expect(res.status).toBe(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['model']);
    }
  });

  it('requires the usage:write scope for holds and releases', async () => {
    const asUser = { ...t, gateway: t.token('some-user') };
    expect((await placeHold(asUser, hold('some-user', 'r'))).status).toBe(403);
    expect((await releaseHold(asUser, '00000000-0000-0000-0000-000000000000')).status).toBe(403);
  });

  it('is listed in the OpenAPI document', async () => {
    const { openApiDocument } = await import('../../src/platform/openapi/document');
    const paths = (openApiDocument() as { paths: Record<string, unknown> }).paths;
    expect(Object.keys(paths)).toEqual(expect.arrayContaining(['/v1/usage/holds', '/v1/usage/holds/{holdId}/release']));
  });
});
