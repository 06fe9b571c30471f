import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { makeKeyPair, signToken } from '../helpers/keys';
import { TEST_REDIS_URL } from '../helpers/redis';
import { AUDIENCE, ISSUER } from '../helpers/test-app';
import { listeningPort, spawnServer, type ServerProcess } from '../helpers/ts-node-server';

let database: TestDatabase;
const servers: ServerProcess[] = [];
const keys = makeKeyPair();
const token = (sub: string, scope?: string) => signToken(keys, sub, { issuer: ISSUER, audience: AUDIENCE, scope });
// Redis is shared with every other test run on this machine: this run's callers are its own.
const run = randomUUID().slice(0, 8);

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  for (const s of servers) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  await Promise.all(servers.map((s) => s.exited));
  await database.drop();
});

/** Two replicas of the real server on one database and one Redis, started together and not yet used. */
async function startReplicas(): Promise<string[]> {
  const env = {
    NODE_ENV: 'production',
    DATABASE_URL: database.url,
    DATABASE_POOL_MIN: '0',
    REDIS_URL: TEST_REDIS_URL,
    JWT_PUBLIC_KEY: keys.publicKey,
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    STRIPE_SECRET_KEY: 'sk_test_replicas',
    STRIPE_WEBHOOK_SECRET: 'whsec_replicas',
    HOST: '127.0.0.1',
    PORT: '0',
    RATE_LIMIT_PER_MINUTE: '100',
    LOG_LEVEL: 'info',
  };
  const started = [spawnServer(env), spawnServer(env)];
  servers.push(...started);
  const ports = await Promise.all(started.map((s) => listeningPort(s, 90_000)));
  return ports.map((p) => `http://127.0.0.1:${p}`);
}

const post = (url: string, auth: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${auth}`, 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('two fresh replicas on one database and one Redis', () => {
  it('counts from the first request on each replica (101st of two refused); 150 charges on 5,000 pay 100', async () => {
    const [a, b] = await startReplicas();

    // The very first requests either replica's per-user limiter sees, alternating between the two.
    const user = token(`replica-user-${run}`);
    const statuses: number[] = [];
    for (let i = 0; i < 101; i++) {
      const res = await fetch(`${i % 2 === 0 ? a : b}/v1/balance`, { headers: { Authorization: `Bearer ${user}` } });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 100).every((s) => s === 200)).toBe(true);
    expect(statuses[100]).toBe(429);

    const wallet = `replica-wallet-${run}`;
    const admin = token(`replica-admin-${run}`, 'billing:admin');
    const funded = await post(
      `${a}/v1/admin/credits/adjustments`,
      admin,
      { userId: wallet, amount: '5000', reason: 'replica test' },
      { 'Idempotency-Key': `fund-${run}` },
    );
    expect(funded.status).toBe(201);

    const gateway = token(`replica-gateway-${run}`, 'usage:write');
    const charges = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        post(`${i % 2 === 0 ? a : b}/v1/usage/reconcile`, gateway, {
          userId: wallet,
          requestId: `call-${i}`,
          model: 'gpt-4o',
          inputTokens: 1000,
          outputTokens: 500,
        }),
      ),
    );
    const byStatus = charges.reduce<Record<number, number>>(
      (n, r) => ({ ...n, [r.status]: (n[r.status] ?? 0) + 1 }),
      {},
    );
    expect(byStatus).toEqual({ 201: 100, 402: 50 });
    const [account] = await database.sql<{ balance: string; usages: number }>(
      `SELECT a.balance::text, (SELECT count(*)::int FROM usages u WHERE u.user_id = a.user_id) AS usages
       FROM accounts a WHERE a.user_id = $1`,
      [wallet],
    );
    expect({ balance: Number(account.balance), usages: account.usages }).toEqual({ balance: 0, usages: 100 });
  }, 240_000);
});
