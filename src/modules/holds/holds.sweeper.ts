import type { Logger } from '../../platform/logger';
import type { Metrics } from '../../platform/metrics';
import type { HoldsRepository } from './holds.repository';

export const HOLDS_SWEEP_INTERVAL_MS = 15_000;

/**
 * Reporting only: notes holds that expired unsettled (billing_holds_total{outcome="expired"})
 * and refreshes the hold gauges. Availability never waits for it: an expired hold stops
 * counting by its expires_at alone, so this may run late, twice, or on every replica.
 */
export class HoldsSweeper {
  constructor(
    private readonly repo: HoldsRepository,
    private readonly metrics: Metrics,
  ) {}

  async runOnce() {
    const row = await this.repo.sweep();
    // Prometheus values are floats; these are observability, never the books.
    const newlyExpired = Number(row.newlyExpired);
    if (newlyExpired > 0) this.metrics.holdsEnded.inc({ outcome: 'expired' }, newlyExpired);
    this.metrics.holdsActive.set(Number(row.active));
    this.metrics.holdsHeldCredits.set(Number(row.held));
    this.metrics.holdsExpiredUnsettled.set(Number(row.expiredUnsettled));
    return row;
  }
}

/** Started by server.ts, not by createApp: tests build many apps and call runOnce() directly. */
export function startHoldsSweeper(
  sweeper: HoldsSweeper,
  logger: Logger,
  intervalMs = HOLDS_SWEEP_INTERVAL_MS,
): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return; // a slow database must not stack sweeps
    running = true;
    sweeper
      .runOnce()
      .catch((error) => logger.warn({ err: error }, 'holds sweep failed'))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
