import cors from 'cors';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Config } from './platform/config';
import type { Database } from './platform/db/database';
import { ReadRouter } from './platform/db/read-router';
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
import { IdempotencyRepository } from './platform/idempotency/idempotency.repository';
import { openApiRoutes } from './platform/openapi/openapi.routes';
import { healthRoutes, type Lifecycle } from './modules/health/health.controller';
import { HealthRepository } from './modules/health/health.repository';
import { catalogRoutes } from './modules/catalog/catalog.controller';
import { CatalogRepository } from './modules/catalog/catalog.repository';
import { CatalogService } from './modules/catalog/catalog.service';
import { usageRoutes } from './modules/usage/usage.controller';
import { UsageRepository } from './modules/usage/usage.repository';
import { UsageService } from './modules/usage/usage.service';
import { balanceRoutes } from './modules/balance/balance.controller';
import { BalanceRepository } from './modules/balance/balance.repository';
import { BalanceService } from './modules/balance/balance.service';
import { ledgerRoutes } from './modules/ledger/ledger.controller';
import { LedgerRepository } from './modules/ledger/ledger.repository';
import { LedgerService } from './modules/ledger/ledger.service';
import { adjustmentsRoutes } from './modules/adjustments/adjustments.controller';
import { AdjustmentsService } from './modules/adjustments/adjustments.service';
import { WalletRepository } from './modules/wallet/wallet.repository';
import { reportsRoutes } from './modules/reports/reports.controller';
import { ReportsRepository } from './modules/reports/reports.repository';
import { ReportsService } from './modules/reports/reports.service';
import { revenueReport } from './modules/reports/revenue.factory';
import { createStripe, type Stripe } from './platform/stripe';
import { purchasesRoutes } from './modules/purchases/purchases.controller';
import { PurchasesService } from './modules/purchases/purchases.service';
import { PurchasesRepository } from './modules/purchases/purchases.repository';
import { CheckoutGateway } from './modules/purchases/purchases.checkout';
import { stripeWebhookRoutes } from './modules/webhooks/webhooks.controller';
import { WebhooksService } from './modules/webhooks/webhooks.service';
import { purchaseOfPaymentIntent } from './modules/webhooks/webhooks.payment-intents';
import { WebhooksRepository } from './modules/webhooks/webhooks.repository';
import { holdsRoutes } from './modules/holds/holds.controller';
import { HoldsRepository } from './modules/holds/holds.repository';
import { HoldsService } from './modules/holds/holds.service';
import { usageSummaryRoutes } from './modules/usage-summary/usage-summary.controller';
import { UsageSummaryRepository } from './modules/usage-summary/usage-summary.repository';
import { UsageSummaryService } from './modules/usage-summary/usage-summary.service';
import { settingsRoutes } from './modules/settings/settings.controller';
import { SettingsRepository } from './modules/settings/settings.repository';
import { SettingsService } from './modules/settings/settings.service';
import { eventsAdminRoutes } from './modules/events/events.controller';
import { EventsRepository } from './modules/events/events.repository';
import { EventsService } from './modules/events/events.service';

export interface AppDeps {
  config: Config;
  db: Database;
  logger: Logger;
  verifier: TokenVerifier;
  metrics?: Metrics;
  lifecycle?: Lifecycle;
  /** Shared with the scheduled ledger check that server.ts starts. */
  reports?: ReportsService;
  /** Where history, exports and reports read (server.ts adds the replica of DATABASE_READ_URL); absent: the primary. */
  reads?: ReadRouter;
  /** Built from config when absent (and STRIPE_SECRET_KEY is set); tests pass one aimed at the double. */
  stripe?: Stripe;
  /** Shared rate-limit counters (server.ts creates it from REDIS_URL); absent: in memory. */
  redis?: RedisClient;
  /** Internal, for tests: a short rate-limit window and a Redis key namespace of their own. */
  rateLimit?: { windowMs?: number; keyPrefix?: string };
}

/** Routes that need a bearer token; everything else is public (health, catalog, docs, Stripe's webhook). */
const AUTHENTICATED = ['/v1/balance', '/v1/usage', '/v1/ledger', '/v1/admin', '/v1/credits', '/v1/billing'];

/** Builds the Express app without listening: server.ts listens, tests pass their own dependencies. */
export function createApp(deps: AppDeps): Express {
  const { config, db, logger, verifier } = deps;
  const metrics = deps.metrics ?? createMetrics();
  const lifecycle = deps.lifecycle ?? { draining: false };
  metrics.observePool(db.pool);
  const reads = deps.reads ?? new ReadRouter(db, undefined, metrics, logger);
  const limits = rateLimits({
    perMinute: config.RATE_LIMIT_PER_MINUTE,
    servicePerMinute: config.SERVICE_RATE_LIMIT_PER_MINUTE,
    authenticatedPrefixes: AUTHENTICATED,
    metrics,
    logger,
    redis: deps.redis,
    ...deps.rateLimit,
  });

  const catalog = new CatalogService(new CatalogRepository(db));
  const wallets = new WalletRepository(db, metrics);
  const idempotencyStore = new IdempotencyRepository(db);
  const optionalKey = idempotency(idempotencyStore, { required: false });
  const requiredKey = idempotency(idempotencyStore, { required: true });
  const stripe = deps.stripe ?? createStripe(config);

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
  healthRoutes(app, new HealthRepository(db), metrics, lifecycle);
  openApiRoutes(app);

  // Raw body before any JSON parsing: the Stripe signature covers the exact bytes.
  stripeWebhookRoutes(app, new WebhooksService(new WebhooksRepository(db, wallets), config.STRIPE_WEBHOOK_SECRET, metrics, stripe && purchaseOfPaymentIntent(stripe)));
  app.use(limits.beforeAuth);
  app.use(jsonBody());
  catalogRoutes(app, catalog);
  app.use(AUTHENTICATED, authenticate(verifier, metrics), limits.afterAuth);
  app.use(AUTHENTICATED, limits.afterAuthFailure);
  balanceRoutes(app, new BalanceService(new BalanceRepository(db)));
  usageRoutes(app, new UsageService(new UsageRepository(db, metrics), catalog, metrics), optionalKey);
  holdsRoutes(app, new HoldsService(new HoldsRepository(db, metrics), catalog, metrics), optionalKey);
  ledgerRoutes(app, new LedgerService(reads.routed((d) => new LedgerRepository(d))));
  usageSummaryRoutes(app, new UsageSummaryService(new UsageSummaryRepository(db)));
  settingsRoutes(app, new SettingsService(new SettingsRepository(db)));
  eventsAdminRoutes(app, new EventsService(new EventsRepository(db)));
  adjustmentsRoutes(app, new AdjustmentsService(wallets), requiredKey);
  reportsRoutes(app, deps.reports ?? new ReportsService(reads.routed((d) => new ReportsRepository(d)), metrics), revenueReport(db, stripe, undefined, reads));
  const checkoutUrls = { success: config.CHECKOUT_SUCCESS_URL, cancel: config.CHECKOUT_CANCEL_URL };
  purchasesRoutes(app, new PurchasesService(new PurchasesRepository(db), stripe && new CheckoutGateway(stripe), checkoutUrls), optionalKey);

  app.use(methodNotAllowed());
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
