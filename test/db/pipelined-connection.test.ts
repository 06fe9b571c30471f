import { PipelinedConnection } from '../../src/platform/db/pipelined-connection';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

let t: TestDatabase;
let pipe: PipelinedConnection;
const APP = 'pipelined-connection-test';

beforeAll(async () => {
  t = await createTestDatabase({ poolMax: 2 });
  await t.sql(`CREATE TABLE pipe_rows (k TEXT PRIMARY KEY)`);
});
beforeEach(() => {
  pipe = new PipelinedConnection({ connectionString: t.url, application_name: APP });
});
afterEach(() => pipe.close());
afterAll(() => t.drop());

const backends = async () =>
  (await t.sql<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = $1`, [APP])).map(
    (r) => r.pid,
  );

describe('pipelined connection', () => {
  it('when queries are sent together on one connection, each gets its own answer, in order', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => pipe.query<{ n: number }>({ text: 'SELECT $1::int AS n', values: [i] })),
    );
    expect(answers.map((a) => a.rows[0].n)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(await backends()).toHaveLength(1);
  });

  it('when one named statement of the pipeline fails, only its writes roll back; later ones commit', async () => {
    // named and with parameters, like the charges: Parse/Bind/Execute/Sync, not the simple protocol
    const insert = (k: string, divisor: number) =>
      pipe.query({
        name: 'pipe-insert',
        text: `WITH w AS (INSERT INTO pipe_rows VALUES ($1) RETURNING k) SELECT 1 / $2::int FROM w`,
        values: [k, divisor],
      });
    const results = await Promise.allSettled([insert('a', 1), insert('b', 0), insert('c', 1)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await t.sql<{ k: string }>(`SELECT k FROM pipe_rows ORDER BY k`)).map((r) => r.k)).toEqual(['a', 'c']);
    expect(await backends()).toHaveLength(1);
  });

  it('when a migration changes a statement result, only that query fails; the next gets a new connection', async () => {
    await t.sql(`CREATE TABLE pipe_shape (a INT)`);
    const read = () => pipe.query({ name: 'pipe-shape', text: 'SELECT * FROM pipe_shape' });
    await read();
    const [pid] = await backends();
    await t.sql(`ALTER TABLE pipe_shape ADD COLUMN b INT`);
    await expect(read()).rejects.toMatchObject({ code: '0A000' });
    const again = await read();
    expect(again.fields.map((f) => f.name)).toEqual(['a', 'b']);
    expect(await backends()).not.toContain(pid);
  });

  it('when its backend is terminated, the queries on it fail and the next query gets a new connection', async () => {
    await pipe.query({ text: 'SELECT 1' });
    const [pid] = await backends();
    const sleeping = pipe.query({ text: 'SELECT pg_sleep(5)' });
    await t.sql(`SELECT pg_terminate_backend($1)`, [pid]);
    await expect(sleeping).rejects.toThrow();
    const again = await pipe.query<{ n: number }>({ text: 'SELECT 7 AS n' });
    expect(again.rows[0].n).toBe(7);
    const now = await backends();
    expect(now).toHaveLength(1);
    expect(now[0]).not.toBe(pid);
  });

  it('once closed, it refuses queries and leaves no connection behind', async () => {
    await pipe.query({ text: 'SELECT 1' });
    await pipe.close();
    await expect(pipe.query({ text: 'SELECT 1' })).rejects.toThrow(/closed/);
    expect(await backends()).toHaveLength(0);
  });
});
