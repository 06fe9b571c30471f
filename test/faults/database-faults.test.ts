import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import pg from 'pg';
import request from 'supertest';
import { createDatabase, type Database } from '../../src/platform/db/database';
import { tcpProxy } from '../helpers/tcp-proxy';
import { createTestApp, type TestApp } from '../helpers/test-app';
import { grant } from '../helpers/wallets';
import { ledgerViolations, NO_VIOLATIONS } from '../helpers/ledger-invariants';

let t: TestApp;
let server: http.Server;
let base: string;
let admin: pg.Client;

beforeAll(async () => {
  t = await createTestApp();
  server = http.createServer(t.app).listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The admin connection that terminates the service's backends, as a failover or a proxy restart would.
  admin = new pg.Client({ connectionString: t.database.url, application_name: 'fault-injector' });
  await admin.connect();
});
afterAll(async () => {
  await admin.end();
  server.closeAllConnections();
  server.close();
  await t.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every backend the service holds (its pool and its pipelined charge connection). */
async function terminateServiceBackends(): Promise<number> {
  const { rows } = await admin.query<{ killed: boolean }>(
    `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
     WHERE datname = current_database() AND application_name LIKE 'scholarlink-billing%'`,
  );
  return rows.filter((r) => r.killed).length;
}

interface Attempt {
  status: number;
  code?: string;
  retryAfter: string | null;
}

async function charge(userId: string, requestId: string): Promise<Attempt> {
  const res = await fetch(`${base}/v1/usage/reconcile`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${t.gateway}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ userId, requestId, model: 'gpt-4o', inputTokens: 1000, outputTokens: 500 }),
  });
  const body = (await res.json()) as { code?: string };
  return { status: res.status, code: body.code, retryAfter: res.headers.get('retry-after') };
}

// Reads that hold a pooled connection across several queries (the trial balance runs in one
// transaction) or stream (the export): a backend killed between two of their queries must not end the
// process, nor answer 500.
const READS = [
  '/v1/admin/reports/credits',
  '/v1/admin/reports/usage',
  '/v1/ledger?userId=fault-user-0',
  '/v1/ledger/export.csv?userId=fault-user-1',
];

