import { createTestDatabase, type TestDatabase } from '../helpers/database';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

const post = (user: string, key: string, amount: string) =>
  database.sql<{ outcome: string }>(
    `SELECT outcome FROM billing_post_wallet($1, 'adjustment', $2, 'promotions', $3::numeric, false, NULL, 'r', NULL,
     NULL)`,
    [user, key, amount],
  );

const charge = (user: string, request: string) =>
  database.sql<{ outcome: string; balance: string }>(
    `SELECT outcome, balance::text FROM billing_charge_usage($1, $2, 'gpt-4o', 'gpt-4o', 1000, 500, 0, 'h', NULL,
     NULL)`,
    [user, request],
  );

describe('billing_post_wallet', () => {
  it('replays the same movement, and calls the same key with another amount or wallet a mismatch', async () => {
    expect((await post('pw-1', 'key-1', '100'))[0].outcome).toBe('posted');
    expect((await post('pw-1', 'key-1', '100'))[0].outcome).toBe('replay');
    expect((await post('pw-1', 'key-1', '101'))[0].outcome).toBe('mismatch');
    expect((await post('pw-2', 'key-1', '100'))[0].outcome).toBe('mismatch');
    const [row] = await database.sql<{ balance: string }>(`SELECT balance::text FROM accounts WHERE user_id = 'pw-1'`);
    expect(row.balance).toBe('100.000000000000000000');
  });
});

describe('billing_charge_usage and a hold released at the same moment', () => {
  it('when a release commits while a settle waits, the settle becomes a plain charge still honouring 402', async () => {
    await post('race-hold', 'fund', '10');
    const [wallet] = await database.sql<{ id: string }>(`SELECT id::text FROM accounts WHERE user_id = 'race-hold'`);
    const [card] = await database.sql<{ id: string }>(`SELECT id::text FROM rate_cards WHERE model = 'gpt-4o'`);
    const [hold] = await database.sql<{ id: string }>(
      `INSERT INTO holds (account_id, user_id, request_id, model, rate_card_id, max_input_tokens, max_output_tokens,
       amount, payload_hash, expires_at)
       VALUES ($1, 'race-hold', 'call-1', 'gpt-4o', $2, 100, 100, 8, 'h', now() + interval '10 minutes')
       RETURNING id::text`,
      [wallet.id, card.id],
    );
    const releaser = await database.db.pool.connect();
    try {
      await releaser.query('BEGIN');
      await releaser.query(
        `UPDATE holds SET status = 'released', ended_at = now() WHERE id = $1 AND status = 'active'`,
        [hold.id],
      );
      const settle = charge('race-hold', 'call-1'); // blocks on the hold row
      await new Promise((r) => setTimeout(r, 300));
      await releaser.query('COMMIT');
      const [result] = await settle;
      expect(result.outcome).toBe('insufficient'); // 50 credits on a wallet of 10, no hold any more
    } finally {
      releaser.release();
    }
    const [after] = await database.sql<{ status: string; balance: string }>(
      `SELECT h.status, a.balance::text FROM holds h JOIN accounts a ON a.id = h.account_id WHERE h.id = $1`,
      [hold.id],
    );
    expect(after).toEqual({ status: 'released', balance: '10.000000000000000000' });
  });
});
