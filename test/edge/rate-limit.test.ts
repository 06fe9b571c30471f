import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import request from 'supertest';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { captureLogs } from '../helpers/log-capture';
import { connectTestRedis, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis';
import { tcpProxy } from '../helpers/tcp-proxy';
import { createTestApp, type TestApp } from '../helpers/test-app';
import type { RedisClient } from '../../src/platform/redis/redis-client';
import { createRedisClient, closeRedisClient } from '../../src/platform/redis/redis-client';

let database: TestDatabase;
let redis: Awaited<ReturnType<typeof connectTestRedis>>;
const apps: TestApp[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  redis = await connectTestRedis();
});
afterAll(async () => {
  await redis.quit();
  await database.drop();
});

type Store = 'memory' | 'redis';
interface Options {
  store: Store;
  env?: Record<string, string>;
  windowMs?: number;
  keyPrefix?: string;
  redisClient?: RedisClient;
  logger?: ReturnType<typeof captureLogs>['logger'];
}

/**
 * Apps share one database (they are replicas of one service); Redis keys are unique per app unless shared on purpose.
 */
async function appWith(o: Options): Promise<TestApp> {
  const t = await createTestApp({
    database,
    env: o.env,
    deps: {
      redis: o.redisClient ?? (o.store === 'redis' ? redis : undefined),
      rateLimit: { windowMs: o.windowMs, keyPrefix: o.keyPrefix ?? uniquePrefix() },
      ...(o.logger ? { logger: o.logger } : {}),
    },
  });
  apps.push(t);
  return t;
}

const balance = (t: TestApp, token: string, ip = '203.0.113.1') =>
  request(t.app).get('/v1/balance').set('Authorization', `Bearer ${token}`).set('X-Forwarded-For', ip);

async function metricValue(t: TestApp, name: string, labels: string): Promise<number> {
  const text = await t.metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe.each<Store>(['memory', 'redis'])('rate limits with the %s store', (store) => {
  it('allows 100 requests a minute; the 101st is a 429 problem with Retry-After and RateLimit headers', async () => {
    const t = await appWith({ store, env: { RATE_LIMIT_PER_MINUTE: '100' } }); // the contract's default
    const token = t.token(`busy-${store}`);
    for (let i = 1; i <= 100; i++) {
      const res = await balance(t, token);
      if (res.status !== 200) throw new Error(`request ${i} answered ${res.status}`);
    }
    const res = await balance(t, token);
    expect(res.status).toBe(429);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({
      status: 429,
      code: 'rate_limited',
      correlationId: res.headers['x-correlation-id'],
    });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(res.headers['ratelimit']).toMatch(/^"user"; r=0; t=\d+$/);
    expect(res.headers['ratelimit-policy']).toMatch(/^"user"; q=100; w=60/);
    expect(await metricValue(t, 'billing_rate_limited_total', 'limiter="user"')).toBe(1);
    // Another user from the same address is not affected.
    expect((await balance(t, t.token(`calm-${store}`))).status).toBe(200);
  });

  it('counts again from zero once the window has passed', async () => {
    const t = await appWith({ store, env: { RATE_LIMIT_PER_MINUTE: '3' }, windowMs: 1000 });
    const token = t.token(`window-${store}`);
    for (let i = 0; i < 3; i++) expect((await balance(t, token)).status).toBe(200);
    const limited = await balance(t, token);
    expect(limited.status).toBe(429);
    await new Promise((r) => setTimeout(r, 1300));
    const after = await balance(t, token);
    expect(after.status).toBe(200);
    expect(after.headers['ratelimit']).toMatch(/^"user"; r=2;/);
  });

  it('gives callers holding usage:write their own, higher limit', async () => {
    const t = await appWith({ store, env: { RATE_LIMIT_PER_MINUTE: '3', SERVICE_RATE_LIMIT_PER_MINUTE: '8' } });
    for (let i = 0; i < 8; i++) expect((await balance(t, t.gateway)).status).toBe(200);
    const res = await balance(t, t.gateway);
    expect(res.status).toBe(429);
    expect(res.headers['ratelimit-policy']).toMatch(/^"service"; q=8;/);
    expect(await metricValue(t, 'billing_rate_limited_total', 'limiter="service"')).toBe(1);
  });

  it('limits traffic without a valid token by client address, before authentication', async () => {
    const t = await appWith({ store, env: { RATE_LIMIT_PER_MINUTE: '3' } });
    const anonymous = (path: string, ip: string) => request(t.app).get(path).set('X-Forwarded-For', ip);
    expect((await anonymous('/v1/balance', '198.51.100.7')).status).toBe(401);
    expect((await anonymous('/v1/credit-packages', '198.51.100.7')).status).toBe(200);
    expect((await anonymous('/v1/ledger', '198.51.100.7')).status).toBe(401);
    const limited = await anonymous('/v1/balance', '198.51.100.7');
    expect(limited.status).toBe(429);
    expect(limited.headers['ratelimit']).toMatch(/^"ip"; r=0;/);
    expect((await anonymous('/v1/credit-packages', '198.51.100.7')).status).toBe(429);
    // Another address, and a verified user behind the same address, are counted on their own.
    expect((await anonymous('/v1/credit-packages', '198.51.100.8')).status).toBe(200);
    expect((await balance(t, t.token(`nat-user-${store}`), '198.51.100.7')).status).toBe(200);
    expect(await metricValue(t, 'billing_rate_limited_total', 'limiter="ip"')).toBe(2);
  });

  it('counts rejected tokens against their address, so tokens cannot be guessed at full speed', async () => {
    const t = await appWith({ store, env: { RATE_LIMIT_PER_MINUTE: '3' } });
    const forged = (ip: string) =>
      request(t.app).get('/v1/balance').set('Authorization', 'Bearer not.a.token').set('X-Forwarded-For', ip);
    for (let i = 0; i < 3; i++) expect((await forged('192.0.2.50')).status).toBe(401);
    const res = await forged('192.0.2.50');
    expect(res.status).toBe(429);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await forged('192.0.2.51')).status).toBe(401);
  });

  it('limits a path however its case or request-target form is spelled, as the router matches either way', async () => {
    const t = await appWith({ store, env: { RATE_LIMIT_PER_MINUTE: '2' } });
    const server = t.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    // Raw requests: supertest cannot send an absolute-form target (http://host/path), which Node accepts.
    const statusOf = (target: string, ip: string, authorization?: string) =>
      new Promise<number>((resolve, reject) => {
        const headers = { 'X-Forwarded-For': ip, ...(authorization ? { Authorization: authorization } : {}) };
        http
          .request({ port, host: '127.0.0.1', path: target, headers, agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode!);
          })
          .on('error', reject)
          .end();
      });
    try {
      for (const [target, ip, authorization] of [
        ['/V1/credit-packages', '192.0.2.60', undefined],
        [`http://127.0.0.1:${port}/v1/credit-packages`, '192.0.2.61', undefined],
        ['/V1/BALANCE', '192.0.2.62', 'Bearer not.a.token'],
        [`http://127.0.0.1:${port}/v1/balance`, '192.0.2.63', 'Bearer not.a.token'],
      ] as const) {
        const statuses = [];
        for (let i = 0; i < 3; i++) statuses.push(await statusOf(target, ip, authorization));
        expect({ target, statuses }).toEqual({ target, statuses: [statuses[0], statuses[0], 429] });
        expect(statuses[0]).not.toBe(429);
      }
    } finally {
      server.close();
    }
  });

  it('never limits the Stripe webhook, probes, metrics or the OpenAPI document', async () => {
    const t = await appWith({ store, env: { RATE_LIMIT_PER_MINUTE: '1' } });
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
      for (let i = 0; i < 3; i++) {
        const res = await request(t.app).get(path).set('X-Forwarded-For', '192.0.2.99');
        expect(res.status).not.toBe(429);
        expect(res.headers['ratelimit']).toBeUndefined();
      }
    }
    for (let i = 0; i < 3; i++) {
      const res = await request(t.app)
        .post('/v1/webhooks/stripe')
        .set('X-Forwarded-For', '192.0.2.99')
        .set('Content-Type', 'application/json')
        .send('{}');
      expect(res.status).not.toBe(429);
      expect(res.headers['ratelimit']).toBeUndefined();
    }
  });
});

