import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { EventReceiver } from '../helpers/event-receiver';
import { sleep } from '../helpers/holds';
import { makeKeyPair, signToken } from '../helpers/keys';
import { replicaEnv, startServer, type ServerProcess } from '../helpers/server-process';
import { AUDIENCE, ISSUER } from '../helpers/test-app';

// The built server, twice, on one database, with the dispatcher running in both: what replicas do.
const secret = `whsec_${randomBytes(32).toString('base64')}`;
const keys = makeKeyPair();
const token = (sub: string, scope?: string) => signToken(keys, sub, { issuer: ISSUER, audience: AUDIENCE, scope });
let database: TestDatabase;
let receiver: EventReceiver;
let url: string;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  receiver = new EventReceiver(secret);
  url = await receiver.start();
});
afterAll(async () => {
  for (const s of servers) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  await receiver.stop();
  await database.drop();
});

async function replica(): Promise<ServerProcess> {
  const s = await startServer(
    replicaEnv(database.url, keys.publicKey, { EVENTS_WEBHOOK_URL: url, EVENTS_WEBHOOK_SECRET: secret }),
  );
  servers.push(s);
  return s;
}

const post = (s: ServerProcess, path: string, auth: string, body: object, method = 'POST') =>
  fetch(`${s.baseUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${auth}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });

const eventsOf = (userId: string) =>
  database.sql<{ id: string; type: string; status: string }>(
    `SELECT id, type, status FROM events WHERE user_id = $1 ORDER BY seq`,
    [userId],
  );

async function until(check: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (await check()) return;
  throw new Error('condition never held');
}

describe('two server processes on one database', () => {
  it('50 concurrent charges crossing the threshold through both write one balance.low, delivered once', async () => {
    const [a, b] = [await replica(), await replica()];
    await database.sql(
      `SELECT billing_post_wallet('twin', 'adjustment', 'fund:twin', 'promotions', 1500, false, NULL, NULL, 'test',
              NULL)`,
    );
    expect(
      (await post(a, '/v1/billing/settings', token('twin'), { lowBalance: { thresholdCredits: '1000' } }, 'PUT'))
        .status,
    ).toBe(200);
    const charges = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        post(i % 2 ? a : b, '/v1/usage/reconcile', token('llm-gateway', 'usage:write'), {
          userId: 'twin',
          requestId: `twin-${i}`,
          model: 'gpt-4o',
          inputTokens: 1000,
          outputTokens: 500,
        }),
      ),
    );
    expect(charges.filter((r) => r.status === 201)).toHaveLength(30);
    const events = await eventsOf('twin');
    expect(events.map((e) => e.type)).toEqual(['balance.low', 'balance.depleted']);
    await until(async () => (await eventsOf('twin')).every((e) => e.status === 'delivered'));
    const got = receiver.received.filter((r) => r.body.userId === 'twin');
    expect(got.map((r) => r.id)).toEqual(events.map((e) => e.id));
    expect(got.every((r) => r.verified)).toBe(true);
  }, 120_000);

  it('a replica SIGKILLed between commit and delivery: the event is delivered after a restart, same id', async () => {
    for (const s of servers) await s.stop();
    const port = receiver.port;
    await receiver.stop(); // the first attempt fails and is scheduled again
    const a = await replica();
    await database.sql(
      `SELECT billing_post_wallet('crash', 'adjustment', 'fund:crash', 'promotions', 60, false, NULL, NULL, 'test',
              NULL)`,
    );
    await post(a, '/v1/usage/reconcile', token('llm-gateway', 'usage:write'), {
      userId: 'crash',
      requestId: 'c1',
      model: 'gpt-4o',
      inputTokens: 1000,
      outputTokens: 500,
    });
    expect(
      (
        await post(a, '/v1/usage/reconcile', token('llm-gateway', 'usage:write'), {
          userId: 'crash',
          requestId: 'c2',
          model: 'gpt-4o',
          inputTokens: 1000,
          outputTokens: 500,
        })
      ).status,
    ).toBe(402);
    const [event] = await eventsOf('crash');
    await until(
      async () =>
        (await database.sql<{ attempts: number }>(`SELECT attempts FROM events WHERE id = $1`, [event.id]))[0]
          .attempts > 0,
    );
    a.child.kill('SIGKILL');
    await receiver.start(port);
    await replica();
    await until(async () => (await eventsOf('crash'))[0].status === 'delivered');
    expect(receiver.received.filter((r) => r.body.userId === 'crash').map((r) => r.id)).toEqual([event.id]);
  }, 120_000);
});
