import type pg from 'pg';
import { UsageRepository, type ChargeCommand } from '../../src/modules/usage/usage.repository';
import { createDatabase } from '../../src/platform/db/database';
import { createMetrics } from '../../src/platform/metrics';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { sleep } from '../helpers/holds';
import { ledgerViolations, NO_VIOLATIONS } from '../helpers/ledger-invariants';

// The set-based batch checks its items before it takes the wallet locks (so replays never queue),
// then checks again after: what committed while it waited must be seen.

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase({ poolMax: 30 });
});
afterAll(() => database.drop());

// gpt-4o, 1,000 in + 500 out: 50 credits
const item = (i: number, userId: string, requestId: string) => ({
  i,
  user_id: userId,
  request_id: requestId,
  model: 'gpt-4o',
  family: 'gpt-4o',
  input_tokens: 1000,
  output_tokens: 500,
  cached_tokens: 0,
  payload_hash: 'h',
  correlation_id: `corr-${requestId}`,
  metadata: null,
});

async function grant(userId: string, amount: string): Promise<void> {
  await database.sql(
    `SELECT billing_post_wallet($1, 'adjustment', $2, 'promotions', $3::numeric, false, NULL, 'test funding', 'test',
            NULL)`,
    [userId, `fund:${userId}`, amount],
  );
}

/** Resolves once the backend `pid` waits for a lock (a wallet row held elsewhere). */
async function waitsForLock(pid: number): Promise<void> {
  for (let waited = 0; ; waited += 10) {
    const [row] = await database.sql<{ wait: string | null }>(
      `SELECT wait_event_type AS wait FROM pg_stat_activity WHERE pid = $1`,
      [pid],
    );
    if (row?.wait === 'Lock') return;
    if (waited > 5000) throw new Error(`backend ${pid} never waited for a wallet lock`);
    await sleep(10);
  }
}

/** Starts a batch on its own connection and resolves once it waits for a wallet lock held elsewhere. */
async function batchWaitingForLock(items: object[]): Promise<{ rows: Promise<Array<Record<string, string>>> }> {
  const c = await database.db.pool.connect();
  const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
  const result = c
    .query('SELECT * FROM billing_charge_usage_batch($1::jsonb)', [JSON.stringify(items)])
    .then((r) => r.rows)
    .finally(() => c.release());
  await waitsForLock(pid);
  return { rows: result }; // wrapped: an async function would wait for a returned promise
}

async function inTransaction(work: (c: pg.PoolClient) => Promise<void>): Promise<pg.PoolClient> {
  const c = await database.db.pool.connect();
  await c.query('BEGIN');
  await work(c);
  return c;
}

