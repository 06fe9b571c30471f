import http from 'node:http';
import net from 'node:net';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { makeKeyPair, signToken } from '../helpers/keys';
import { listeningPort, spawnServer, type ServerProcess } from '../helpers/ts-node-server';
import { AUDIENCE, ISSUER } from '../helpers/test-app';

type Outcome =
  { requestId: string; status: number; body: Record<string, unknown> } | { requestId: string; error: string };

let database: TestDatabase;
let server: ServerProcess | undefined;
const keys = makeKeyPair();
const token = (sub: string, scope?: string) => signToken(keys, sub, { issuer: ISSUER, audience: AUDIENCE, scope });

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
  await database.drop();
});

/** One request on a fresh connection (no keep-alive reuse), so every outcome belongs to exactly one request. */
function call(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: {
          ...headers,
          ...(body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () =>
          res.complete ? resolve({ status: res.statusCode!, text }) : reject(new Error('incomplete response')),
        );
        res.on('aborted', () => reject(new Error('response aborted half-way')));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The real server in production mode on this file's database, with the shutdown timing given. */
const productionEnv = (shutdown: { SHUTDOWN_DRAIN_SECONDS: string; SHUTDOWN_GRACE_SECONDS: string }) => ({
  NODE_ENV: 'production',
  DATABASE_URL: database.url,
  DATABASE_POOL_MIN: '0',
  JWT_PUBLIC_KEY: keys.publicKey,
  JWT_ISSUER: ISSUER,
  JWT_AUDIENCE: AUDIENCE,
  STRIPE_SECRET_KEY: 'sk_test_graceful',
  STRIPE_WEBHOOK_SECRET: 'whsec_graceful',
  HOST: '127.0.0.1',
  PORT: '0',
  LOG_LEVEL: 'info',
  ...shutdown,
});

const errorCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

describe('graceful shutdown of the real server process', () => {
  it('on SIGTERM under load: readiness 503, in-flight finish, new refused, every charge answered, exit 0', async () => {
    server = spawnServer(productionEnv({ SHUTDOWN_DRAIN_SECONDS: '1', SHUTDOWN_GRACE_SECONDS: '20' }));
    const port = await listeningPort(server, 90_000); // ts-node compiles the server first: slow on a busy machine
    const users = ['drain-a', 'drain-b', 'drain-c', 'drain-d'];
    const admin = token('ops-admin', 'billing:admin');
    for (const userId of users) {
      const res = await call(
        port,
        'POST',
        '/v1/admin/credits/adjustments',
        { Authorization: `Bearer ${admin}`, 'Idempotency-Key': `fund-${userId}` },
        JSON.stringify({ userId, amount: '1000000', reason: 'load test' }),
      );
      expect(res.status).toBe(201);
    }
    expect((await call(port, 'GET', '/readyz')).status).toBe(200);

    const gateway = { Authorization: `Bearer ${token('llm-gateway', 'usage:write')}` };
    const charge = (requestId: string, userId: string) =>
      JSON.stringify({ userId, requestId, model: 'gpt-4o', inputTokens: 1000, outputTokens: 500 });
    const outcomes: Outcome[] = [];
    let sent = 0;
    let signalled = false;
    let completedAfterSignal = 0;
    const worker = async (w: number) => {
      for (;;) {
        const requestId = `load-${w}-${sent++}`;
        try {
          const res = await call(
            port,
            'POST',
            '/v1/usage/reconcile',
            gateway,
            charge(requestId, users[w % users.length]),
          );
          outcomes.push({ requestId, status: res.status, body: JSON.parse(res.text) });
          if (signalled) completedAfterSignal++;
        } catch (e) {
          outcomes.push({ requestId, error: errorCode(e) });
          if (errorCode(e) === 'ECONNREFUSED' || sent > 5000) return;
        }
      }
    };
    const load = Promise.all(Array.from({ length: 12 }, (_, w) => worker(w)));
    while (outcomes.length < 60) await new Promise((r) => setTimeout(r, 10));

    // A request whose body is still arriving when SIGTERM comes: it must still be answered.
    const slow = net.connect(port, '127.0.0.1');
    await new Promise((r) => slow.once('connect', r));
    const slowBody = charge('slow-request', 'drain-a');
    slow.write(
      `POST /v1/usage/reconcile HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${gateway.Authorization}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(slowBody)}\r\n\r\n` +
        slowBody.slice(0, 10),
    );
    let slowResponse = '';
    slow.on('data', (d) => (slowResponse += d));
    const slowEnded = new Promise((r) => slow.once('close', r));
    await new Promise((r) => setTimeout(r, 200));

    server.child.kill('SIGTERM');
    signalled = true;

    // Draining: still serving, but readiness says 503 so the endpoint is taken out of rotation.
    let readiness: number | string = 'none';
    for (let i = 0; i < 50 && readiness !== 503; i++) {
      readiness = await call(port, 'GET', '/readyz').then((r) => r.status, errorCode);
    }
    expect(readiness).toBe(503);

    // Then the listener closes while the slow request keeps the process alive: new connections are refused.
    let refusedWhileAlive = false;
    for (let i = 0; i < 200 && !refusedWhileAlive; i++) {
      const result = await call(port, 'GET', '/healthz').then(() => 'served', errorCode);
      refusedWhileAlive = result === 'ECONNREFUSED' && server.child.exitCode === null;
      if (!refusedWhileAlive) await new Promise((r) => setTimeout(r, 20));
    }
    expect(refusedWhileAlive).toBe(true);

    slow.write(slowBody.slice(10));
    await slowEnded;
    expect(slowResponse).toMatch(/^HTTP\/1\.1 201 /);
    expect(slowResponse).toContain('"requestId":"slow-request"');

    await load;
    expect(await server.exited).toBe(0);
    expect(server.stdout()).toContain('shutdown complete');

    const answered = outcomes.filter((o): o is Extract<Outcome, { status: number }> => 'status' in o);
    const failed = outcomes.filter((o): o is Extract<Outcome, { error: string }> => 'error' in o);
    expect(answered.length).toBeGreaterThan(60);
    expect(completedAfterSignal).toBeGreaterThan(0);
    expect(answered.every((o) => o.status === 201 && o.body.credits === '50')).toBe(true);
    // Only connection-level failures before any byte of a response: refused after close, or reset
    // when the connection was still in the accept queue as the listener closed (what the readiness
    // drain spares real traffic, which the load balancer has stopped sending). None was charged (below).
    expect(failed.filter((f) => f.error !== 'ECONNREFUSED' && f.error !== 'ECONNRESET')).toEqual([]);
    expect(failed.some((f) => f.error === 'ECONNREFUSED')).toBe(true);

    const charged = await database.sql<{ request_id: string; transaction_id: string | null }>(
      `SELECT request_id, transaction_id FROM usages`,
    );
    const chargedIds = new Set(charged.map((r) => r.request_id));
    expect([...chargedIds].sort()).toEqual([...answered.map((o) => o.requestId), 'slow-request'].sort());
    expect(charged.every((r) => r.transaction_id !== null)).toBe(true);
    expect(failed.some((f) => chargedIds.has(f.requestId))).toBe(false);
    const [{ sum }] = await database.sql<{ sum: string }>(
      `SELECT coalesce(sum(p.amount), 0)::text AS sum FROM postings p JOIN ledger_transactions t
       ON t.id = p.transaction_id JOIN accounts a ON a.id = p.account_id WHERE t.type = 'usage'
       AND a.user_id IS NOT NULL`,
    );
    expect(sum).toMatch(new RegExp(`^-${(chargedIds.size * 50).toString()}(\\.0+)?$`));
  }, 180_000);

  it('on SIGTERM with a charge stuck on a wallet lock: it is cancelled, answered 503 uncharged, exit 0', async () => {
    server = spawnServer(productionEnv({ SHUTDOWN_DRAIN_SECONDS: '0', SHUTDOWN_GRACE_SECONDS: '30' }));
    const port = await listeningPort(server, 90_000); // ts-node compiles the server first: slow on a busy machine
    const admin = token('ops-admin', 'billing:admin');
    const funded = await call(
      port,
      'POST',
      '/v1/admin/credits/adjustments',
      { Authorization: `Bearer ${admin}`, 'Idempotency-Key': 'fund-stuck' },
      JSON.stringify({ userId: 'stuck-user', amount: '1000', reason: 'stuck test' }),
    );
    expect(funded.status).toBe(201);

    const locker = await database.db.pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM accounts WHERE user_id = 'stuck-user' FOR UPDATE`);
      const gateway = { Authorization: `Bearer ${token('llm-gateway', 'usage:write')}` };
      const stuck = call(
        port,
        'POST',
        '/v1/usage/reconcile',
        gateway,
        JSON.stringify({
          userId: 'stuck-user',
          requestId: 'stuck-call',
          model: 'gpt-4o',
          inputTokens: 1000,
          outputTokens: 500,
        }),
      );
      for (let i = 0; i < 400; i++) {
        const waiting = await database.sql(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        if (waiting.length > 0) break;
        await new Promise((r) => setTimeout(r, 25));
      }

      server.child.kill('SIGTERM');
      const answer = await stuck;
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.text)).toMatchObject({ code: 'database_unavailable' });
      expect(await server.exited).toBe(0); // an exit after the grace period would be 1
      expect(server.stdout()).toContain('cancelling their database work');
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    expect(await database.sql(`SELECT 1 FROM usages WHERE request_id = 'stuck-call'`)).toEqual([]);
  }, 180_000);
});
