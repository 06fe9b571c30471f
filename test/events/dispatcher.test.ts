import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { EventDispatcher, retryDelayMs, type DispatcherOptions } from '../../src/modules/events/events.dispatcher';

import { EventsRepository } from '../../src/modules/events/events.repository';
import { createLogger } from '../../src/platform/logger';
import { EventReceiver } from '../helpers/event-receiver';
import { sleep } from '../helpers/holds';
import { createTestApp, type TestApp } from '../helpers/test-app';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
let t: TestApp;
let receiver: EventReceiver;
let url: string;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());
beforeEach(async () => {
  receiver = new EventReceiver(secret);
  url = await receiver.start();
  await t.database.sql(`DELETE FROM events`);
});
afterEach(() => receiver.stop());

function dispatcher(o: Partial<DispatcherOptions> = {}) {
  return new EventDispatcher(new EventsRepository(t.database.db), t.metrics.events, createLogger('silent'), {
    url,
    secret,
    baseDelayMs: 50,
    maxDelayMs: 200,
    timeoutMs: 2_000,
    ...o,
  });
}

async function addEvent(
  userId: string,
  type = 'balance.low',
  data: object = { available: '950', thresholdCredits: '1000' },
): Promise<string> {
  const [row] = await t.database.sql<{ id: string }>(
    `INSERT INTO events (type, user_id, data) VALUES ($1, $2, $3) RETURNING id`,
    [type, userId, JSON.stringify(data)],
  );
  return row.id;
}

const eventRow = async (id: string) =>
  (
    await t.database.sql<{ status: string; attempts: number; next_attempt_at: Date; last_status_code: number | null }>(
      `SELECT status, attempts, next_attempt_at, last_status_code FROM events WHERE id = $1`,
      [id],
    )
  )[0];

/** Runs the dispatcher until `done` holds (each round is what the service's loop does every poll). */
async function runUntil(d: EventDispatcher, done: () => Promise<boolean> | boolean, rounds = 400): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (await done()) return;
    await d.runOnce();
    await sleep(10);
  }
  throw new Error('condition never held');
}

describe('event delivery', () => {
  it('posts the contract body with Standard Webhooks headers that the library verifies', async () => {
    const id = await addEvent('alice');
    await dispatcher().runOnce();
    expect(receiver.received).toHaveLength(1);
    const [got] = receiver.received;
    expect(got.verified).toBe(true);
    expect(got.id).toBe(id);
    expect(got.body).toEqual({
      id,
      type: 'balance.low',
      createdAt: expect.any(String),
      userId: 'alice',
      data: { available: '950', thresholdCredits: '1000' },
    });
    expect(await eventRow(id)).toMatchObject({ status: 'delivered', attempts: 1, last_status_code: 200 });
  });

  it('a receiver answering 500 3 times then 200 gets the same event, same id, 4 times; it ends delivered', async () => {
    receiver.answer = (_b, n) => (n < 3 ? 500 : 200);
    const id = await addEvent('bob');
    const d = dispatcher();
    await runUntil(d, async () => (await eventRow(id)).status === 'delivered');
    expect(receiver.idsInOrder()).toEqual([id, id, id, id]);
    expect(receiver.received.every((r) => r.verified)).toBe(true);
    expect(await eventRow(id)).toMatchObject({ attempts: 4, last_status_code: 200 });
  });

  it('while the receiver is down events stay pending, retried later and later; then delivered, none lost', async () => {
    const port = receiver.port;
    await receiver.stop();
    const ids = [await addEvent('carol'), await addEvent('dave')];
    const d = dispatcher({ baseDelayMs: 20, maxDelayMs: 10_000 });
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) {
      await runUntil(d, async () => (await eventRow(ids[0])).attempts > i);
      const row = await eventRow(ids[0]);
      expect(row.status).toBe('pending');
      seen.push(row.next_attempt_at.getTime());
    }
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    await receiver.start(port);
    await t.database.sql(`UPDATE events SET next_attempt_at = now()`); // skip the rest of the wait
    await runUntil(d, async () => receiver.received.length >= 2);
    expect(receiver.idsInOrder().sort()).toEqual([...ids].sort());
    for (const id of ids) expect((await eventRow(id)).status).toBe('delivered');
  });

  it("keeps each user's order: a later event waits while an earlier one is retried; other users go on", async () => {
    receiver.answer = (b, n) => (b.data.n === 1 && n === 0 ? 503 : 200);
    const first = await addEvent('erin', 'balance.low', { n: 1 });
    const second = await addEvent('erin', 'balance.depleted', { n: 2 });
    const other = await addEvent('frank', 'balance.low', { n: 3 });
    const d = dispatcher({ baseDelayMs: 200, maxDelayMs: 200 });
    await runUntil(d, async () => (await eventRow(second)).status === 'delivered');
    const erin = receiver.received.filter((r) => r.body.userId === 'erin').map((r) => r.id);
    expect(erin).toEqual([first, first, second]);
    expect(receiver.received.findIndex((r) => r.id === other)).toBeLessThan(
      receiver.received.findIndex((r) => r.id === second),
    );
  });

  it('two dispatchers at once never deliver an event concurrently, and each event is delivered once', async () => {
    receiver.delayMs = 30;
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await addEvent(`user-${i % 10}`, 'balance.low', { i }));
    const a = dispatcher();
    const b = dispatcher();
    const pending = async () =>
      Number((await t.database.sql<{ n: string }>(`SELECT count(*) AS n FROM events WHERE status = 'pending'`))[0].n);
    while ((await pending()) > 0) await Promise.all([a.runOnce(), b.runOnce(), a.runOnce()]);
    expect(receiver.maxConcurrentPerId).toBe(1);
    expect(receiver.idsInOrder().sort()).toEqual([...ids].sort());
    // per user, in creation order
    for (let u = 0; u < 10; u++) {
      const mine = receiver.received.filter((r) => r.body.userId === `user-${u}`).map((r) => r.body.data.i);
      expect(mine).toEqual([...mine].sort((x, y) => Number(x) - Number(y)));
    }
  });

  it('a receiver that never answers is cut off at the timeout and retried', async () => {
    receiver.answer = (_b, n) => (n === 0 ? 'hang' : 200);
    const id = await addEvent('gina');
    const d = dispatcher({ timeoutMs: 300 });
    await d.runOnce();
    expect(await eventRow(id)).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null });
    await runUntil(d, async () => (await eventRow(id)).status === 'delivered');
  });

  it('after its retry window an event is failed, and stays so until redelivered', async () => {
    receiver.answer = () => 500;
    const id = await addEvent('hank');
    const d = dispatcher({ retryForMs: 0 });
    await d.runOnce();
    expect((await eventRow(id)).status).toBe('failed');
    await d.runOnce();
    expect(receiver.received).toHaveLength(1);
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(retryDelayMs(1, 1000, 60_000, () => 0)).toBe(500);
    expect(retryDelayMs(1, 1000, 60_000, () => 1)).toBe(1000);
    expect(retryDelayMs(4, 1000, 60_000, () => 1)).toBe(8000);
    expect(retryDelayMs(40, 1000, 60_000, () => 1)).toBe(60_000);
  });
});