describe('set-based group commit under concurrency', () => {
  it('when a hold for the request commits while the batch waits for the wallet, the charge settles it', async () => {
    await grant('recheck-hold-a', '500');
    await grant('recheck-hold-b', '500');
    const holder = await inTransaction(async (c) => {
      await c.query(
        `SELECT billing_place_hold('recheck-hold-a', 'call-1', 'gpt-4o', 'gpt-4o', 2000, 1000, 600, 'h', 'hold')`,
      );
    });
    const batch = await batchWaitingForLock([item(0, 'recheck-hold-a', 'call-1'), item(1, 'recheck-hold-b', 'call-2')]);
    await holder.query('COMMIT');
    holder.release();
    const rows = await batch.rows;
    const [hold] = await database.sql<{ id: string; status: string; usage_id: string }>(
      `SELECT id, status, usage_id FROM holds WHERE request_id = 'call-1'`,
    );
    const settled = rows.find((r) => Number(r.idx) === 0)!;
    expect([settled.outcome, settled.hold_id, hold.status, hold.usage_id]).toEqual([
      'charged',
      hold.id,
      'settled',
      settled.usage_id,
    ]);
    expect(rows.find((r) => Number(r.idx) === 1)!.outcome).toBe('charged');
    expect(await ledgerViolations(database)).toEqual(NO_VIOLATIONS);
  });

  it('when a copy of the request commits while the batch waits for the wallet, the batch replays it', async () => {
    await grant('recheck-dup-a', '500');
    await grant('recheck-dup-b', '500');
    const first = await inTransaction(async (c) => {
      await c.query(
        `SELECT billing_charge_usage('recheck-dup-a', 'call-1', 'gpt-4o', 'gpt-4o', 1000, 500, 0, 'h', 'first', NULL)`,
      );
    });
    const batch = await batchWaitingForLock([item(0, 'recheck-dup-a', 'call-1'), item(1, 'recheck-dup-b', 'call-2')]);
    await first.query('COMMIT');
    first.release();
    const rows = await batch.rows;
    expect(rows.sort((a, b) => Number(a.idx) - Number(b.idx)).map((r) => r.outcome)).toEqual(['replay', 'charged']);
    const [{ balance }] = await database.sql<{ balance: string }>(
      `SELECT balance::text FROM accounts WHERE user_id = 'recheck-dup-a'`,
    );
    expect(balance).toBe('450.000000000000000000');
  });

  it('400 charges on 20 wallets in overlapping batches of 2 replicas: each pays the 5 it can afford', async () => {
    const wallets = Array.from({ length: 20 }, (_, w) => `spread-${w}`);
    for (const w of wallets) await grant(w, '250');
    // each replica has its own pipelined charge connection,
    // so their batches overlap and take wallet locks against each other
    const other = createDatabase(database.url, { min: 0, max: 2 });
    const replicas = [database.db, other].map(
      (db) => new UsageRepository(db, undefined, { groupCommit: { maxInFlight: 2, maxBatch: 16 } }),
    );
    const command = (userId: string, requestId: string): ChargeCommand => ({
      userId,
      requestId,
      model: 'gpt-4o',
      family: 'gpt-4o',
      inputTokens: 1000,
      outputTokens: 500,
      cachedInputTokens: 0,
      payloadHash: 'h',
      correlationId: requestId,
    });
    // ten requests per wallet, each sent twice (once to each replica), interleaved across wallets
    const commands = Array.from({ length: 10 }, (_, r) => wallets.map((w) => command(w, `${w}-call-${r}`))).flat();
    const rows = await Promise.all([...commands, ...commands].map((c, i) => replicas[i % 2].charge(c))).finally(() =>
      other.close(),
    );
    const charged = rows.filter((r) => r.outcome === 'charged');
    expect(charged).toHaveLength(100);
    expect(new Set(charged.map((r) => r.usageId)).size).toBe(100);
    expect(rows.filter((r) => r.outcome === 'replay')).toHaveLength(100);
    const balances = await database.sql<{ balance: string; n: number }>(
      `SELECT a.balance::text, (SELECT count(*)::int FROM usages u WHERE u.user_id = a.user_id) AS n FROM accounts a
       WHERE a.user_id LIKE 'spread-%'`,
    );
    expect(balances).toEqual(wallets.map(() => ({ balance: '0.000000000000000000', n: 5 })));
    expect(await ledgerViolations(database)).toEqual(NO_VIOLATIONS);
  });

  it('when the charge connection dies with two batches on it, each charge is retried alone, charged once', async () => {
    const wallets = Array.from({ length: 10 }, (_, w) => `lost-${w}`);
    for (const w of wallets) await grant(w, '1000');
    const metrics = createMetrics();
    const repo = new UsageRepository(database.db, metrics, { groupCommit: { maxInFlight: 2, maxBatch: 16 } });
    const command = (userId: string, requestId: string): ChargeCommand => ({
      userId,
      requestId,
      model: 'gpt-4o',
      family: 'gpt-4o',
      inputTokens: 1000,
      outputTokens: 500,
      cachedInputTokens: 0,
      payloadHash: 'h',
      correlationId: requestId,
    });
    await repo.charge(command('lost-9', 'lost-warm-up')); // the charge connection exists before the wallets are locked
    const [charger] = await database.sql<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
       AND application_name = 'scholarlink-billing-charges'`,
    );
    const lock = (userId: string) =>
      inTransaction((c) =>
        c.query(`SELECT 1 FROM accounts WHERE user_id = $1 FOR UPDATE`, [userId]).then(() => undefined),
      );
    const [first, second] = [await lock('lost-0'), await lock('lost-1')];
    // two lone charges wait for lost-0 on the pipe; the 24 behind them wait in the group
    const lone = [command('lost-0', 'lost-lone-a'), command('lost-0', 'lost-lone-b')].map((c) => repo.charge(c));
    await waitsForLock(charger.pid);
    const grouped = Array.from({ length: 3 }, (_, r) =>
      wallets.slice(1, 9).map((w) => command(w, `${w}-call-${r}`)),
    ).flat();
    const pending = Promise.allSettled(grouped.map((c) => repo.charge(c)));
    await first.query('COMMIT');
    first.release();
    await Promise.all(lone);
    await waitsForLock(charger.pid); // now a batch of 16 waits for lost-1, and a batch of 8 is on the wire behind it
    await database.sql(`SELECT pg_terminate_backend($1)`, [charger.pid]);
    await sleep(50);
    await second.query('COMMIT');
    second.release();
    const results = await pending;
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.outcome : r.status))).toEqual(
      grouped.map(() => 'charged'),
    );
    const retries = (await metrics.chargeBatchRetries.get()).values.find((v) => v.labels.cause === 'connection');
    expect(retries?.value).toBe(2);
    const [after] = await database.sql<{ n: number; distinct: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT request_id)::int AS distinct FROM usages WHERE user_id LIKE 'lost-%'`,
    );
    expect(after).toEqual({ n: 27, distinct: 27 });
    expect(await ledgerViolations(database)).toEqual(NO_VIOLATIONS);
  });
});
