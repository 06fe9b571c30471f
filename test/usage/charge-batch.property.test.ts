import fc from 'fast-check';
import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

// billing_charge_usage_batch charges a batch of plain first charges on distinct wallets set-based,
// and everything else item by item. Whatever path it takes, its answers and the ledger it leaves
// must be exactly those of billing_charge_usage called for each item in wallet order, then arrival
// order (the per-item semantics every other test pins down). Each generated case runs both ways
// in one transaction, rolled back in between, and compares.

let database: TestDatabase;
let client: pg.PoolClient;
beforeAll(async () => {
  database = await createTestDatabase({ poolMax: 2 });
  client = await database.db.pool.connect();
  await client.query(`SET track_functions = 'pl'`);
});
afterAll(async () => {
  client.release();
  await database.drop();
});

interface Item {
  user: number;
  request: number;
  family: string;
  input: number;
  output: number;
  hash: string;
  metadata: unknown;
}
interface Wallet {
  exists: boolean;
  balance: string;
  otherHolds: Array<'active' | 'expired' | 'released'>;
  priorUsage: number[];
  requestHolds: number[];
  /** The low-balance threshold and the depletion flag: the events each path writes (balance.low / depleted). */
  threshold: string | null;
  depletedArmed: boolean;
}

const walletArb = fc.record({
  exists: fc.constantFrom(true, true, true, true, true, true, true, true, true, false),
  balance: fc.constantFrom('0', '10', '49.999999999999999999', '50', '120', '1000'),
  otherHolds: fc.array(fc.constantFrom('active' as const, 'expired' as const, 'released' as const), { maxLength: 2 }),
  priorUsage: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 1 }),
  requestHolds: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 1 }),
  threshold: fc.constantFrom(null, null, '60', '990', '5000'),
  depletedArmed: fc.boolean(),
});
const itemArb = (users: number) =>
  fc.record({
    user: fc.integer({ min: 0, max: users - 1 }),
    request: fc.integer({ min: 0, max: 7 }),
    family: fc.constantFrom(
      'gpt-4o',
      'gpt-4o',
      'gpt-4o',
      'gpt-4o',
      'gpt-4o',
      'gpt-4o-mini',
      'gpt-4o-mini',
      'gpt-4o-mini',
      'no-such-model',
    ),
    input: fc.constantFrom(0, 1000, 1000, 1000),
    output: fc.constantFrom(0, 500, 500, 500),
    hash: fc.constantFrom('h', 'h', 'h', 'other'),
    metadata: fc.constantFrom(null, { feature: 'chat' }),
  });
// Mostly one item per wallet (the set-based path), sometimes a wallet twice (the loop).
const caseArb = fc.array(walletArb, { minLength: 1, maxLength: 6 }).chain((wallets) =>
  fc.record({
    wallets: fc.constant(wallets),
    items: fc.oneof(
      fc.uniqueArray(itemArb(wallets.length), { minLength: 1, maxLength: wallets.length, selector: (i) => i.user }),
      fc.array(itemArb(wallets.length), { minLength: 1, maxLength: 8 }),
    ),
  }),
);

let run = 0;
async function seed(prefix: string, wallets: Wallet[]): Promise<void> {
  for (const [w, wallet] of wallets.entries()) {
    const user = `${prefix}-u${w}`;
    if (!wallet.exists) continue;
    await client.query(
      `INSERT INTO accounts (kind, user_id, balance, low_balance_threshold, low_balance_armed, depleted_armed)
       VALUES ('wallet', $1, $2::numeric, $3::numeric, $3::numeric IS NULL OR $2::numeric >= $3::numeric, $4)`,
      [user, wallet.balance, wallet.threshold, wallet.depletedArmed],
    );
    for (const r of wallet.priorUsage) {
      await client.query(`SELECT billing_charge_usage($1, $2, 'gpt-4o', 'gpt-4o', 0, 0, 0, 'h', 'prior', NULL)`, [
        user,
        `r${r}`,
      ]);
    }
    const holds = [
      ...wallet.otherHolds.map((status, k) => ({ request: `other-${k}`, status })),
      ...wallet.requestHolds.map((r) => ({ request: `r${r}`, status: 'active' })),
    ];
    for (const hold of holds) {
      await client.query(`SELECT billing_place_hold($1, $2, 'gpt-4o', 'gpt-4o', 200, 100, 600, 'h', 'hold')`, [
        user,
        hold.request,
      ]);
      if (hold.status === 'expired')
        await client.query(
          `UPDATE holds SET expires_at = now() - interval '1 second' WHERE user_id = $1 AND request_id = $2`,
          [user, hold.request],
        );
      if (hold.status === 'released')
        await client.query(
          `UPDATE holds SET status = 'released', ended_at = now() WHERE user_id = $1 AND request_id = $2`,
          [user, hold.request],
        );
    }
  }
}

const payloadOf = (prefix: string, items: Item[]) =>
  items.map((it, i) => ({
    i,
    user_id: `${prefix}-u${it.user}`,
    request_id: `r${it.request}`,
    model: it.family,
    family: it.family,
    input_tokens: it.input,
    output_tokens: it.output,
    cached_tokens: 0,
    payload_hash: it.hash,
    correlation_id: `c${i}`,
    metadata: it.metadata,
  }));

