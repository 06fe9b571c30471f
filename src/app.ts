import cors from 'cors';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Services } from './composition';
import type { Config } from './platform/config';
import type { Logger } from './platform/logger';
import { createMetrics, type Metrics } from './platform/metrics';
import { authenticate } from './platform/auth/auth.middleware';
import type { TokenVerifier } from './platform/auth/token-verifier';
import { correlationId } from './platform/http/correlation-id';
import { requestLogger } from './platform/http/request-logger';
import { jsonBody } from './platform/http/json-body';
import { methodNotAllowed } from './platform/http/method-not-allowed';
import { rateLimits } from './platform/http/rate-limit';
import { corsOptions } from './platform/http/cors-options';
import type { RedisClient } from './platform/redis/redis-client';
import { errorHandler, notFoundHandler } from './platform/http/error-handler';
import { idempotency } from './platform/idempotency/idempotency.middleware';
import { openApiRoutes } from './platform/openapi/openapi.routes';
import { healthRoutes, type Lifecycle } from './modules/health/health.controller';
import { catalogRoutes } from './modules/catalog/catalog.controller';
import { usageRoutes } from './modules/usage/usage.controller';
import { balanceRoutes } from './modules/balance/balance.controller';
import { ledgerRoutes } from './modules/ledger/ledger.controller';
import { adjustmentsRoutes } from './modules/adjustments/adjustments.controller';
import { reportsRoutes } from './modules/reports/reports.controller';
import { purchasesRoutes } from './modules/purchases/purchases.controller';
import { stripeWebhookRoutes } from './modules/webhooks/webhooks.controller';
import { holdsRoutes } from './modules/holds/holds.controller';
import { usageSummaryRoutes } from './modules/usage-summary/usage-summary.controller';
import { settingsRoutes } from './modules/settings/settings.controller';
import { eventsAdminRoutes } from './modules/events/events.controller';
import { cardsRoutes } from './modules/cards/cards.controller';
import { topupsRoutes } from './modules/topups/topups.controller';

export interface AppDeps {
  config: Config;
  logger: Logger;
  verifier: TokenVerifier;
  /** Built once by buildServices (src/composition.ts), shared with the background jobs. */
  services: Services;
  /** The same registry the services were built with; absent: a fresh one. */
  metrics?: Metrics;
  lifecycle?: Lifecycle;
  /** Shared rate-limit counters (server.ts creates it from REDIS_URL); absent: in memory. */
  redis?: RedisClient;
  /** Internal, for tests: a short rate-limit window and a Redis key namespace of their own. */
  rateLimit?: { windowMs?: number; keyPrefix?: string };
}

/** Routes that need a bearer token; everything else is public (health, catalog, docs, Stripe's webhook). */
const AUTHENTICATED = ['/v1/balance', '/v1/usage', '/v1/ledger', '/v1/admin', '/v1/credits', '/v1/billing'];

/** Builds the Express app without listening: server.ts listens, tests pass their own dependencies. */
export function createApp(deps: AppDeps): Express {
  const { config, logger, verifier, services } = deps;
  const metrics = deps.metrics ?? createMetrics();
  const lifecycle = deps.lifecycle ?? { draining: false };
  const limits = rateLimits({
    perMinute: config.RATE_LIMIT_PER_MINUTE,
    servicePerMinute: config.SERVICE_RATE_LIMIT_PER_MINUTE,
    authenticatedPrefixes: AUTHENTICATED,
    metrics,
    logger,
    redis: deps.redis,
    ...deps.rateLimit,
  });

  const optionalKey = idempotency(services.idempotency, { required: false });
  const requiredKey = idempotency(services.idempotency, { required: true });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 1); // one ingress hop in front: req.ip is the client's address
  app.set('etag', false);
  app.use(correlationId(logger));
  app.use(requestLogger(metrics));
  app.use(helmet());
  app.use(cors(corsOptions(config.CORS_ORIGINS)));

  // Each module registers its routes on the app itself rather than on a Router mounted at '/': a
  // request then skips another module's route with one path match, where entering a mounted router
  // that has no match costs its dispatch plus a setImmediate hop on the way out (five of them for
  // every charge). Order is still the order below.
  healthRoutes(app, services.health, metrics, lifecycle);
  openApiRoutes(app);

  // Raw body before any JSON parsing: the Stripe signature covers the exact bytes.
  stripeWebhookRoutes(app, services.webhooks);
  app.use(limits.beforeAuth);
  app.use(jsonBody());
  catalogRoutes(app, services.catalog);
  app.use(AUTHENTICATED, authenticate(verifier, metrics), limits.afterAuth);
  app.use(AUTHENTICATED, limits.afterAuthFailure);
  balanceRoutes(app, services.balance);
  usageRoutes(app, services.usage, optionalKey);
  holdsRoutes(app, services.holds, optionalKey);
  ledgerRoutes(app, services.ledger);
  usageSummaryRoutes(app, services.usageSummary);
  settingsRoutes(app, services.settings);
  cardsRoutes(app, services.cards);
  topupsRoutes(app, services.topups);
  eventsAdminRoutes(app, services.events);
  adjustmentsRoutes(app, services.adjustments, requiredKey);
  reportsRoutes(app, services.reports, services.revenue);
  purchasesRoutes(app, services.purchases, optionalKey);

  app.use(methodNotAllowed());
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
