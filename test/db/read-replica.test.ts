import request from 'supertest';
import { createDatabase } from '../../src/platform/db/database';
import { createReadReplica, type ReadReplica } from '../../src/platform/db/read-replica';
import { ReadRouter } from '../../src/platform/db/read-router';
import { createLogger } from '../../src/platform/logger';
import { createMetrics } from '../../src/platform/metrics';
import { startReplicaCluster, type ReplicaCluster } from '../helpers/replica-cluster';
import { createTestApp, type TestApp } from '../helpers/test-app';
import type { TestDatabase } from '../helpers/database';
import { balanceOf, grant, reconcile } from '../helpers/wallets';

// A real primary and hot standby (Debian's PostgreSQL 15, streaming replication). Three apps share
// them: "strict" (lag limit 1 s), "lenient" (1 h, so reads stay on a paused standby) and "cached"
// (its lag verdict kept for a minute, so a read meets a standby that stopped after the check).
let cluster: ReplicaCluster;
let primary: TestDatabase;
const replicas: ReadReplica[] = [];
const apps: Record<'strict' | 'lenient' | 'cached' | 'plain', TestApp> = {} as never;

async function appWith(maxLagSeconds: number | undefined, cacheMs = 0): Promise<TestApp> {
  const metrics = createMetrics();
  const logger = createLogger('silent');
  let reads: ReadRouter | undefined;
  if (maxLagSeconds !== undefined) {
    const replica = createReadReplica(cluster.standbyUrl, primary.db.pool, { max: 3, maxLagSeconds, cacheMs });
    replicas.push(replica);
    reads = new ReadRouter(primary.db, replica, metrics, logger);
  }
  return createTestApp({ database: primary, deps: { metrics, reads } });
}

beforeAll(async () => {
  cluster = await startReplicaCluster();
  const db = createDatabase(cluster.primaryUrl, { min: 0, max: 10 });
  primary = {
    url: cluster.primaryUrl,
    db,
    sql: async (text, params = []) => (await db.pool.query(text, params)).rows,
    drop: async () => undefined,
  };
  apps.strict = await appWith(1);
  apps.lenient = await appWith(3600);
  apps.cached = await appWith(3600, 60_000);
  apps.plain = await appWith(undefined);
  await grant(apps.plain, 'rr-alice', '100');
  await cluster.caughtUp();
}, 120_000);

afterAll(async () => {
  for (const r of replicas) await r.close();
  await primary?.db.close();
  await cluster?.stop();
});

