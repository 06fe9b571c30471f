import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDatabase, type Database } from '../../src/platform/db/database';
import { migrate } from '../../src/platform/db/migrator';

export interface TestDatabase {
  url: string;
  db: Database;
  /** Plain SQL for assertions and for corrupting data on purpose. */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.TEST_ADMIN_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!url) throw new Error('No test database: run through jest (global setup) or set TEST_DATABASE_URL');
  return url;
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A fresh, migrated database of its own for one test file. */
export async function createTestDatabase(
  options: { poolMax?: number; migrated?: boolean } = {},
): Promise<TestDatabase> {
  const name = `billing_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = withDatabase(adminUrl(), name);
  if (options.migrated !== false) await migrate(url);
  const db = createDatabase(url, { min: 0, max: options.poolMax ?? 20 });
  return {
    url,
    db,
    async sql<T>(text: string, params: unknown[] = []) {
      return (await db.pool.query(text, params)).rows as T[];
    },
    async drop() {
      await db.close();
      const c = new pg.Client({ connectionString: adminUrl() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}
