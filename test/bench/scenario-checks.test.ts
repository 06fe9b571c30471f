import { seedWallets } from '../../bench/lib/bench-db';
import { eachAnsweredCharged, settledUsageCount } from '../../bench/lib/scenario-checks';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

/** The bench's after-load checks, against the real ledger: a fast wrong answer must fail the run. */
describe('the bench scenario checks', () => {
  let t: TestDatabase;
  const violations: string[] = [];
  const violation = (scenario: string, message: string) => violations.push(`${scenario}: ${message}`);

  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 2 });
    await seedWallets(t.db.pool, 3, '100');
    for (const [user, requestId] of [
      ['bench-1', 'run-1'],
      ['bench-2', 'run-2'],
    ]) {
      await t.sql(
        `SELECT * FROM billing_charge_usage($1, $2, 'gpt-4o-mini', 'gpt-4o-mini', 100, 50, 0, 'h', 'c', NULL)`,
        [user, requestId],
      );
    }
  });
  afterAll(() => t.drop());
  beforeEach(() => violations.splice(0));

  it('passes when every requestId answered 201 is exactly one usage', async () => {
    await eachAnsweredCharged(t.db.pool, violation, 'spread', ['run-1', 'run-2']);
    expect(violations).toEqual([]);
  });

  it('fails a 201 whose requestId charged nothing, even when the totals could hide it', async () => {
    await eachAnsweredCharged(t.db.pool, violation, 'spread', ['run-1', 'run-2', 'run-3']);
    expect(violations).toEqual(['spread: 3 requestIds answered 201 (3 distinct): 2 have a usage, 2 usages in all']);
  });

  it('fails the same requestId answered 201 twice', async () => {
    await eachAnsweredCharged(t.db.pool, violation, 'spread', ['run-1', 'run-1']);
    expect(violations).toHaveLength(1);
  });

  it('counts usages once the count holds still', async () => {
    expect(await settledUsageCount(t.db.pool)).toBe(2);
  });
});