const get = (t: TestApp, path: string) => request(t.app).get(path).set('Authorization', `Bearer ${t.admin}`);
const exportRows = async (t: TestApp) => {
  const res = await get(t, '/v1/ledger/export.csv');
  expect(res.status).toBe(200);
  return {
    res,
    users: res.text
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((line) => line.split(',')[2]),
  };
};
async function fallbacks(t: TestApp, reason: string): Promise<number> {
  const text = (await request(t.app).get('/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`billing_read_fallback_total{reason="${reason}"}`));
  return line ? Number(line.split(' ')[1]) : 0;
}
const readsOnStandby = async () =>
  (
    await cluster.sql<{ n: number }>(
      'standby',
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'scholarlink-billing-reads'",
    )
  )[0].n;

describe('reads on a streaming replica', () => {
  it('serves the export and reports from the standby, with X-Data-As-Of; a row appears once replayed', async () => {
    await cluster.sql('standby', 'SELECT pg_wal_replay_pause()');
    const pausedAt = Date.now();
    try {
      await grant(apps.plain, 'rr-late', '7');
      // The paused standby lacks rr-late: only an answer from the standby can miss it.
      const before = await exportRows(apps.lenient);
      expect(before.users).toContain('rr-alice');
      expect(before.users).not.toContain('rr-late');
      const asOf = new Date(before.res.headers['x-data-as-of']);
      expect(asOf.getTime()).toBeLessThanOrEqual(pausedAt);
      const credits = await get(apps.lenient, '/v1/admin/reports/credits');
      expect(credits.status).toBe(200);
      expect(credits.headers['x-data-as-of']).toBe(asOf.toISOString());
      expect(credits.body.ok).toBe(true);
      expect(credits.body.wallets.count).toBe(1);
      const usage = await get(apps.lenient, '/v1/admin/reports/usage');
      expect(usage.headers['x-data-as-of']).toBe(asOf.toISOString());
      expect(await readsOnStandby()).toBeGreaterThan(0);
      const onPrimary = await cluster.sql<{ n: number }>(
        'primary',
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'scholarlink-billing-reads'",
      );
      expect(onPrimary[0].n).toBe(0);
    } finally {
      await cluster.sql('standby', 'SELECT pg_wal_replay_resume()');
    }
    await cluster.caughtUp();
    const after = await exportRows(apps.lenient);
    expect(after.users).toContain('rr-late');
    expect(after.res.headers['x-data-as-of']).toBeDefined();
    expect(await fallbacks(apps.lenient, 'lag')).toBe(0);
  });

  it('keeps using an idle standby that has replayed everything, though its last commit is past the limit', async () => {
    await cluster.caughtUp();
    await new Promise((r) => setTimeout(r, 1500));
    const before = await fallbacks(apps.strict, 'lag');
    const { res } = await exportRows(apps.strict);
    expect(Date.now() - new Date(res.headers['x-data-as-of']).getTime()).toBeGreaterThan(1000);
    expect(await fallbacks(apps.strict, 'lag')).toBe(before);
  });

  it('still uses the idle standby after the primary switched to a new WAL segment', async () => {
    // The primary's insert position then sits past the new page's header, where the standby's replay stops short.
    const [{ end }] = await cluster.sql<{ end: string }>('primary', 'SELECT pg_switch_wal()::text AS "end"');
    while (
      !(await cluster.sql<{ ok: boolean }>('standby', 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [end]))[0]
        .ok
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 1500));
    const before = await fallbacks(apps.strict, 'lag');
    const { res } = await exportRows(apps.strict);
    expect(res.headers['x-data-as-of']).toBeDefined();
    expect(await fallbacks(apps.strict, 'lag')).toBe(before);
  });

  it('without DATABASE_READ_URL, answers from the primary with no X-Data-As-Of', async () => {
    const { res } = await exportRows(apps.plain);
    expect(res.headers['x-data-as-of']).toBeUndefined();
    expect((await get(apps.plain, '/v1/ledger?userId=rr-alice')).headers['x-data-as-of']).toBeUndefined();
  });

  it('when replay is paused beyond the lag limit, reads go to the primary and count a lag fallback', async () => {
    const before = await fallbacks(apps.strict, 'lag');
    await cluster.sql('standby', 'SELECT pg_wal_replay_pause()');
    try {
      await grant(apps.plain, 'rr-paused', '3');
      await new Promise((r) => setTimeout(r, 1500));
      const { res, users } = await exportRows(apps.strict);
      expect(users).toContain('rr-paused');
      expect(res.headers['x-data-as-of']).toBeUndefined();
      const history = await get(apps.strict, '/v1/ledger?userId=rr-paused');
      expect(history.body.data).toHaveLength(1);
      expect(history.headers['x-data-as-of']).toBeUndefined();
      const report = await get(apps.strict, '/v1/admin/reports/credits');
      expect(report.body.wallets.count).toBe(3);
      expect(report.headers['x-data-as-of']).toBeUndefined();
      expect(await fallbacks(apps.strict, 'lag')).toBe(before + 3);
      const metrics = (await request(apps.strict.app).get('/metrics')).text;
      expect(Number(/^billing_read_replica_lag_seconds (\S+)$/m.exec(metrics)![1])).toBeGreaterThan(1);
    } finally {
      await cluster.sql('standby', 'SELECT pg_wal_replay_resume()');
    }
    await cluster.caughtUp();
    const { res } = await exportRows(apps.strict);
    expect(res.headers['x-data-as-of']).toBeDefined();
  });

  it('charges and balances stay on the primary: a charge shows in the balance at once, on no standby', async () => {
    await cluster.sql('standby', 'SELECT pg_wal_replay_pause()');
    try {
      const charged = await reconcile(apps.lenient, {
        userId: 'rr-alice',
        requestId: 'rr-charge-1',
        model: 'gpt-4o',
        inputTokens: 1000,
        outputTokens: 500,
      });
      expect(charged.status).toBe(201);
      expect((await balanceOf(apps.lenient, 'rr-alice')).balance).toBe('50');
      // History still comes from the paused standby, which has not seen the charge.
      const history = await get(apps.lenient, '/v1/ledger?userId=rr-alice');
      expect(history.headers['x-data-as-of']).toBeDefined();
      expect(history.body.data.map((e: { type: string }) => e.type)).toEqual(['adjustment']);
      const names = await cluster.sql<{ name: string }>(
        'standby',
        'SELECT DISTINCT application_name AS name FROM pg_stat_activity ' +
          "WHERE application_name LIKE 'scholarlink-billing%'",
      );
      expect(names.map((r) => r.name).sort()).toEqual([
        'scholarlink-billing-reads',
        'scholarlink-billing-replica-check',
      ]);
    } finally {
      await cluster.sql('standby', 'SELECT pg_wal_replay_resume()');
    }
  });

  it('serves the usage summary from the standby with X-Data-As-Of, and from the primary once replay lags', async () => {
    await grant(apps.plain, 'rr-chart', '100');
    const charge = (requestId: string) =>
      reconcile(apps.plain, { userId: 'rr-chart', requestId, model: 'gpt-4o', inputTokens: 100, outputTokens: 50 });
    expect((await charge('rr-chart-1')).status).toBe(201);
    await cluster.caughtUp();
    const requests = (res: request.Response) => res.body.data.map((d: { requests: number }) => d.requests);
    const lagBefore = await fallbacks(apps.strict, 'lag');
    await cluster.sql('standby', 'SELECT pg_wal_replay_pause()');
    try {
      expect((await charge('rr-chart-2')).status).toBe(201);
      // The paused standby lacks the second charge: only an answer from the standby can count one request.
      // By model, not by day: the two charges may fall on either side of a UTC midnight.
      const onStandby = await get(apps.lenient, '/v1/usage/summary?userId=rr-chart&groupBy=model');
      expect(onStandby.status).toBe(200);
      expect(requests(onStandby)).toEqual([1]);
      expect(onStandby.headers['x-data-as-of']).toBeDefined();

      await new Promise((r) => setTimeout(r, 1500));
      const onPrimary = await get(apps.strict, '/v1/usage/summary?userId=rr-chart&groupBy=model');
      expect(onPrimary.status).toBe(200);
      expect(requests(onPrimary)).toEqual([2]);
      expect(onPrimary.headers['x-data-as-of']).toBeUndefined();
      expect(await fallbacks(apps.strict, 'lag')).toBe(lagBefore + 1);
    } finally {
      await cluster.sql('standby', 'SELECT pg_wal_replay_resume()');
    }
    await cluster.caughtUp();
    const replayed = await get(apps.lenient, '/v1/usage/summary?userId=rr-chart&groupBy=model');
    expect(requests(replayed)).toEqual([2]);
    expect(replayed.headers['x-data-as-of']).toBeDefined();
  });

  it('with the standby stopped, reads go to the primary, readiness holds and charges go on', async () => {
    await cluster.caughtUp();
    await exportRows(apps.cached); // caches a "usable" verdict for a minute
    await cluster.stopStandby();
    await grant(apps.plain, 'rr-after-stop', '1');

    const strict = await exportRows(apps.strict);
    expect(strict.users).toContain('rr-after-stop');
    expect(strict.res.headers['x-data-as-of']).toBeUndefined();
    expect(await fallbacks(apps.strict, 'unavailable')).toBe(1);
    const summary = await get(apps.strict, '/v1/usage/summary?userId=rr-chart&groupBy=model');
    expect(summary.status).toBe(200);
    expect(summary.body.data.map((d: { requests: number }) => d.requests)).toEqual([2]);
    expect(summary.headers['x-data-as-of']).toBeUndefined();
    expect(await fallbacks(apps.strict, 'unavailable')).toBe(2);

    // The cached verdict still says "usable": the read fails on the standby and the primary answers.
    const cached = await exportRows(apps.cached);
    expect(cached.users).toContain('rr-after-stop');
    expect(cached.res.headers['x-data-as-of']).toBeUndefined();
    expect(await fallbacks(apps.cached, 'query_failed')).toBe(1);
    expect((await get(apps.cached, '/v1/admin/reports/usage')).status).toBe(200);

    expect((await request(apps.strict.app).get('/readyz')).status).toBe(200);
    const charged = await reconcile(apps.strict, {
      userId: 'rr-alice',
      requestId: 'rr-charge-2',
      model: 'gpt-4o',
      inputTokens: 1000,
      outputTokens: 500,
    });
    expect(charged.status).toBe(201);
  });
});
