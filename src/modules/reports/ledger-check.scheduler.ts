import type { Logger } from '../../platform/logger';
import type { LedgerClosings } from './ledger-closings.service';
import type { ReportsService } from './reports.service';

/**
 * Runs the trial balance on a schedule inside the service (default hourly), so the
 * billing_ledger_invariants_ok gauge an alert watches is fresh without anyone asking. It reads
 * through the reports' ReadRouter (on the replica when one is configured and fresh) and checks
 * only what came after the newest closed period; when the books hold, it closes the days that are
 * due (on the primary), so the next run starts later. Books that do not hold are never closed.
 */
export function startLedgerChecks(
  reports: ReportsService,
  closings: LedgerClosings,
  intervalSeconds: number,
  logger: Logger,
): () => void {
  if (intervalSeconds <= 0) return () => undefined;
  const run = async () => {
    try {
      const { value: report } = await reports.credits({ from: new Date(Date.now() - 3600_000), to: new Date() });
      if (!report.ok) {
        logger.error(
          { invariants: report.invariants.filter((i) => !i.ok), checkedFrom: report.checkedFrom },
          'ledger invariant failed',
        );
        return;
      }
      const closed = await closings.closeDuePeriods();
      if (closed.length)
        logger.info({ periods: closed.length, through: closed[closed.length - 1] }, 'ledger periods closed');
    } catch (error) {
      logger.error({ err: error }, 'ledger check could not run');
    }
  };
  const timer = setInterval(run, intervalSeconds * 1000);
  timer.unref();
  void run();
  return () => clearInterval(timer);
}
