import { UsageRepository, type ChargeCommand } from '../../src/modules/usage/usage.repository';
import { createMetrics } from '../../src/platform/metrics';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { balanceOf, grant, reconcile } from '../helpers/wallets';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

// gpt-4o, 1,000 in + 500 out: 50 credits
const command = (userId: string, requestId: string, extra: Partial<ChargeCommand> = {}): ChargeCommand => ({
  userId,
  requestId,
  model: 'gpt-4o',
  family: 'gpt-4o',
  inputTokens: 1000,
  outputTokens: 500,
  cachedInputTokens: 0,
  payloadHash: 'same-payload',
  correlationId: `corr-${requestId}`,
  ...extra,
});

async function batchesRun(metrics: ReturnType<typeof createMetrics>): Promise<number> {
  const metric = await metrics.dbQueryDuration.get();
  const count = metric.values.find(
    (v) => v.metricName === 'billing_db_query_duration_seconds_count' && v.labels.operation === 'charge_usage_batch',
  );
  return count?.value ?? 0;
}

const usagesOf = async (userId: string) =>
  (await t.database.sql(`SELECT count(*)::int AS n FROM usages WHERE user_id = '${userId}'`))[0].n as number;

describe('group commit of concurrent charges', () => {
  it('30 charges of 50 racing for 500 credits in shared batches: exactly 10 charged, wallet ends at 0', async () => {
    await grant(t, 'race-user', '500');
    const metrics = createMetrics();
    const repo = new UsageRepository(t.database.db, metrics, { groupCommit: { maxInFlight: 2, maxBatch: 32 } });
    const rows = await Promise.all(
      Array.from({ length: 30 }, (_, i) => repo.charge(command('race-user', `race-${i}`))),
    );
    expect(await batchesRun(metrics)).toBeGreaterThan(0);
    expect(rows.filter((r) => r.outcome === 'charged')).toHaveLength(10);
    expect(rows.filter((r) => r.outcome === 'insufficient')).toHaveLength(20);
    expect((await balanceOf(t, 'race-user')).balance).toBe('0');
    expect(await usagesOf('race-user')).toBe(10);
  });

  it('when one requestId arrives 10 times in one batch, it is charged once; the rest replay that usage', async () => {
    await grant(t, 'dup-user', '1000');
    const metrics = createMetrics();
    const repo = new UsageRepository(t.database.db, metrics, { groupCommit: { maxInFlight: 1, maxBatch: 32 } });
    const blocker = repo.charge(command('dup-user', 'first-alone'));
    const rows = await Promise.all(Array.from({ length: 10 }, () => repo.charge(command('dup-user', 'dup-req'))));
    await blocker;
    expect(await batchesRun(metrics)).toBe(1);
    expect(rows.filter((r) => r.outcome === 'charged')).toHaveLength(1);
    expect(rows.filter((r) => r.outcome === 'replay')).toHaveLength(9);
    expect(new Set(rows.map((r) => r.usageId)).size).toBe(1);
    expect((await balanceOf(t, 'dup-user')).balance).toBe('900');
  });

  it('when one item of a batch raises, the batch rolls back and the others are charged one by one', async () => {
    await grant(t, 'mixed-user', '1000');
    const metrics = createMetrics();
    const repo = new UsageRepository(t.database.db, metrics, { groupCommit: { maxInFlight: 1, maxBatch: 32 } });
    const blocker = repo.charge(command('mixed-user', 'mixed-alone'));
    // negative tokens never pass the HTTP schema; here they make the usages CHECK constraint raise
    const results = await Promise.allSettled([
      repo.charge(command('mixed-user', 'mixed-1')),
      repo.charge(command('mixed-user', 'mixed-bad', { inputTokens: -1 })),
      repo.charge(command('mixed-user', 'mixed-2')),
    ]);
    await blocker;
    expect(await batchesRun(metrics)).toBe(1);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await balanceOf(t, 'mixed-user')).balance).toBe('850');
    expect(await usagesOf('mixed-user')).toBe(3);
  });

  it('over HTTP, 40 concurrent charges on one wallet are each charged once, to the exact credit', async () => {
    await grant(t, 'http-user', '10000');
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        reconcile(t, {
          userId: 'http-user',
          requestId: `h-${i}`,
          model: 'gpt-4o',
          inputTokens: 1000,
          outputTokens: 500,
        }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(40).fill(201));
    expect(new Set(responses.map((r) => r.body.transactionId)).size).toBe(40);
    expect((await balanceOf(t, 'http-user')).balance).toBe('8000');
    const sums = await t.database.sql(
      `SELECT count(*)::int AS n FROM (SELECT transaction_id FROM postings GROUP BY 1 HAVING sum(amount) <> 0) x`,
    );
    expect(sums[0].n).toBe(0);
  });
});
