import { parseArgs } from 'node:util';
import { parseConfig } from '../src/platform/config';
import { createDatabase } from '../src/platform/db/database';
import { AppError } from '../src/platform/errors';
import { parseInput } from '../src/platform/http/validate';
import { withSecrets } from '../src/platform/secrets';
import { createStripe } from '../src/platform/stripe';
import { PeriodQuery } from '../src/modules/reports/reports.schemas';
import { resolvePeriod } from '../src/modules/reports/reports.service';
import { revenueReport } from '../src/modules/reports/revenue.factory';
import { revenueTable } from '../src/modules/reports/revenue.table';

/**
 * npm run report:revenue [-- --from ISO --to ISO] [--json]
 * Exit 0: Stripe and the ledger agree. Exit 1: at least one discrepancy (for cron and the
 * go-live script to alert on). Exit 2: the report could not run (configuration, Stripe, database).
 */
async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { from: { type: 'string' }, to: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const config = parseConfig(await withSecrets(process.env));
  if (!config.DATABASE_URL) throw new Error('DATABASE_URL is required');
  const stripe = createStripe(config);
  if (!stripe) throw new Error('STRIPE_SECRET_KEY is required');
  const period = resolvePeriod(parseInput(PeriodQuery, { from: values.from, to: values.to }, 'query'));
  const db = createDatabase(config.DATABASE_URL, { min: 0, max: 2 });
  try {
    const report = await revenueReport(db, stripe).revenue(period);
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : revenueTable(report));
    return report.ok ? 0 : 1;
  } finally {
    await db.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    const issues =
      error instanceof AppError && Array.isArray(error.extensions.errors)
        ? ` (${JSON.stringify(error.extensions.errors)})`
        : '';
    process.stderr.write(`report:revenue failed: ${(error as Error).message}${issues}\n`);
    process.exitCode = 2;
  },
);
