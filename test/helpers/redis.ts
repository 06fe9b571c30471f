import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import type { RedisClient } from '../../src/platform/redis/redis-client';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A connected client on the machine's Redis; tests keep apart through their own key prefix. */
export async function connectTestRedis(): Promise<RedisClient & { quit(): Promise<unknown> }> {
  const client = createClient({ url: TEST_REDIS_URL });
  await client.connect();
  return Object.assign(client as unknown as RedisClient, { quit: () => client.close() });
}

export const uniquePrefix = () => `billing:rl:test:${randomUUID()}:`;
