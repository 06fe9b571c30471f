import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { migrate, readMigrations, MIGRATIONS_DIR } from '../../src/platform/db/migrator';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { createTestApp } from '../helpers/test-app';

let database: TestDatabase;
beforeEach(async () => {
  database = await createTestDatabase({ migrated: false });
});
afterEach(() => database.drop());

describe('npm run db:migrate (src/platform/db/migrator.ts)', () => {
  it('records each migration as prisma migrate deploy does: sha256 checksum, finished_at, one step', async () => {
    const applied = await migrate(database.url);
    const onDisk = fs
      .readdirSync(MIGRATIONS_DIR)
      .filter((d) => fs.existsSync(path.join(MIGRATIONS_DIR, d, 'migration.sql')))
      .sort();
    expect(applied).toEqual(onDisk);
    const rows = await database.sql<{
      migration_name: string;
      checksum: string;
      finished: boolean;
      applied_steps_count: number;
    }>(
      `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished, applied_steps_count
              FROM _prisma_migrations ORDER BY migration_name`,
    );
    expect(rows).toEqual(
      onDisk.map((name) => ({
        migration_name: name,
        checksum: createHash('sha256')
          .update(fs.readFileSync(path.join(MIGRATIONS_DIR, name, 'migration.sql')))
          .digest('hex'),
        finished: true,
        applied_steps_count: 1,
      })),
    );
  });

  it('applies nothing the second time', async () => {
    await migrate(database.url);
    expect(await migrate(database.url)).toEqual([]);
  });

  it('when two deploys migrate at once, the advisory lock lets each migration run exactly once', async () => {
    const [a, b] = await Promise.all([migrate(database.url), migrate(database.url)]);
    expect([...a, ...b].sort()).toEqual(readMigrations().map((m) => m.name));
    const [row] = await database.sql<{ n: number }>(`SELECT count(*)::int AS n FROM _prisma_migrations`);
    expect(row.n).toBe(readMigrations().length);
  });

  it('keeps /readyz at 503 until migrations are applied, then 200', async () => {
    const t = await createTestApp({ database });
    expect((await request(t.app).get('/readyz')).status).toBe(503);
    await migrate(database.url);
    expect((await request(t.app).get('/readyz')).status).toBe(200);
  });
});
