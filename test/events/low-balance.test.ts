import request from 'supertest';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { grant, reconcile } from '../helpers/wallets';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

interface EventRow {
  type: string;
  data: Record<string, string>;
}
const eventsOf = (userId: string) =>
  t.database.sql<EventRow>(`SELECT type, data FROM events WHERE user_id = $1 ORDER BY seq`, [userId]);

const setThreshold = (userId: string, thresholdCredits: string | null) =>
  request(t.app)
    .put('/v1/billing/settings')
    .set('Authorization', `Bearer ${t.token(userId)}`)
    .send({ lowBalance: { thresholdCredits } });

// gpt-4o, 1,000 in + 500 out: 50 credits
const charge50 = (userId: string, requestId: string) =>
  reconcile(t, { userId, requestId, model: 'gpt-4o', inputTokens: 1000, outputTokens: 500 });

describe('billing settings', () => {
  it('stores the low-balance threshold, shows auto top-up off, and clears it with null', async () => {
    const put = await setThreshold('settings-user', '1000.5').expect(200);
    expect(put.body).toMatchObject({
      userId: 'settings-user',
      lowBalance: { thresholdCredits: '1000.5' },
      paymentMethod: null,
      autoTopUp: { enabled: false, status: 'off' },
    });
    const got = await request(t.app)
      .get('/v1/billing/settings')
      .set('Authorization', `Bearer ${t.token('settings-user')}`)
      .expect(200);
    expect(got.body.lowBalance.thresholdCredits).toBe('1000.5');
    await setThreshold('settings-user', null).expect(200);
    const cleared = await request(t.app)
      .get('/v1/billing/settings')
      .query({ userId: 'settings-user' })
      .set('Authorization', `Bearer ${t.admin}`)
      .expect(200);
    expect(cleared.body.lowBalance.thresholdCredits).toBeNull();
  });

  it('refuses a negative or malformed threshold, naming the field, and auto top-up without a card (409)', async () => {
    const negative = await setThreshold('settings-user', '-1').expect(400);
    expect(negative.body.errors[0].field).toBe('lowBalance.thresholdCredits');
    await setThreshold('settings-user', '1e3').expect(400);
    const auto = await request(t.app)
      .put('/v1/billing/settings')
      .set('Authorization', `Bearer ${t.token('settings-user')}`)
      .send({ autoTopUp: { enabled: true, thresholdCredits: '500', packageId: 'starter', monthlyLimitUsd: '50.00' } })
      .expect(409);
    expect(auto.body.code).toBe('payment_method_required');
    await request(t.app)
      .get('/v1/billing/settings')
      .query({ userId: 'someone-else' })
      .set('Authorization', `Bearer ${t.token('settings-user')}`)
      .expect(403);
  });
});

describe('balance.low', () => {
  it('when 50 concurrent 50-credit charges cross a 1,000-credit threshold, one balance.low is written', async () => {
    await grant(t, 'burst', '1500');
    await setThreshold('burst', '1000').expect(200);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => charge50('burst', `burst-${i}`)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(30);
    const events = await eventsOf('burst');
    expect(events.filter((e) => e.type === 'balance.low')).toEqual([
      { type: 'balance.low', data: { available: '950', thresholdCredits: '1000' } },
    ]);
    expect(events.filter((e) => e.type === 'balance.depleted')).toHaveLength(1);
  });

  it('is re-armed when available rises to the threshold again, and fires once more on the next crossing', async () => {
    await grant(t, 'rearm', '1020');
    await setThreshold('rearm', '1000').expect(200);
    await charge50('rearm', 'a').expect(201); // 970: below
    await charge50('rearm', 'b').expect(201); // 920: still below, no second notice
    await grant(t, 'rearm', '200'); // 1120: re-armed
    await charge50('rearm', 'c').expect(201); // 1070
    await charge50('rearm', 'd').expect(201); // 1020
    await charge50('rearm', 'e').expect(201); // 970: crosses again
    const lows = (await eventsOf('rearm')).filter((e) => e.type === 'balance.low');
    expect(lows.map((e) => e.data.available)).toEqual(['970', '970']);
  });

  it('a hold that takes available below the threshold sends it; the settle below it sends nothing more', async () => {
    await grant(t, 'holder', '1050'); // the hold reserves 100
    await setThreshold('holder', '1000').expect(200);
    await request(t.app)
      .post('/v1/usage/holds')
      .set('Authorization', `Bearer ${t.gateway}`)
      .send({ userId: 'holder', requestId: 'stream-1', model: 'gpt-4o', maxInputTokens: 2000, maxOutputTokens: 1000 })
      .expect(201);
    await reconcile(t, {
      userId: 'holder',
      requestId: 'stream-1',
      model: 'gpt-4o',
      inputTokens: 2000,
      outputTokens: 1000,
    }).expect(201);
    const lows = (await eventsOf('holder')).filter((e) => e.type === 'balance.low');
    expect(lows).toHaveLength(1);
  });

  it('without a threshold, no balance.low is ever written', async () => {
    await grant(t, 'no-threshold', '100');
    await charge50('no-threshold', 'x').expect(201);
    expect(await eventsOf('no-threshold')).toEqual([]);
  });
});

