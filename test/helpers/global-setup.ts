import path from 'node:path';
import { startEmbeddedPostgres } from '../../src/platform/db/embedded';

/**
 * The suite's PostgreSQL: TEST_DATABASE_URL or DATABASE_URL when given (an account that may
 * CREATE DATABASE), otherwise a real embedded PostgreSQL under .data/test-pg. Each test file
 * then creates its own database on it (test/helpers/database.ts), so files run in parallel.
 */
export default async function globalSetup() {
  if (process.env.TEST_DATABASE_URL || process.env.DATABASE_URL) {
    process.env.TEST_ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
    return;
  }
  const dir = path.resolve(__dirname, '../../.data/test-pg');
  const embedded = await startEmbeddedPostgres(dir, Number(process.env.TEST_EMBEDDED_PG_PORT ?? 54330), 'postgres');
  process.env.TEST_ADMIN_DATABASE_URL = embedded.url;
  (globalThis as { __EMBEDDED_PG__?: { stop(): Promise<void> } }).__EMBEDDED_PG__ = embedded;
}
