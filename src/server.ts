import path from 'node:path';
import { createApp } from './app';
import { buildServices } from './composition';
import { ConfigError, parseConfig, type Config } from './platform/config';
import { createDatabase } from './platform/db/database';
import { createReadReplica } from './platform/db/read-replica';
import { ReadRouter } from './platform/db/read-router';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './platform/db/embedded';
import { migrate } from './platform/db/migrator';
import { devBanner } from './platform/dev/dev-banner';
import { loadOrCreateDevKeys } from './platform/dev/dev-keys';
import { createLogger } from './platform/logger';
import { createMetrics } from './platform/metrics';
import { PROJECT_ROOT } from './platform/paths';
import { withSecrets } from './platform/secrets';
import { createTokenVerifier } from './platform/auth/token-verifier';
import { listenWithGracefulShutdown } from './platform/http/graceful-shutdown';
import { startLedgerChecks } from './modules/reports/ledger-check.scheduler';
import { startIdempotencyPurge } from './platform/idempotency/idempotency.purge';
import { startHoldsSweeper } from './modules/holds/holds.sweeper';
import { closeRedisClient, connectRedisClient } from './platform/redis/redis-client';
import { tuneV8 } from './platform/v8-tuning';
import { startEventDispatcher } from './modules/events/events.loop';
import { startPollLoop } from './platform/jobs/poll-loop';
import { startEventsPurge } from './modules/events/events.purge';

const DATA_DIR = process.env.BILLING_DATA_DIR ?? path.join(PROJECT_ROOT, '.data');

/** Outside production, no DATABASE_URL means a real embedded PostgreSQL under .data/ and a local dev key pair. */
async function developmentDefaults(config: Config, log: (line: string) => void) {
  let embedded: EmbeddedDatabase | undefined;
  let banner: ((url: string) => string) | undefined;
  if (!config.DATABASE_URL) {
    embedded = await startEmbeddedPostgres(path.join(DATA_DIR, 'pg'), Number(process.env.EMBEDDED_PG_PORT ?? 54329));
    config = { ...config, DATABASE_URL: embedded.url };
    for (const name of await migrate(embedded.url)) log(`migration applied: ${name}`);
  }
  if (!config.JWT_PUBLIC_KEY && !config.JWT_JWKS_URL) {
    const keys = loadOrCreateDevKeys(DATA_DIR);
    config = { ...config, JWT_PUBLIC_KEY: keys.publicKey };
    banner = (url) => devBanner(keys, url, config.JWT_ISSUER, config.JWT_AUDIENCE);
  }
  return { config, embedded, banner };
}

async function main() {
  tuneV8();
  let config = parseConfig(await withSecrets(process.env));
  const logger = createLogger(config.LOG_LEVEL);
  const dev =
    config.NODE_ENV === 'production'
      ? { config, embedded: undefined, banner: undefined }
      : await developmentDefaults(config, (l) => logger.info(l));
  config = dev.config;

  const db = createDatabase(config.DATABASE_URL!, { min: config.DATABASE_POOL_MIN, max: config.DATABASE_POOL_MAX });
  const metrics = createMetrics();
  const lifecycle = { draining: false };
  const verifier = createTokenVerifier({
    publicKey: config.JWT_PUBLIC_KEY,
    jwksUrl: config.JWT_JWKS_URL,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
  });
  const replica = config.DATABASE_READ_URL
    ? createReadReplica(config.DATABASE_READ_URL, db.pool, {
        min: config.DATABASE_READ_POOL_MIN,
        max: config.DATABASE_READ_POOL_MAX,
        maxLagSeconds: config.READ_REPLICA_MAX_LAG_SECONDS,
      })
    : undefined;
  const reads = new ReadRouter(db, replica, metrics, logger);
  const services = buildServices({ config, db, metrics, logger, reads });
  const stopLedgerChecks = startLedgerChecks(
    services.reports,
    services.closings,
    config.LEDGER_CHECK_INTERVAL_SECONDS,
    logger,
  );
  const stopPurge = startIdempotencyPurge(services.idempotency, logger);
  const stopHoldsSweeper = startHoldsSweeper(services.holdsSweeper, logger);
  const stopEventsPurge = startEventsPurge(services.eventsRepository, metrics.events, logger);
  const stopEvents = startEventDispatcher(services.eventsRepository, metrics, logger, {
    url: config.EVENTS_WEBHOOK_URL,
    secret: config.EVENTS_WEBHOOK_SECRET,
  });
  const stopTopups = services.topupWorker
    ? startPollLoop(() => services.topupWorker!.runOnce(), { name: 'auto top-up worker', pollMs: 1000, logger })
    : async () => undefined;
  // Connected (or found down) before the rate limiters are built, so they count from the first request.
  const redis = config.REDIS_URL ? await connectRedisClient(config.REDIS_URL, logger) : undefined;
  const app = createApp({ config, logger, verifier, metrics, lifecycle, services, redis });

  const server = await listenWithGracefulShutdown(app, {
    port: config.PORT,
    host: config.HOST,
    graceMs: config.SHUTDOWN_GRACE_SECONDS * 1000,
    // The drain gives Kubernetes time to take the pod out of its endpoints; a local Ctrl-C stops at once.
    drainMs: config.NODE_ENV === 'production' ? config.SHUTDOWN_DRAIN_SECONDS * 1000 : 0,
    lifecycle,
    logger,
    cancelStuck: () => db.cancelRunning(),
    onClosed: async () => {
      stopLedgerChecks();
      stopPurge();
      stopHoldsSweeper();
      stopEventsPurge();
      await stopEvents();
      await stopTopups();
      await closeRedisClient(redis);
      await replica?.close();
      await db.close();
      await dev.embedded?.stop();
    },
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  logger.info({ port }, 'listening');
  if (dev.banner) process.stdout.write(dev.banner(`http://127.0.0.1:${port}`) + '\n');
}

main().catch((error) => {
  // A configuration problem is a clear one-line message naming the variable, not a stack.
  const message = error instanceof ConfigError ? error.message : `Startup failed: ${(error as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