describe('database faults under load', () => {
  it('backends killed 3 times mid-load: no 500, each request charged once, readiness recovers by itself', async () => {
    const users = Array.from({ length: 30 }, (_, i) => `fault-user-${i}`);
    for (const u of users) await grant(t, u, '1000');
    const calls = Array.from({ length: 300 }, (_, i) => ({
      userId: users[i % users.length],
      requestId: `fault-call-${i}`,
    }));
    const attempts: Attempt[] = [];
    let done = 0;
    let next = 0;

    const worker = async () => {
      while (next < calls.length) {
        const call = calls[next++];
        for (let attempt = 0; ; attempt++) {
          const a = await charge(call.userId, call.requestId);
          attempts.push(a);
          if (a.status >= 200 && a.status < 300) break;
          if (attempt > 50) throw new Error(`${call.requestId} never succeeded: ${JSON.stringify(a)}`);
          await sleep(50); // the same requestId again, as the gateway retries
        }
        done++;
      }
    };
    const injector = async () => {
      const killed: number[] = [];
      for (const at of [60, 140, 220]) {
        while (done < at) await sleep(5);
        killed.push(await terminateServiceBackends());
      }
      return killed;
    };

    const reads: { path: string; status: number }[] = [];
    const reader = async () => {
      for (let i = 0; done < calls.length; i++) {
        const path = READS[i % READS.length];
        const res = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${t.admin}` } });
        await res.arrayBuffer();
        reads.push({ path, status: res.status });
      }
    };

    const [killed] = await Promise.all([injector(), reader(), reader(), ...Array.from({ length: 10 }, worker)]);

    expect(killed.every((n) => n > 0)).toBe(true);
    const failures = attempts.filter((a) => a.status < 200 || a.status >= 300);
    expect(failures.filter((a) => a.status >= 500 && a.status !== 503)).toEqual([]);
    for (const f of failures)
      expect(f).toMatchObject({
        status: 503,
        code: 'database_unavailable',
        retryAfter: expect.stringMatching(/^\d+$/),
      });

    expect(reads.length).toBeGreaterThan(0);
    expect(reads.filter((r) => r.status !== 200 && r.status !== 503)).toEqual([]);

    const [usages] = await t.database.sql<{ n: number; distinct: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT request_id)::int AS distinct FROM usages
       WHERE user_id LIKE 'fault-user-%'`,
    );
    expect(usages).toEqual({ n: 300, distinct: 300 });
    const balances = await t.database.sql<{ balance: string }>(
      `SELECT balance::text FROM accounts WHERE user_id LIKE 'fault-user-%'`,
    );
    expect(balances).toHaveLength(30);
    for (const b of balances) expect(Number(b.balance)).toBe(1000 - 10 * 50);
    expect(await ledgerViolations(t.database)).toEqual(NO_VIOLATIONS);

    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
  });
});

describe('an unreachable database', () => {
  let proxied: TestApp;
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  let db: Database;

  beforeAll(async () => {
    const target = new URL(t.database.url);
    proxy = await tcpProxy(target.hostname, Number(target.port || 5432));
    const viaProxy = new URL(t.database.url);
    viaProxy.port = new URL(proxy.url).port;
    db = createDatabase(viaProxy.toString(), { min: 0, max: 4 });
    proxied = await createTestApp({ database: t.database, deps: { db } });
  });
  afterAll(async () => {
    await db.close();
    await proxy.stop();
  });

  const routes = (a: TestApp) => [
    request(a.app)
      .post('/v1/usage/reconcile')
      .set('Authorization', `Bearer ${a.gateway}`)
      .send({ userId: 'down-user', requestId: 'down-1', model: 'gpt-4o', inputTokens: 10, outputTokens: 10 }),
    request(a.app)
      .post('/v1/usage/holds')
      .set('Authorization', `Bearer ${a.gateway}`)
      .send({ userId: 'down-user', requestId: 'down-2', model: 'gpt-4o', maxInputTokens: 10, maxOutputTokens: 10 }),
    request(a.app)
      .post('/v1/usage/holds/00000000-0000-4000-8000-000000000000/release')
      .set('Authorization', `Bearer ${a.gateway}`)
      .send(),
    request(a.app)
      .get('/v1/balance')
      .set('Authorization', `Bearer ${a.token('down-user')}`),
    request(a.app)
      .get('/v1/ledger')
      .set('Authorization', `Bearer ${a.token('down-user')}`),
    request(a.app)
      .post('/v1/admin/credits/adjustments')
      .set('Authorization', `Bearer ${a.admin}`)
      .set('Idempotency-Key', 'down-adjustment')
      .send({ userId: 'down-user', amount: '5', reason: 'outage test' }),
    request(a.app).get('/v1/admin/reports/credits').set('Authorization', `Bearer ${a.admin}`),
  ];

  it('answers every route 503 database_unavailable with Retry-After, readiness 503; recovers by itself', async () => {
    await grant(proxied, 'down-user', '100');
    expect((await request(proxied.app).get('/readyz')).status).toBe(200);

    await proxy.stop();
    for (const res of await Promise.all(routes(proxied))) {
      expect({ status: res.status, code: res.body.code, retryAfter: res.headers['retry-after'] }).toEqual({
        status: 503,
        code: 'database_unavailable',
        retryAfter: '1',
      });
      expect(JSON.stringify(res.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|stack/);
    }
    expect((await request(proxied.app).get('/readyz')).status).toBe(503);
    expect((await request(proxied.app).get('/healthz')).status).toBe(200); // alive: nothing to restart

    await proxy.start();
    expect((await request(proxied.app).get('/readyz')).status).toBe(200);
    const statuses = (await Promise.all(routes(proxied))).map((r) => r.status);
    expect(statuses).toEqual([201, 201, 404, 200, 200, 201, 200]);
    const [usage] = await t.database.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM usages WHERE user_id = 'down-user'`,
    );
    expect(usage.n).toBe(1);
  });
});