describe('balance.depleted', () => {
  it('is written on the first 402 after the wallet could pay, once, and re-armed by a credit', async () => {
    await grant(t, 'drained', '60');
    await charge50('drained', '1').expect(201);
    const first = await charge50('drained', '2').expect(402);
    await charge50('drained', '3').expect(402);
    let depleted = (await eventsOf('drained')).filter((e) => e.type === 'balance.depleted');
    expect(depleted).toEqual([{ type: 'balance.depleted', data: { available: '10', requiredCredits: '50' } }]);
    expect(first.body.availableCredits).toBe('10');
    await grant(t, 'drained', '1');
    await charge50('drained', '4').expect(402);
    depleted = (await eventsOf('drained')).filter((e) => e.type === 'balance.depleted');
    expect(depleted).toHaveLength(2);
  });

  it('a wallet that never held credits gets its 402 without any event', async () => {
    await charge50('never-funded', '1').expect(402);
    expect(await eventsOf('never-funded')).toEqual([]);
  });
});

describe('the set-based charge batch (one wallet per item)', () => {
  const item = (i: number, userId: string) => ({
    i,
    user_id: userId,
    request_id: `batch-${i}`,
    model: 'gpt-4o',
    family: 'gpt-4o',
    input_tokens: 1000,
    output_tokens: 500,
    cached_tokens: 0,
    payload_hash: 'h',
    correlation_id: null,
    metadata: null,
  });

  it('writes balance.low for the item that crosses, balance.depleted for the armed 402, none for others', async () => {
    await grant(t, 'set-cross', '1020');
    await setThreshold('set-cross', '1000').expect(200);
    await grant(t, 'set-poor', '10');
    await grant(t, 'set-rich', '5000');
    await setThreshold('set-rich', '1000').expect(200);
    const rows = await t.database.sql<{ idx: number; outcome: string }>(
      `SELECT idx, outcome FROM billing_charge_usage_batch($1::jsonb) ORDER BY idx`,
      [JSON.stringify([item(0, 'set-cross'), item(1, 'set-poor'), item(2, 'set-rich')])],
    );
    expect(rows.map((r) => r.outcome)).toEqual(['charged', 'insufficient', 'charged']);
    expect(await eventsOf('set-cross')).toEqual([
      { type: 'balance.low', data: { available: '970', thresholdCredits: '1000' } },
    ]);
    expect(await eventsOf('set-poor')).toEqual([
      { type: 'balance.depleted', data: { available: '10', requiredCredits: '50' } },
    ]);
    expect(await eventsOf('set-rich')).toEqual([]);
    const again = await t.database.sql<{ outcome: string }>(
      `SELECT outcome FROM billing_charge_usage_batch($1::jsonb) ORDER BY idx`,
      [
        JSON.stringify([
          { ...item(3, 'set-cross'), request_id: 'batch-3' },
          { ...item(4, 'set-poor'), request_id: 'batch-4' },
        ]),
      ],
    );
    expect(again.map((r) => r.outcome)).toEqual(['charged', 'insufficient']);
    expect(await eventsOf('set-cross')).toHaveLength(1);
    expect(await eventsOf('set-poor')).toHaveLength(1);
  });
});

describe('no event for a fact that rolled back', () => {
  it('a charge crossing the threshold in a rolled-back transaction leaves no event and the notice armed', async () => {
    await grant(t, 'rolled', '1010');
    await setThreshold('rolled', '1000').expect(200);
    const c = await t.database.db.pool.connect();
    try {
      await c.query('BEGIN');
      const { rows } = await c.query(
        `SELECT outcome FROM billing_charge_usage('rolled', 'r1', 'gpt-4o', 'gpt-4o', 1000, 500, 0, 'h', NULL, NULL)`,
      );
      expect(rows[0].outcome).toBe('charged');
      expect(
        await c.query(`SELECT count(*)::int AS n FROM events WHERE user_id = 'rolled'`).then((r) => r.rows[0].n),
      ).toBe(1);
      await c.query('ROLLBACK');
    } finally {
      c.release();
    }
    expect(await eventsOf('rolled')).toEqual([]);
    await charge50('rolled', 'r2').expect(201);
    expect((await eventsOf('rolled')).map((e) => e.type)).toEqual(['balance.low']);
  });

  it('a backend killed mid-transaction after the crossing leaves no event', async () => {
    await grant(t, 'killed', '1010');
    await setThreshold('killed', '1000').expect(200);
    const c = await t.database.db.pool.connect();
    c.on('error', () => undefined);
    const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    await c.query('BEGIN');
    await c.query(`SELECT billing_charge_usage('killed', 'k1', 'gpt-4o', 'gpt-4o', 1000, 500, 0, 'h', NULL, NULL)`);
    await t.database.sql('SELECT pg_terminate_backend($1)', [pid]);
    c.release(true);
    expect(await eventsOf('killed')).toEqual([]);
    const [wallet] = await t.database.sql<{ balance: string }>(
      `SELECT balance::text FROM accounts WHERE user_id = 'killed'`,
    );
    expect(Number(wallet.balance)).toBe(1010);
  });
});
