import { BatchedRedisCounter } from '../../src/platform/http/batched-redis-counter';
import { closeRedisClient, createRedisClient } from '../../src/platform/redis/redis-client';
import { captureLogs } from '../helpers/log-capture';
import { connectTestRedis, uniquePrefix } from '../helpers/redis';

// The gateway's service limit counts hits locally and adds them to Redis in batches, so a charge
// waits for no Redis round trip. What a replica may promise: alone it stops exactly at the limit;
// with others it sees their hits a batch late, so together they pass the limit by at most a batch each.

let redis: Awaited<ReturnType<typeof connectTestRedis>>;
beforeAll(async () => {
  redis = await connectTestRedis();
});
afterAll(() => redis.quit());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const counter = (prefix: string, o: { batch?: number; maxDelayMs?: number; windowMs?: number } = {}) => {
  const errors: unknown[] = [];
  const c = new BatchedRedisCounter({
    send: (args) => redis.sendCommand(args),
    prefix,
    windowMs: o.windowMs ?? 60_000,
    batch: o.batch,
    maxDelayMs: o.maxDelayMs,
    onError: (e) => errors.push(e),
  });
  return Object.assign(c, { errors });
};
const allowed = async (c: BatchedRedisCounter, key: string, limit: number) =>
  (await c.increment(key)).totalHits <= limit;

describe('batched service-limit counter', () => {
  it('one replica alone allows exactly the limit', async () => {
    const c = counter(uniquePrefix(), { batch: 4 });
    const answers: boolean[] = [];
    for (let i = 0; i < 15; i++) answers.push(await allowed(c, 'gateway', 10));
    expect(answers).toEqual([...Array(10).fill(true), ...Array(5).fill(false)]);
  });

  it('adds every hit to the shared Redis count, a full batch at once and the rest within maxDelayMs', async () => {
    const prefix = uniquePrefix();
    const c = counter(prefix, { batch: 5, maxDelayMs: 1000 });
    const shared = async () => String(await redis.sendCommand(['GET', `${prefix}gateway`]));
    const started = Date.now();
    for (let i = 0; i < 7; i++) await c.increment('gateway');
    while ((await shared()) !== '5' && Date.now() - started < 900) await sleep(5);
    expect(await shared()).toBe('5'); // the full batch, long before the two left over are due
    while ((await shared()) !== '7' && Date.now() - started < 5000) await sleep(20);
    expect(await shared()).toBe('7');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(Number(await redis.sendCommand(['PTTL', `${prefix}gateway`]))).toBeGreaterThan(50_000);
    expect(c.errors).toEqual([]);
  });

  it("a replica sees the others' flushed hits on its next flush: together they pass the limit by a batch", async () => {
    const prefix = uniquePrefix();
    const [a, b] = [
      counter(prefix, { batch: 4, maxDelayMs: 10_000 }),
      counter(prefix, { batch: 4, maxDelayMs: 10_000 }),
    ];
    const shared = async () => Number(await redis.sendCommand(['GET', `${prefix}gateway`]));
    const until = async (n: number) => {
      for (const started = Date.now(); (await shared()) !== n && Date.now() - started < 2000;) await sleep(5);
    };
    for (let i = 0; i < 8; i++) expect(await allowed(b, 'gateway', 10)).toBe(true);
    await until(8); // B's two batches are in Redis
    const answers: boolean[] = [];
    for (let i = 0; i < 4; i++) answers.push(await allowed(a, 'gateway', 10)); // A has not heard of them yet
    await until(12);
    await sleep(20); // A's flush has answered: A now knows the shared 12
    for (let i = 0; i < 2; i++) answers.push(await allowed(a, 'gateway', 10));
    expect(answers).toEqual([true, true, true, true, false, false]);
  });

  it('starts counting from zero when the window has passed', async () => {
    const c = counter(uniquePrefix(), { batch: 2, windowMs: 300 });
    for (let i = 0; i < 3; i++) await c.increment('gateway');
    expect(await allowed(c, 'gateway', 3)).toBe(false);
    await sleep(350);
    expect(await allowed(c, 'gateway', 3)).toBe(true);
  });

  it('when Redis is unreachable, answers at once from the local count and reports the failed flush', async () => {
    const logs = captureLogs('info');
    const unreachable = createRedisClient('redis://127.0.0.1:1', logs.logger);
    try {
      const errors: unknown[] = [];
      const c = new BatchedRedisCounter({
        send: (args) => unreachable.sendCommand(args),
        prefix: uniquePrefix(),
        windowMs: 60_000,
        batch: 2,
        onError: (e) => errors.push(e),
      });
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push((await c.increment('gateway')).totalHits);
      await sleep(20);
      expect(answers).toEqual([1, 2, 3, 4]);
      expect(errors.length).toBeGreaterThan(0);
      // the hits of failed flushes are dropped: the limit fails open, as the other limiters do
      expect((await c.increment('gateway')).totalHits).toBe(1);
    } finally {
      await closeRedisClient(unreachable);
    }
  });

  it('when Redis stops answering mid-flush, gives up on it after flushTimeoutMs and sends the next batch', async () => {
    const errors: unknown[] = [];
    const sent: string[][] = [];
    const c = new BatchedRedisCounter({
      send: (args) => {
        sent.push(args);
        return sent.length === 1 ? new Promise(() => undefined) : redis.sendCommand(args); // the first flush hangs
      },
      prefix: uniquePrefix(),
      windowMs: 60_000,
      batch: 2,
      flushTimeoutMs: 30,
      onError: (e) => errors.push(e),
    });
    for (let i = 0; i < 2; i++) await c.increment('gateway');
    await sleep(60);
    for (let i = 0; i < 2; i++) await c.increment('gateway');
    await sleep(20);
    expect(sent).toHaveLength(2);
    expect(String(errors[0])).toMatch(/no answer from Redis/);
  });
});
