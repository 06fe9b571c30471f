import { createClient, type RedisClientType } from 'redis';
import type { Logger } from '../logger';

/** Only the raw-command surface is used (rate-limit-redis sends its own Lua). */
export type RedisClient = Pick<RedisClientType, 'sendCommand' | 'isOpen' | 'close' | 'destroy'>;

/**
 * The one Redis connection of a process (rate-limit counters shared by every replica).
 * Redis is an accelerator here, never a dependency of billing: commands fail fast while it is
 * unreachable (no offline queue, so a request never waits for a reconnect) and the client keeps
 * reconnecting in the background. Outages are logged once when they start and once when they end.
 */
export function createRedisClient(url: string, logger: Logger): RedisClient {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 2000, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 5000) },
  });
  let up: boolean | undefined;
  client.on('ready', () => {
    if (up === false) logger.info('redis reachable again: rate limits shared across replicas');
    up = true;
  });
  client.on('error', (error: Error) => {
    if (up === false) return;
    up = false;
    logger.warn({ err: { name: error.name, message: error.message } }, 'redis unreachable: rate limits fail open until it returns');
  });
  client.connect().catch(() => undefined); // reported by the 'error' listener; reconnects on its own
  return client as unknown as RedisClient;
}

/** Ends the connection on shutdown; a client that never connected is simply dropped. */
export async function closeRedisClient(client: RedisClient | undefined): Promise<void> {
  if (!client) return;
  if (client.isOpen) await client.close().catch(() => client.destroy());
  else client.destroy();
}
