import type pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../../generated/prisma/client';
import { createPool, type Database } from './database';
import { ReplicaFreshness } from './replica-freshness';

/** What a read-only repository needs: the primary's Database and the replica's both fit. */
export type ReadDatabase = Pick<Database, 'pool' | 'prisma'>;

export interface ReadReplica {
  db: ReadDatabase;
  freshness: ReplicaFreshness;
  close(): Promise<void>;
}

export interface ReadReplicaOptions {
  min?: number;
  max?: number;
  maxLagSeconds: number;
  cacheMs?: number;
}

/**
 * A pool and a Prisma client on the streaming replica (DATABASE_READ_URL), plus the lag check
 * that decides per read whether the replica may answer (see ReadRouter).
 */
export function createReadReplica(url: string, primary: pg.Pool, options: ReadReplicaOptions): ReadReplica {
  const pool = createPool(url, {
    min: options.min ?? 0,
    max: options.max ?? 5,
    applicationName: 'scholarlink-billing-reads',
  });
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const freshness = new ReplicaFreshness(
    primary,
    { connectionString: url, application_name: 'scholarlink-billing-replica-check' },
    {
      maxLagSeconds: options.maxLagSeconds,
      cacheMs: options.cacheMs,
    },
  );
  return {
    db: { pool, prisma },
    freshness,
    async close() {
      await freshness.close();
      await prisma.$disconnect().catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
}
