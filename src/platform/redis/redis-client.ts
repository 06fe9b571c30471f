import { createClient, type RedisClientType } from 'redis';
import type { Logger } from '../logger';

/** Only the raw-command surface is used (rate-limit-redis sends its own Lua). */
export type RedisClient = Pick<RedisClientType, 'sendCommand' | 'isOpen' | 'isReady' | 'close' | 'destroy'>;

/**
 * The one Redis connection of a process (rate-limit counters shared by every replica).
 * Redis is an accelerator here, never a dependency of billing: commands fail fast while it is
 * unreachable (no offline queue, so a request never waits for a reconnect) and the client keeps
 * reconnecting in the background. Outages are logged once when they start and once when they end.
 */
export function createRedisClient(url: string, logger: Logger): RedisClient {
  return openRedisClient(url, logger).client;
}

/**
 * The same client, once its first connection attempt has ended (connected, refused or timed out;
 * never longer than CONNECT_TIMEOUT_MS): server.ts builds the rate limiters after this, so their
 * stores load their scripts on a live connection and count a replica's very first request.
 */
export async function connectRedisClient(url: string, logger: Logger): Promise<RedisClient> {
  const { client, firstAttempt } = openRedisClient(url, logger);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([firstAttempt, new Promise((resolve) => (timer = setTimeout(resolve, CONNECT_TIMEOUT_MS + 500)))]);
  clearTimeout(timer);
  return client;
}

const CONNECT_TIMEOUT_MS = 2000;

function openRedisClient(url: string, logger: Logger) {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 5000) },
  });
  let up: boolean | undefined;
  let attempted: () => void = () => undefined;
  const firstAttempt = new Promise<void>((resolve) => (attempted = resolve));
  client.on('ready', () => {
    if (up === false) logger.info('redis reachable again: rate limits shared across replicas');
    up = true;
    attempted();
  });
  client.on('error', (error: Error) => {
    attempted();
    if (up === false) return;
    up = false;
    logger.warn(
      { err: { name: error.name, message: error.message } },
      'redis unreachable: rate limits fail open until it returns',
    );
  });
  client.connect().catch(() => undefined); // reported by the 'error' listener; reconnects on its own
  return { client: client as unknown as RedisClient, firstAttempt };
}

/** Ends the connection on shutdown; a client that never connected is simply dropped. */
export async function closeRedisClient(client: RedisClient | undefined): Promise<void> {
  if (!client) return;
  if (client.isOpen) await client.close().catch(() => client.destroy());
  else client.destroy();
}
