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
  /**
   * For a shutdown whose requests are stuck (a charge waiting for a lock): refuses new queries and
   * cancels the statements still running on this process's connections, so their requests answer
   * (503, retryable) and the process can exit. Work a cancel rolls back was never confirmed.
   */
  cancelRunning(): Promise<void>;
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
  // pg-pool drops its own listener while a client is checked out: a backend terminated between two
  // queries (a failover, pg_terminate_backend) would emit an 'error' nobody hears, which ends the
  // process. Heard here, the client is broken: its next query fails as a database fault (503).
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

export function createDatabase(url: string, options: { min?: number; max?: number } = {}): Database {
  const pool = createPool(url, {
    min: options.min ?? 2,
    max: options.max ?? 10,
    applicationName: 'scholarlink-billing',
  });
  // The pool's connections, for cancelRunning (pg keeps its list private).
  const pooled = new Set<pg.PoolClient>();
  pool.on('connect', (client) => pooled.add(client));
  pool.on('remove', (client) => pooled.delete(client));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const pipeline = new PipelinedConnection({
    connectionString: url,
    application_name: 'scholarlink-billing-charges',
    connectionTimeoutMillis: 10_000,
  });
  return {
    pool,
    prisma,
    pipeline,
    async cancelRunning() {
      const pids = [...pooled].map((c) => (c as { processID?: number }).processID);
      pids.push(pipeline.backendPid());
      pipeline.refuseNew();
      pool.end().catch(() => undefined); // refuses new checkouts at once; resolves when the last is released
      // From a connection of its own: the pool takes no more work.
      const canceller = new pg.Client({
        connectionString: url,
        application_name: 'scholarlink-billing-shutdown',
        connectionTimeoutMillis: 2000,
      });
      try {
        await canceller.connect();
        await canceller.query('SELECT pg_cancel_backend(pid) FROM unnest($1::int[]) AS pid', [
          pids.filter((p): p is number => typeof p === 'number'),
        ]);
      } finally {
        await canceller.end().catch(() => undefined);
      }
    },
    async close() {
      await pipeline.close();
      await prisma.$disconnect().catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
}
