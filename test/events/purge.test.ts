import { KEEP_DELIVERED_DAYS, purgeDeliveredEvents } from '../../src/modules/events/events.purge';
import { EventsRepository } from '../../src/modules/events/events.repository';
import { startEventDispatcher } from '../../src/modules/events/events.loop';
import { createLogger } from '../../src/platform/logger';
import { createTestApp, type TestApp } from '../helpers/test-app';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

/** Inserts `n` events of one status, created and (when delivered) delivered `daysAgo` days ago. */
async function addEvents(n: number, status: 'pending' | 'delivered' | 'failed', daysAgo: number): Promise<void> {
  await t.database.sql(
    `INSERT INTO events (type, user_id, data, status, created_at, delivered_at)
     SELECT 'balance.low', 'purge-user', '{}'::jsonb, $2, now() - make_interval(days => $3),
            CASE WHEN $2 = 'delivered' THEN now() - make_interval(days => $3) END
     FROM generate_series(1, $1)`,
    [n, status, daysAgo],
  );
}

const counts = async () =>
  Object.fromEntries(
    (
      await t.database.sql<{ status: string; old: boolean; n: string }>(
        `SELECT status, delivered_at < now() - interval '${KEEP_DELIVERED_DAYS} days' AS old, count(*)::text AS n
       FROM events GROUP BY 1, 2`,
      )
    ).map((r) => [`${r.status}${r.old ? ':old' : ''}`, Number(r.n)]),
  );

describe('delivered events purge', () => {
  it('removes delivered events past retention in batches, and keeps pending, failed and recent ones', async () => {
    await addEvents(2_500, 'delivered', KEEP_DELIVERED_DAYS + 5);
    await addEvents(10, 'delivered', KEEP_DELIVERED_DAYS - 1);
    await addEvents(3, 'pending', KEEP_DELIVERED_DAYS + 40);
    await addEvents(4, 'failed', KEEP_DELIVERED_DAYS + 40);
    const removed = await purgeDeliveredEvents(new EventsRepository(t.database.db), t.metrics.events);
    expect(removed).toBe(2_500);
    expect(await counts()).toEqual({ delivered: 10, pending: 3, failed: 4 });
    expect(await purgeDeliveredEvents(new EventsRepository(t.database.db), t.metrics.events)).toBe(0);
  });
});

describe('dispatcher gauge', () => {
  const enabled = async () => (await t.metrics.events.dispatcherEnabled.get()).values[0]?.value;

  it('reads 0 where no receiver is configured (the stalled-delivery alert stays quiet), 1 where one is', async () => {
    const logger = createLogger('silent');
    const stopOff = startEventDispatcher(t.services.eventsRepository, t.metrics, logger, {});
    expect(await enabled()).toBe(0);
    await stopOff();
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const stopOn = startEventDispatcher(t.services.eventsRepository, t.metrics, logger, {
      url: 'http://127.0.0.1:9/none',
      secret,
      pollMs: 60_000,
    });
    expect(await enabled()).toBe(1);
    await stopOn();
  });
});
