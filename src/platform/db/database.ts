import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../../generated/prisma/client';
import { PipelinedConnection } from './pipelined-connection';

export interface Database {
  /** Shared by Prisma and the few places that stream (CSV export), so one pool is sized and measured. */
  pool: pg.Pool;
  prisma: PrismaClient;
  /** One more connection, outside the pool, for group commit of charges (see PipelinedConnection). */
  pipeline: PipelinedConnection;
  close(): Promise<void>;
}

// Return NUMERIC and BIGINT as strings from raw pg queries: never a JS number near money.
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => v);
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

/** A pool as the service uses it, on the primary or on the read replica (its own application_name). */
export function createPool(url: string, options: { min: number; max: number; applicationName: string }): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    min: options.min,
    max: options.max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    application_name: options.applicationName,
  });
  // An idle client's network error must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return pool;
}

export function createDatabase(url: string, options: { min?: number; max?: number } = {}): Database {
  const pool = createPool(url, { min: options.min ?? 2, max: options.max ?? 10, applicationName: 'scholarlink-billing' });
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const pipeline = new PipelinedConnection({ connectionString: url, application_name: 'scholarlink-billing-charges', connectionTimeoutMillis: 10_000 });
  return {
    pool,
    prisma,
    pipeline,
    async close() {
      await pipeline.close();
      await prisma.$disconnect().catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
}
