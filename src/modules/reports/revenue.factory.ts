import type { Database } from '../../platform/db/database';
import type { Stripe } from '../../platform/stripe';
import { RevenueRepository } from './revenue.repository';
import { RevenueReportService } from './revenue.service';
import { StripeRevenueSource } from './revenue.stripe';

/** The revenue report as the app and the CLI build it; without Stripe it answers 503 stripe_not_configured. */
export function revenueReport(db: Database, stripe: Stripe | undefined, pageSize = 100): RevenueReportService {
  return new RevenueReportService(new RevenueRepository(db), stripe && new StripeRevenueSource(stripe, pageSize));
}
