import pg from 'pg';
import { createPool } from '../../src/platform/db/database';

const url = () => process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

describe('a pooled connection whose backend is terminated while checked out', () => {
  it('does not end the process: the next query on it fails, and the pool serves the one after', async () => {
    const pool = createPool(url(), { min: 0, max: 2, applicationName: 'pool-client-errors-test' });
    const admin = new pg.Client({ connectionString: url() });
    await admin.connect();
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      // Checked out and between queries, as in a multi-statement transaction or after a COPY.
      const client = await pool.connect();
      const ended = new Promise((resolve) => client.once('end', resolve));
      await admin.query('SELECT pg_terminate_backend($1)', [(client as unknown as { processID: number }).processID]);
      await ended;
      await expect(client.query('SELECT 1')).rejects.toThrow();
      client.release(new Error('terminated'));
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      await admin.end();
      await pool.end();
    }
  });
});
