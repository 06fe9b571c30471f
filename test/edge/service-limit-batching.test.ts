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
  const c = new BatchedRedisCounter({ send: (args) => redis.sendCommand(args), prefix, windowMs: o.windowMs ?? 60_000, batch: o.batch, maxDelayMs: o.maxDelayMs, onError: (e) => errors.push(e) });
  return Object.assign(c, { errors });
};
const allowed = async (c: BatchedRedisCounter, key: string, limit: number) => (await c.increment(key)).totalHits <= limit;

describe('batched service-limit counter', () => {
  it('one replica alone allows exactly the limit', async () => {
    const c = counter(uniquePrefix(), { batch: 4 });
    const answers: boolean[] = [];
    for (let i = 0; i < 15; i++) answers.push(await allowed(c, 'gateway', 10));
    expect(answers).toEqual([...Array(10).fill(true), ...Array(5).fill(false)]);
  });

  it('adds every hit to the shared Redis count, a full batch at once and the rest within maxDelayMs', async () => {
    const prefix = uniquePrefix();
    const c = counter(prefix, { batch: 5, maxDelayMs: 30 });
    for (let i = 0; i < 7; i++) await c.increment('gateway');
    await sleep(5);
    expect(await redis.sendCommand(['GET', `${prefix}gateway`])).toBe('5');
    await sleep(60);
    expect(await redis.sendCommand(['GET', `${prefix}gateway`])).toBe('7');
    expect(Number(await redis.sendCommand(['PTTL', `${prefix}gateway`]))).toBeGreaterThan(59_000);
    expect(c.errors).toEqual([]);
  });

  it('two replicas sharing a limit of 40 allow at least 40 and at most one batch more each', async () => {
    const prefix = uniquePrefix();
    const [a, b] = [counter(prefix, { batch: 4, maxDelayMs: 5 }), counter(prefix, { batch: 4, maxDelayMs: 5 })];
    let passed = 0;
    for (let i = 0; i < 120; i++) {
      if (await allowed(i % 2 === 0 ? a : b, 'gateway', 40)) passed++;
      if (i % 6 === 5) await sleep(1); // traffic over time, so flushes land in between
    }
    expect(passed).toBeGreaterThanOrEqual(40);
    expect(passed).toBeLessThanOrEqual(40 + 4 + 4);
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
      const c = new BatchedRedisCounter({ send: (args) => unreachable.sendCommand(args), prefix: uniquePrefix(), windowMs: 60_000, batch: 2, onError: (e) => errors.push(e) });
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push((await c.increment('gateway')).totalHits);
      await sleep(20);
      expect(answers).toEqual([1, 2, 1, 2]); // flushed hits are dropped: the limit fails open, as the other limiters do
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      await closeRedisClient(unreachable);
    }
  });
});