/** Everything a charge can change, with generated ids replaced by what they point at. */
async function outcome(prefix: string, results: Array<Record<string, unknown>>) {
  const q = async (sql: string) => (await client.query(sql, [`${prefix}-%`])).rows;
  const usages =
    await q(`SELECT u.id, u.user_id, u.request_id, u.model, u.rate_card_id, u.input_tokens, u.output_tokens,
                    u.credits::text, u.balance_after::text,
      u.payload_hash, u.transaction_id IS NOT NULL AS has_tx, t.business_key, t.correlation_id AS tx_correlation,
      t.reference, u.hold_id, u.correlation_id, u.metadata
    FROM usages u LEFT JOIN ledger_transactions t ON t.id = u.transaction_id WHERE u.user_id LIKE $1
    ORDER BY u.user_id, u.request_id`);
  const usageKey = new Map(usages.map((u) => [u.id, `${u.user_id}/${u.request_id}`]));
  const postings =
    await q(`SELECT t.business_key, a.user_id, a.code, p.amount::text, p.balance_after::text, p.overdraft_allowed
    FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id JOIN accounts a ON a.id = p.account_id
    WHERE t.id IN (SELECT transaction_id FROM usages WHERE user_id LIKE $1)
    ORDER BY t.business_key, p.amount`);
  const wallets = await q(`SELECT user_id, balance::text FROM accounts WHERE user_id LIKE $1 ORDER BY user_id`);
  const holds = await q(
    `SELECT user_id, request_id, status, ended_at IS NOT NULL AS ended, usage_id FROM holds WHERE user_id LIKE $1
     ORDER BY user_id, request_id`,
  );
  const answers = [...results]
    .sort((a, b) => Number(a.idx) - Number(b.idx))
    .map(({ usage_id, transaction_id, ...r }) => ({
      ...r,
      usage: usage_id ? (usageKey.get(usage_id) ?? 'dangling') : null,
      tx: transaction_id !== null,
    }));
  return {
    answers,
    usages: usages.map(({ id: _id, ...u }) => u),
    postings,
    wallets,
    holds: holds.map((h) => ({ ...h, usage_id: h.usage_id ? (usageKey.get(h.usage_id) ?? 'dangling') : null })),
    events: await q(`SELECT user_id, type, data FROM events WHERE user_id LIKE $1 ORDER BY user_id, seq`),
  };
}

// This transaction's calls of the per-item function so far: unchanged by a batch that took the set-based path.
async function perItemCallsSoFar(): Promise<number> {
  const { rows } = await client.query(
    `SELECT COALESCE(pg_stat_get_xact_function_calls('billing_charge_usage'::regproc), 0)::int AS n`,
  );
  return rows[0].n;
}

describe('billing_charge_usage_batch', () => {
  it('answers and leaves the ledger exactly as billing_charge_usage item by item, on either path', async () => {
    let setBased = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ wallets, items }) => {
        const prefix = `p${run++}`;
        const payload = payloadOf(prefix, items);
        await client.query('BEGIN');
        try {
          await seed(prefix, wallets);
          await client.query('SAVEPOINT before_charges');
          const perItemCalls = await perItemCallsSoFar();
          const batch = (
            await client.query(`SELECT * FROM billing_charge_usage_batch($1::jsonb)`, [JSON.stringify(payload)])
          ).rows;
          if ((await perItemCallsSoFar()) === perItemCalls) setBased++;
          // the zero-sum check, now rather than at a commit that never comes
          await client.query('SET CONSTRAINTS ALL IMMEDIATE');
          const viaBatch = await outcome(prefix, batch);
          await client.query('ROLLBACK TO SAVEPOINT before_charges');
          const one: Array<Record<string, unknown>> = [];
          for (const p of [...payload].sort((a, b) =>
            a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : a.i - b.i,
          )) {
            const { rows } = await client.query(
              `SELECT $1::int AS idx, outcome, usage_id, transaction_id, credits, balance, available, correlation_id,
                      model, hold_id
               FROM billing_charge_usage($2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)`,
              [
                p.i,
                p.user_id,
                p.request_id,
                p.model,
                p.family,
                p.input_tokens,
                p.output_tokens,
                p.cached_tokens,
                p.payload_hash,
                p.correlation_id,
                p.metadata === null ? null : JSON.stringify(p.metadata),
              ],
            );
            one.push(rows[0]);
          }
          await client.query('SET CONSTRAINTS ALL IMMEDIATE');
          expect(viaBatch).toEqual(await outcome(prefix, one));
        } finally {
          await client.query('ROLLBACK');
        }
      }),
      { numRuns: 200 },
    );
    // the generator does reach the set-based path (about 60 of 200; 25 is five deviations below)
    expect(setBased).toBeGreaterThan(25);
  }, 120_000);

  it('an item that cannot be priced (no cached token count) raises as the per-item function does, no 402', async () => {
    await client.query(
      `INSERT INTO accounts (kind, user_id, balance) VALUES ('wallet', 'null-a', 100), ('wallet', 'null-b', 100)`,
    );
    const [good, bad] = payloadOf('null', [
      { user: 0, request: 0, family: 'gpt-4o', input: 1000, output: 500, hash: 'h', metadata: null },
      { user: 1, request: 0, family: 'gpt-4o', input: 1000, output: 500, hash: 'h', metadata: null },
    ]);
    const { cached_tokens: _missing, ...unpriced } = { ...bad, user_id: 'null-b' };
    const items = [{ ...good, user_id: 'null-a' }, unpriced];
    await expect(
      client.query(`SELECT * FROM billing_charge_usage_batch($1::jsonb)`, [JSON.stringify(items)]),
    ).rejects.toThrow(/cached_input_tokens/);
    const balances = await client.query(
      `SELECT balance::text FROM accounts WHERE user_id IN ('null-a', 'null-b') ORDER BY user_id`,
    );
    expect(balances.rows.map((r) => r.balance)).toEqual(['100.000000000000000000', '100.000000000000000000']);
  });
});
