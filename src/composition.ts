import type { Config } from './platform/config';
import type { Database } from './platform/db/database';
import { ReadRouter } from './platform/db/read-router';
import type { Logger } from './platform/logger';
import type { Metrics } from './platform/metrics';
import { createStripe, type Stripe } from './platform/stripe';
import { IdempotencyRepository } from './platform/idempotency/idempotency.repository';
import { HealthRepository } from './modules/health/health.repository';
import { HealthService } from './modules/health/health.service';
import { CatalogRepository } from './modules/catalog/catalog.repository';
import { CatalogService } from './modules/catalog/catalog.service';
import { UsageRepository } from './modules/usage/usage.repository';
import { UsageService } from './modules/usage/usage.service';
import { BalanceRepository } from './modules/balance/balance.repository';
import { BalanceService } from './modules/balance/balance.service';
import { LedgerRepository } from './modules/ledger/ledger.repository';
import { LedgerService } from './modules/ledger/ledger.service';
import { AdjustmentsService } from './modules/adjustments/adjustments.service';
import { WalletRepository } from './modules/wallet/wallet.repository';
import { ReportsRepository } from './modules/reports/reports.repository';
import { ReportsService } from './modules/reports/reports.service';
import { revenueReport } from './modules/reports/revenue.factory';
import { LedgerClosingsRepository } from './modules/reports/ledger-closings.repository';
import { LedgerClosings } from './modules/reports/ledger-closings.service';
import type { RevenueReportService } from './modules/reports/revenue.service';
import { PurchasesService } from './modules/purchases/purchases.service';
import { PurchasesRepository } from './modules/purchases/purchases.repository';
import { CheckoutGateway } from './modules/purchases/purchases.checkout';
import { WebhooksService } from './modules/webhooks/webhooks.service';
import { purchaseOfPaymentIntent } from './modules/webhooks/webhooks.payment-intents';
import { WebhooksRepository } from './modules/webhooks/webhooks.repository';
import { HoldsRepository } from './modules/holds/holds.repository';
import { HoldsService } from './modules/holds/holds.service';
import { HoldsSweeper } from './modules/holds/holds.sweeper';
import { UsageSummaryRepository } from './modules/usage-summary/usage-summary.repository';
import { UsageSummaryService } from './modules/usage-summary/usage-summary.service';
import { SettingsRepository } from './modules/settings/settings.repository';
import { SettingsService } from './modules/settings/settings.service';
import { EventsRepository } from './modules/events/events.repository';
import { EventsService } from './modules/events/events.service';
import { CardsGateway } from './modules/cards/cards.gateway';
import { CardsRepository } from './modules/cards/cards.repository';
import { CardsService } from './modules/cards/cards.service';
import { TopupsRepository } from './modules/topups/topups.repository';
import { TopupOutcomes } from './modules/topups/topups.outcomes';
import { TopupsGateway } from './modules/topups/topups.gateway';
import { TopupAttempts } from './modules/topups/topups.service';
import { TopupWorker } from './modules/topups/topups.worker';
import { TopupsList } from './modules/topups/topups.list';

export interface ServiceDeps {
  config: Config;
  db: Database;
  metrics: Metrics;
  logger: Logger;
  /** Where history, exports, reports and the usage summary read; absent: the primary. */
  reads?: ReadRouter;
  /** Built from config when absent (and STRIPE_SECRET_KEY is set); tests pass one aimed at the double. */
  stripe?: Stripe;
}

/** Every service of the process, each built once: the app's routes and the background jobs share them. */
export interface Services {
  health: HealthService;
  idempotency: IdempotencyRepository;
  catalog: CatalogService;
  webhooks: WebhooksService;
  balance: BalanceService;
  usage: UsageService;
  holds: HoldsService;
  holdsSweeper: HoldsSweeper;
  ledger: LedgerService;
  adjustments: AdjustmentsService;
  reports: ReportsService;
  /** Closes checked days of the ledger, on the primary (the scheduled check's second half). */
  closings: LedgerClosings;
  revenue: RevenueReportService;
  purchases: PurchasesService;
  usageSummary: UsageSummaryService;
  settings: SettingsService;
  events: EventsService;
  /** The outbox, shared by the admin routes, the dispatcher and the purge. */
  eventsRepository: EventsRepository;
  cards: CardsService;
  topups: TopupsList;
  /** Sends auto top-up attempts to Stripe; absent without a Stripe key (attempts then wait, pending). */
  topupWorker?: TopupWorker;
}

/** The composition root: server.ts, the tests and the scripts build the services here and nowhere else. */
export function buildServices(deps: ServiceDeps): Services {
  const { config, db, metrics, logger } = deps;
  metrics.observePool(db.pool);
  const reads = deps.reads ?? new ReadRouter(db, undefined, metrics, logger);
  const stripe = deps.stripe ?? createStripe(config);
  const catalog = new CatalogService(new CatalogRepository(db));
  const wallets = new WalletRepository(db, metrics);
  const holdsRepository = new HoldsRepository(db, metrics);
  const checkoutUrls = { success: config.CHECKOUT_SUCCESS_URL, cancel: config.CHECKOUT_CANCEL_URL };
  const eventsRepository = new EventsRepository(db);
  const cardsGateway = stripe && new CardsGateway(stripe);
  const cards = new CardsService(new CardsRepository(db), cardsGateway, config.CARD_SETUP_RETURN_URL);
  const purchases = new PurchasesService(
    new PurchasesRepository(db),
    stripe && new CheckoutGateway(stripe),
    checkoutUrls,
    cards,
  );
  const topupsRepository = new TopupsRepository(db);
  const topupOutcomes = new TopupOutcomes(db, wallets, config.AUTO_TOPUP_MAX_FAILURES);
  const topupWorker =
    stripe &&
    new TopupWorker(
      topupsRepository,
      new TopupAttempts(topupsRepository, new TopupsGateway(stripe), topupOutcomes, purchases, metrics, logger),
      metrics,
      logger,
      { leaseSeconds: config.AUTO_TOPUP_LEASE_SECONDS, batch: 10 },
    );
  return {
    health: new HealthService(new HealthRepository(db)),
    idempotency: new IdempotencyRepository(db),
    catalog,
    webhooks: new WebhooksService(new WebhooksRepository(db, wallets), config.STRIPE_WEBHOOK_SECRET, metrics, {
      paymentIntents: stripe && purchaseOfPaymentIntent(stripe),
      cards: cardsGateway,
      topups: topupOutcomes,
    }),
    balance: new BalanceService(new BalanceRepository(db)),
    usage: new UsageService(new UsageRepository(db, metrics), catalog, metrics),
    holds: new HoldsService(holdsRepository, catalog, metrics),
    holdsSweeper: new HoldsSweeper(holdsRepository, metrics),
    ledger: new LedgerService(reads.routed((d) => new LedgerRepository(d))),
    adjustments: new AdjustmentsService(wallets),
    reports: new ReportsService(
      reads.routed((d) => new ReportsRepository(d)),
      metrics,
    ),
    closings: new LedgerClosings(new LedgerClosingsRepository(db.pool)),
    revenue: revenueReport(db, stripe, undefined, reads),
    purchases,
    usageSummary: new UsageSummaryService(reads.routed((d) => new UsageSummaryRepository(d))),
    settings: new SettingsService(new SettingsRepository(db), config.AUTO_TOPUP_MIN_THRESHOLD_CREDITS),
    events: new EventsService(eventsRepository),
    eventsRepository,
    cards,
    topups: new TopupsList(topupsRepository),
    topupWorker,
  };
}
