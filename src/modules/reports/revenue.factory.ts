import Stripe from 'stripe';
import type { ReadDatabase } from '../../platform/db/read-replica';
import { ReadRouter } from '../../platform/db/read-router';
import { AppError } from '../../platform/errors';
import { RevenueRepository } from './revenue.repository';
import { RevenueReportService } from './revenue.service';
import { StripeRevenueSource } from './revenue.stripe';

// Stripe failing is not the replica failing: repeating the walk on the primary would only ask Stripe twice.
const databaseFault = (error: unknown) => !(error instanceof AppError) && !(error instanceof Stripe.errors.StripeError);

/**
 * The revenue report as the app and the CLI build it; without Stripe it answers 503 stripe_not_configured.
 * Its ledger side is read through `reads` (the replica when the app has a fresh one).
 */
export function revenueReport(
  db: ReadDatabase,
  stripe: Stripe | undefined,
  pageSize = 100,
  reads = new ReadRouter(db),
): RevenueReportService {
  const repo = reads.routed((d) => new RevenueRepository(d), { retryOnPrimary: databaseFault });
  return new RevenueReportService(repo, stripe && new StripeRevenueSource(stripe, pageSize));
}
