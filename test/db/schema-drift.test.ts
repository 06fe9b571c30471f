import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { readPrismaModels } from '../helpers/prisma-schema';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

interface DbColumn {
  table_name: string;
  column_name: string;
  type: string;
  nullable: boolean;
}

describe('schema.prisma and prisma/migrations', () => {
  const models = readPrismaModels();

  it('declare the same tables', async () => {
    const rows = await database.sql<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'
       AND table_name <> '_prisma_migrations'`,
    );
    expect(rows.map((r) => r.table_name).sort()).toEqual(models.map((m) => m.table).sort());
  });

  it('declare the same columns, types and nullability for every table', async () => {
    const rows = await database.sql<DbColumn>(
      `SELECT c.table_name, c.column_name, c.is_nullable = 'YES' AS nullable,
              CASE WHEN c.data_type = 'numeric' THEN format('numeric(%s,%s)', c.numeric_precision, c.numeric_scale)
              ELSE c.data_type END AS type
       FROM information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name <> '_prisma_migrations'`,
    );
    for (const model of models) {
      const actual = rows
        .filter((r) => r.table_name === model.table)
        .map((r) => ({ column: r.column_name, type: r.type, nullable: r.nullable }));
      const sort = (a: { column: string }, b: { column: string }) => a.column.localeCompare(b.column);
      expect({ table: model.table, columns: actual.sort(sort) }).toEqual({
        table: model.table,
        columns: [...model.columns].sort(sort),
      });
    }
  });

  it('declare the same primary keys, unique keys and indexes', async () => {
    const rows = await database.sql<{ table: string; columns: string[]; unique: boolean; primary: boolean }>(
      // A partial unique index (topups_one_in_flight_key) cannot be stated in schema.prisma: the model
      // lists it as an index, so it is compared as one.
      `SELECT t.relname AS table, ix.indisunique AND ix.indpred IS NULL AS unique, ix.indisprimary AS primary,
              array_agg(a.attname::text ORDER BY k.ord) AS columns
       FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
       CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
       WHERE n.nspname = 'public' AND t.relname <> '_prisma_migrations'
       GROUP BY t.relname, ix.indexrelid, ix.indisunique, ix.indpred IS NULL, ix.indisprimary`,
    );
    const key = (cols: string[]) => cols.join(',');
    for (const model of models) {
      const mine = rows.filter((r) => r.table === model.table);
      expect({ table: model.table, pk: mine.find((r) => r.primary)?.columns }).toEqual({
        table: model.table,
        pk: model.primaryKey,
      });
      const uniques = mine
        .filter((r) => r.unique && !r.primary)
        .map((r) => key(r.columns))
        .sort();
      expect({ table: model.table, uniques }).toEqual({ table: model.table, uniques: model.uniques.map(key).sort() });
      const indexes = mine
        .filter((r) => !r.unique)
        .map((r) => key(r.columns))
        .sort();
      expect({ table: model.table, indexes }).toEqual({ table: model.table, indexes: model.indexes.map(key).sort() });
    }
  });
});