describe('admin events', () => {
  it('lists events with filters and a cursor, and redeliver sends the same id again', async () => {
    const ids = [
      await addEvent('ivy'),
      await addEvent('ivy', 'balance.depleted', { available: '0', requiredCredits: '5' }),
      await addEvent('jack'),
    ];
    await dispatcher().runOnce();
    const list = (q: Record<string, string>) =>
      request(t.app).get('/v1/admin/events').query(q).set('Authorization', `Bearer ${t.admin}`);
    const page1 = await list({ limit: '2' }).expect(200);
    expect(page1.body.data.map((e: { eventId: string }) => e.eventId)).toEqual([ids[2], ids[1]]);
    const page2 = await list({ limit: '2', cursor: page1.body.nextCursor }).expect(200);
    expect(page2.body.data.map((e: { eventId: string }) => e.eventId)).toEqual([ids[0]]);
    expect(page2.body.nextCursor).toBeNull();
    const ivy = await list({ userId: 'ivy', type: 'balance.depleted', status: 'pending' }).expect(200);
    expect(ivy.body.data.map((e: { eventId: string }) => e.eventId)).toEqual([ids[1]]);
    expect(ivy.body.data[0]).toMatchObject({
      status: 'pending',
      attempts: 0,
      lastAttemptAt: null,
      nextAttemptAt: expect.any(String),
    });
    const delivered = await list({ status: 'delivered' }).expect(200);
    expect(delivered.body.data.map((e: { eventId: string }) => e.eventId).sort()).toEqual([ids[0], ids[2]].sort());
    expect(delivered.body.data[0]).toMatchObject({ attempts: 1, lastStatusCode: 200, nextAttemptAt: null });

    const again = await request(t.app)
      .post(`/v1/admin/events/${ids[0]}/redeliver`)
      .set('Authorization', `Bearer ${t.admin}`)
      .expect(202);
    expect(again.body).toMatchObject({ eventId: ids[0], status: 'pending' });
    await dispatcher().runOnce();
    expect(receiver.idsInOrder().filter((id) => id === ids[0])).toHaveLength(2);

    await request(t.app)
      .post(`/v1/admin/events/evt_${'0'.repeat(32)}/redeliver`)
      .set('Authorization', `Bearer ${t.admin}`)
      .expect(404);
    await request(t.app).post(`/v1/admin/events/nope/redeliver`).set('Authorization', `Bearer ${t.admin}`).expect(400);
    await request(t.app)
      .get('/v1/admin/events')
      .set('Authorization', `Bearer ${t.token('ivy')}`)
      .expect(403);
    await list({ status: 'lost' }).expect(400);
  });
});
