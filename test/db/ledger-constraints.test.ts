import { createTestDatabase, type TestDatabase } from '../helpers/database';

let database: TestDatabase;
let wallet: string;
let revenue: string;
beforeAll(async () => {
  database = await createTestDatabase();
  const [w] = await database.sql<{ id: string }>(
    `INSERT INTO accounts (kind, user_id) VALUES ('wallet', 'sql-user') RETURNING id::text`,
  );
  const [r] = await database.sql<{ id: string }>(`SELECT id::text FROM accounts WHERE code = 'usage_revenue'`);
  wallet = w.id;
  revenue = r.id;
});
afterAll(() => database.drop());

/** Runs statements in one transaction, as a buggy caller might. */
async function inTransaction(statements: string[]) {
  const client = await database.db.pool.connect();
  try {
    await client.query('BEGIN');
    for (const s of statements) await client.query(s);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

const tx = (id: string, key: string) =>
  `INSERT INTO ledger_transactions (id, type, business_key) VALUES ('${id}', 'adjustment', '${key}')`;

describe('the database itself refuses what the ledger forbids', () => {
  it('a transaction whose postings do not sum to zero cannot commit', async () => {
    const id = '00000000-0000-4000-8000-000000000001';
    await expect(
      inTransaction([
        tx(id, 'bad-sum'),
        `INSERT INTO postings (transaction_id, account_id, amount, balance_after) VALUES ('${id}', ${wallet}, 10, 10)`,
      ]),
    ).rejects.toThrow(/does not balance/);
    expect(await database.sql(`SELECT 1 FROM ledger_transactions WHERE id = '${id}'`)).toEqual([]);
  });

  it('a debit that leaves a wallet below zero needs an explicit overdraft flag', async () => {
    const id = '00000000-0000-4000-8000-000000000002';
    await expect(
      inTransaction([
        tx(id, 'overdraft'),
        `INSERT INTO postings (transaction_id, account_id, amount, balance_after) VALUES ('${id}', ${wallet}, -5, -5),
         ('${id}', ${revenue}, 5, NULL)`,
      ]),
    ).rejects.toThrow(/postings_no_overdraft_check/);
  });

  it('the same business key cannot post twice', async () => {
    await inTransaction([tx('00000000-0000-4000-8000-000000000003', 'once')]);
    await expect(inTransaction([tx('00000000-0000-4000-8000-000000000004', 'once')])).rejects.toThrow(/business_key/);
  });

  it('postings, transactions and rate cards are append-only', async () => {
    const id = '00000000-0000-4000-8000-000000000005';
    await inTransaction([
      tx(id, 'balanced'),
      `INSERT INTO postings (transaction_id, account_id, amount, balance_after) VALUES ('${id}', ${wallet}, 5, 5),
       ('${id}', ${revenue}, -5, NULL)`,
    ]);
    await expect(database.sql(`UPDATE postings SET amount = amount * 2`)).rejects.toThrow(/append-only/);
    await expect(database.sql(`UPDATE ledger_transactions SET reference = 'x'`)).rejects.toThrow(/append-only/);
    await expect(database.sql(`DELETE FROM postings`)).rejects.toThrow(/append-only/);
    await expect(database.sql(`UPDATE rate_cards SET input_usd_per_1m = 0 WHERE model = 'gpt-4o'`)).rejects.toThrow(
      /append-only/,
    );
  });

  it('system accounts keep no cached balance, so no charge ever locks a shared row', async () => {
    await expect(database.sql(`UPDATE accounts SET balance = 1 WHERE code = 'usage_revenue'`)).rejects.toThrow(
      /accounts_system_balance_check/,
    );
  });

  it('a new price is a new card: the one in force is the latest effective_from that has passed', async () => {
    await database.sql(
      `INSERT INTO rate_cards (model, input_usd_per_1m, cached_input_usd_per_1m, output_usd_per_1m, effective_from)
       VALUES
       ('gpt-4o', 2.5, 1.25, 10, now() - interval '1 minute'), ('gpt-4o', 1, 1, 1, now() + interval '1 day')`,
    );
    const [card] = await database.sql<{ input: string }>(
      `SELECT input_usd_per_1m::text AS input FROM rate_cards WHERE model = 'gpt-4o' AND effective_from <= now()
       ORDER BY effective_from DESC LIMIT 1`,
    );
    expect(card.input).toBe('2.5000000000');
  });
});