describe('rate limits shared through Redis', () => {
  it('lets two replicas together allow only the limit, even under concurrent requests', async () => {
    const keyPrefix = uniquePrefix();
    const a = await appWith({ store: 'redis', env: { RATE_LIMIT_PER_MINUTE: '10' }, keyPrefix });
    const b = await appWith({ store: 'redis', env: { RATE_LIMIT_PER_MINUTE: '10' }, keyPrefix });
    const token = a.token('replicated-user');
    const tokenForB = b.token('replicated-user'); // same sub, signed by B's test key
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? balance(a, token) : balance(b, tokenForB))),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
  });

  it('when Redis is unreachable, lets requests through and logs a warning instead of refusing billing', async () => {
    const logs = captureLogs('info');
    const unreachable = createRedisClient('redis://127.0.0.1:1', logs.logger);
    try {
      const t = await appWith({
        store: 'redis',
        redisClient: unreachable,
        env: { RATE_LIMIT_PER_MINUTE: '2' },
        logger: logs.logger,
      });
      const token = t.token('outage-user');
      for (let i = 0; i < 5; i++) expect((await balance(t, token)).status).toBe(200);
      const warnings = logs.lines().filter((l) => l.level === 'warn');
      expect(warnings.some((l) => /failing open|fail open/.test(String(l.msg)))).toBe(true);
    } finally {
      await closeRedisClient(unreachable);
    }
  });

  it('when the limiters were built before their Redis client connected, the first request still counts', async () => {
    const client = createRedisClient(TEST_REDIS_URL, captureLogs('info').logger);
    try {
      const t = await appWith({ store: 'redis', redisClient: client, env: { RATE_LIMIT_PER_MINUTE: '2' } });
      for (let i = 0; i < 100 && !client.isReady; i++) await new Promise((r) => setTimeout(r, 20));
      const token = t.token('built-before-connect');
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await balance(t, token)).status);
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await closeRedisClient(client);
    }
  });

  it('when Redis comes back after being down at start, the limits apply from the first request after it', async () => {
    const target = new URL(TEST_REDIS_URL);
    const proxy = await tcpProxy(target.hostname, Number(target.port || 6379));
    await proxy.stop();
    const logs = captureLogs('info');
    const client = createRedisClient(proxy.url, logs.logger);
    try {
      const t = await appWith({
        store: 'redis',
        redisClient: client,
        env: { RATE_LIMIT_PER_MINUTE: '2' },
        logger: logs.logger,
      });
      for (let i = 0; i < 4; i++) expect((await balance(t, t.token('down-at-start'))).status).toBe(200);
      await proxy.start();
      for (let i = 0; i < 100; i++) {
        if (
          await client.sendCommand(['PING']).then(
            () => true,
            () => false,
          )
        )
          break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const token = t.token('after-recovery');
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await balance(t, token)).status);
      // The script failed to load at start; the first call after recovery loads it and is counted.
      expect(statuses).toEqual([200, 200, 429, 429]);
      expect(logs.lines().some((l) => l.msg === 'redis reachable again: rate limits shared across replicas')).toBe(
        true,
      );
    } finally {
      await closeRedisClient(client);
      await proxy.stop();
    }
  });
});
