import type pg from 'pg';

/**
 * Runs work on one pooled connection inside a transaction opened with begin (e.g. 'BEGIN' or
 * 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY'): committed when work resolves, rolled back
 * when it throws. A connection whose transaction could not be ended is not given back to the pool.
 */
export async function inTransaction<T>(
  pool: Pick<pg.Pool, 'connect'>,
  begin: string,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const value = await work(client);
    await client.query('COMMIT');
    client.release();
    return value;
  } catch (error) {
    const ended = await client.query('ROLLBACK').then(
      () => true,
      () => false,
    );
    client.release(ended ? undefined : (error as Error));
    throw error;
  }
}
