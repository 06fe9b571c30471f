import { migrate } from '../../src/platform/db/migrator';
import { applyFunctionFiles, functionDrift, readFunctionFiles } from '../../src/platform/db/sql-functions';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

const drift = async () => {
  const client = await database.db.pool.connect();
  try {
    return await functionDrift(client);
  } finally {
    client.release();
  }
};

describe('prisma/sql/functions: one current definition per SQL function', () => {
  it('after db:migrate, each function in the database is exactly as its file defines, no other overload', async () => {
    expect(await drift()).toEqual([]);
    const [row] = await database.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace
       WHERE s.nspname = 'public' AND p.prokind = 'f'`,
    );
    expect(row.n).toBe(readFunctionFiles().length);
  });

  it('the price and the usage key are inlined where they are called, so no charge plans their SQL again', async () => {
    const plan = await database.sql<{ 'QUERY PLAN': string }>(
      `EXPLAIN VERBOSE SELECT billing_usage_cost(c, 1, 2, 3), billing_usage_usd(c, 1, 2, 3),
       billing_usage_business_key(c.model, 'r') FROM rate_cards c`,
    );
    const output = plan.map((r) => r['QUERY PLAN']).find((l) => l.trim().startsWith('Output:'));
    expect(output).toMatch(/round\(/);
    expect(output).not.toMatch(/billing_/);
  });

  it('each file creates the function it is named after, with CREATE OR REPLACE', () => {
    for (const f of readFunctionFiles()) {
      expect({
        file: f.name,
        creates: [...f.sql.matchAll(/CREATE OR REPLACE FUNCTION "?(\w+)"?\(/g)].map((m) => m[1]),
      }).toEqual({
        file: f.name,
        creates: [f.name],
      });
    }
  });

  it('when a function is changed by hand, the check names it and the next db:migrate restores the file', async () => {
    await database.sql(
      `CREATE OR REPLACE FUNCTION billing_csv_text(v TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$ SELECT v $$`,
    );
    expect(await drift()).toEqual(["billing_csv_text: the database's definition differs from its file"]);
    await migrate(database.url);
    expect(await drift()).toEqual([]);
    const [row] = await database.sql<{ v: string }>(`SELECT billing_csv_text('=1+1') AS v`);
    expect(row.v).toBe("'=1+1");
  });

  it('when an old overload or a function without a file is left in the database, the check names it', async () => {
    await database.sql(
      `CREATE FUNCTION billing_csv_text(v TEXT, quote TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
       SELECT quote || v $$`,
    );
    await database.sql(`CREATE FUNCTION billing_orphan() RETURNS INT LANGUAGE sql AS $$ SELECT 1 $$`);
    try {
      expect(await drift()).toEqual([
        'billing_csv_text: 2 overloads; a file defines one (drop the old in a migration)',
        'billing_orphan: defined in the database, no file in prisma/sql/functions',
      ]);
    } finally {
      await database.sql(`DROP FUNCTION billing_csv_text(TEXT, TEXT); DROP FUNCTION billing_orphan()`);
    }
  });

  it('when a file does not compile, applying the files fails naming that file and changes no function', async () => {
    const broken = readFunctionFiles().map((f) =>
      f.name === 'billing_csv_text' ? { ...f, sql: f.sql.replace('WHEN v ~', 'WHEN no_such_column ~') } : f,
    );
    const client = await database.db.pool.connect();
    try {
      await client.query('BEGIN');
      await expect(applyFunctionFiles(client, broken)).rejects.toThrow(/billing_csv_text\.sql: .*no_such_column/);
      await client.query('ROLLBACK');
      expect(await functionDrift(client)).toEqual([]);
    } finally {
      client.release();
    }
  });
});
